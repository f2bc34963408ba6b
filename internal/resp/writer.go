package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// AppendSimple appends the simple string reply "+s\r\n" to b. CR and LF
// bytes in s, which cannot be represented, are replaced with spaces.
func AppendSimple(b []byte, s string) []byte {
	b = append(b, '+')
	b = appendLine(b, s)
	return append(b, '\r', '\n')
}

// AppendError appends the error reply "-msg\r\n" to b; msg should start with
// an error code such as "ERR". CR and LF bytes in msg are replaced with
// spaces.
func AppendError(b []byte, msg string) []byte {
	b = append(b, '-')
	b = appendLine(b, msg)
	return append(b, '\r', '\n')
}

func appendLine(b []byte, s string) []byte {
	if strings.IndexByte(s, '\r') < 0 && strings.IndexByte(s, '\n') < 0 {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// AppendInt appends the integer reply ":n\r\n" to b.
func AppendInt(b []byte, n int64) []byte {
	b = append(b, ':')
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\r', '\n')
}

// AppendBulk appends p as a bulk string reply to b. A nil p is sent as an
// empty bulk string; use [AppendNull] for the null reply.
func AppendBulk(b []byte, p []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(p)), 10)
	b = append(b, '\r', '\n')
	b = append(b, p...)
	return append(b, '\r', '\n')
}

// AppendBulkString appends s as a bulk string reply to b.
func AppendBulkString(b []byte, s string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendNull appends the null bulk string reply "$-1\r\n" to b.
func AppendNull(b []byte) []byte {
	return append(b, "$-1\r\n"...)
}

// AppendNullArray appends the null array reply "*-1\r\n" to b.
func AppendNullArray(b []byte) []byte {
	return append(b, "*-1\r\n"...)
}

// AppendArrayHeader appends the header of an array reply of n elements to
// b; the n elements must follow. A negative n appends the null array.
func AppendArrayHeader(b []byte, n int) []byte {
	if n < 0 {
		return AppendNullArray(b)
	}
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// Value is a reply read by [ReadReply].
type Value struct {
	Kind  byte    // '+', '-', ':', '$' or '*'
	Str   []byte  // text of '+' and '-' (without the type byte), data of '$'
	Int   int64   // value of ':'
	Array []Value // elements of '*'
	Null  bool    // "$-1" or "*-1"
}

// String formats v on one line, in the style of redis-cli: simple strings
// as is, "(error) msg", "(integer) n", bulk strings quoted, "(nil)", and
// arrays as "[a b c]".
func (v Value) String() string {
	var sb strings.Builder
	v.format(&sb)
	return sb.String()
}

func (v Value) format(sb *strings.Builder) {
	switch {
	case v.Null:
		sb.WriteString("(nil)")
	case v.Kind == '+':
		sb.Write(v.Str)
	case v.Kind == '-':
		sb.WriteString("(error) ")
		sb.Write(v.Str)
	case v.Kind == ':':
		sb.WriteString("(integer) ")
		sb.WriteString(strconv.FormatInt(v.Int, 10))
	case v.Kind == '$':
		sb.WriteString(strconv.Quote(string(v.Str)))
	case v.Kind == '*':
		sb.WriteByte('[')
		for i, e := range v.Array {
			if i > 0 {
				sb.WriteByte(' ')
			}
			e.format(sb)
		}
		sb.WriteByte(']')
	default:
		sb.WriteString("(invalid)")
	}
}

// Limits of ReadReply.
const (
	replyMaxBulk  = 512 << 20 // like redis's proto-max-bulk-len
	replyMaxArray = 1 << 20
	replyMaxDepth = 32
	replyChunk    = 512 << 10 // bulk data is read in growing chunks from here
)

// ReadReply reads one reply from br. It is meant for tests and tools. A
// malformed reply yields a [*ProtocolError]; io.EOF is returned only if br
// ends before the reply starts, io.ErrUnexpectedEOF if it ends within it.
// Memory is allocated only in proportion to the data actually read, and
// lines must fit in br's buffer.
func ReadReply(br *bufio.Reader) (Value, error) {
	return readReply(br, 0)
}

func readReply(br *bufio.Reader, depth int) (Value, error) {
	line, err := readReplyLine(br, depth)
	if err != nil {
		return Value{}, err
	}
	kind := line[0]
	rest := line[1:]
	switch kind {
	case '+', '-':
		if bytes.IndexByte(rest, '\r') >= 0 {
			return Value{}, &ProtocolError{"CR inside a status line"}
		}
		return Value{Kind: kind, Str: bytes.Clone(rest)}, nil
	case ':':
		n, err := strconv.ParseInt(string(rest), 10, 64)
		if err != nil {
			return Value{}, &ProtocolError{"invalid integer"}
		}
		return Value{Kind: kind, Int: n}, nil
	case '$':
		n, err := strconv.ParseInt(string(rest), 10, 64)
		if err != nil || n < -1 || n > replyMaxBulk {
			return Value{}, errInvalidBulk
		}
		if n == -1 {
			return Value{Kind: kind, Null: true}, nil
		}
		data, err := readBulkData(br, int(n))
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: kind, Str: data}, nil
	case '*':
		n, err := strconv.ParseInt(string(rest), 10, 64)
		if err != nil || n < -1 || n > replyMaxArray {
			return Value{}, errInvalidMultibulk
		}
		if n == -1 {
			return Value{Kind: kind, Null: true}, nil
		}
		if depth >= replyMaxDepth {
			return Value{}, &ProtocolError{"arrays nested too deep"}
		}
		arr := make([]Value, 0, min(n, 1024))
		for range n {
			e, err := readReply(br, depth+1)
			if err != nil {
				return Value{}, err
			}
			arr = append(arr, e)
		}
		return Value{Kind: kind, Array: arr}, nil
	}
	return Value{}, &ProtocolError{"unknown reply type '" + quoteByte(kind) + "'"}
}

// readReplyLine reads a line and returns it without its CRLF; it is never
// empty. depth > 0 means the line is not the start of the reply.
func readReplyLine(br *bufio.Reader, depth int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, &ProtocolError{"reply line too long"}
		case err == io.EOF:
			if len(line) == 0 && depth == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("resp: read: %w", err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errMissingCRLF
	}
	line = line[:len(line)-2]
	if len(line) == 0 {
		return nil, &ProtocolError{"empty reply line"}
	}
	return line, nil
}

// readBulkData reads n bytes of data and the CRLF after them, growing the
// destination as the data arrives so that a bogus length costs nothing.
func readBulkData(br *bufio.Reader, n int) ([]byte, error) {
	total := n + 2
	buf := make([]byte, min(total, replyChunk))
	got := 0
	for {
		m, err := io.ReadFull(br, buf[got:])
		got += m
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("resp: read: %w", err)
		}
		if got == total {
			break
		}
		nb := make([]byte, min(total, 2*len(buf)))
		copy(nb, buf[:got])
		buf = nb
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return nil, errMissingCRLF
	}
	return buf[:n:n], nil
}
