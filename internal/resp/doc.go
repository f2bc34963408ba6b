// Package resp implements the subset of the Redis serialization protocol
// (RESP2) spoken by zdb, the 0-db compatible key/value daemon.
//
// The server side reads client commands with a [Reader], which parses
// RESP arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n") and
// telnet-style inline commands ("GET key\r\n") straight out of its own
// buffer. In steady state ReadCommand does not allocate: the returned
// arguments alias the buffer and are only valid until the next call.
// Malformed input yields a [*ProtocolError]; the server is expected to send
// "-ERR " + err.Error() and close the connection. Lengths are validated
// against [Limits] before any memory is reserved for them.
//
// Replies are built with the append-style encoders in writer.go
// ([AppendSimple], [AppendError], [AppendInt], [AppendBulk], ...), which
// write into a caller-owned []byte so that pipelined replies can be batched
// and flushed once (see [Reader.BeforeFill]).
//
// [ReadReply] is a small, defensive client-side reply parser meant for
// tests, benchmarks and tools; it is not used on the server's hot path.
package resp
