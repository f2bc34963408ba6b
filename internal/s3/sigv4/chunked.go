package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Bounds on what a client can make the decoder hold. A signed chunk must
// be held whole until its signature is checked; the clients send 8 KiB to
// 1 MiB chunks, so 16 MiB leaves room without letting a made-up chunk
// size cost much memory (and the buffer only grows as data arrives).
// Unsigned chunks are streamed and need no bound: the Go SDK sends a
// whole object as one chunk.
const (
	maxChunkLine    = 4096     // a chunk header or trailer line
	maxSignedChunk  = 16 << 20 // a signed chunk's data
	maxTrailerBytes = 16 << 10 // all trailer lines together
	maxTrailers     = 16       // headers named in x-amz-trailer

	trailerSignatureName = "x-amz-trailer-signature"
)

// chunkSigner holds the chain of chunk signatures of a signed stream: each
// chunk signs its data and the previous signature, the first the request's.
type chunkSigner struct {
	key       []byte
	timestamp string
	scope     string
	prev      string // hex signature the next chunk chains from
}

// verifyChunk checks the signature of a chunk's data and, when it is
// right, moves the chain on to it.
func (s *chunkSigner) verifyChunk(data, sig []byte) bool {
	sum := sha256.Sum256(data)
	want := hmacSHA256(s.key, "AWS4-HMAC-SHA256-PAYLOAD\n"+s.timestamp+"\n"+s.scope+"\n"+s.prev+"\n"+emptySHA256+"\n"+hex.EncodeToString(sum[:]))
	if !hmac.Equal(want, sig) {
		return false
	}
	s.prev = hex.EncodeToString(want)
	return true
}

// verifyTrailer checks the signature of the trailer headers, given as
// "name:value\n" lines in the order sent.
func (s *chunkSigner) verifyTrailer(canon, sig []byte) bool {
	sum := sha256.Sum256(canon)
	want := hmacSHA256(s.key, "AWS4-HMAC-SHA256-TRAILER\n"+s.timestamp+"\n"+s.scope+"\n"+s.prev+"\n"+hex.EncodeToString(sum[:]))
	return hmac.Equal(want, sig)
}

// chunkedReader decodes an aws-chunked body:
//
//	<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
//
// then either \r\n, or (with trailers) "name:value\r\n" lines, for signed
// trailers an "x-amz-trailer-signature:<sig>\r\n" line, and \r\n.
//
// Signed chunks are read whole and verified before any of their bytes is
// returned, so the caller never sees data that was not signed. Unsigned
// chunks are passed through as they arrive; their checksum is checked at
// the end.
type chunkedReader struct {
	src    *bufio.Reader
	body   io.Closer
	signer *chunkSigner // nil for unsigned chunks

	trailer  bool              // trailer headers follow the final chunk
	declared []string          // x-amz-trailer, lower case
	sums     []runningChecksum // checksums of declared trailers we can compute
	out      http.Header       // receives the trailers (the request's Trailer)

	want int64 // x-amz-decoded-content-length, -1 when unknown
	n    int64 // decoded bytes announced by the chunk headers so far

	buf      []byte // signed: the current verified chunk
	off      int    // signed: how much of buf was returned
	left     int64  // unsigned: bytes of the current chunk not yet read
	needCRLF bool   // unsigned: the current chunk's closing CRLF is unread
	err      error  // sticky; io.EOF after the last chunk and trailer
}

// newChunkedReader decodes body. signer is nil for unsigned chunks;
// trailer says whether trailer headers follow the final chunk, names are
// those declared by x-amz-trailer, and out receives them; want is the
// decoded length, or -1.
func newChunkedReader(body io.ReadCloser, signer *chunkSigner, trailer bool, names []string, want int64, out http.Header) *chunkedReader {
	c := &chunkedReader{
		src:      bufio.NewReaderSize(body, maxChunkLine),
		body:     body,
		signer:   signer,
		trailer:  trailer,
		declared: names,
		out:      out,
		want:     want,
	}
	for _, n := range names {
		if alg := checksumByHeader(n); alg != nil {
			c.sums = append(c.sums, runningChecksum{alg: alg, h: alg.new()})
		}
	}
	return c
}

func (c *chunkedReader) Close() error { return c.body.Close() }

func (c *chunkedReader) Read(p []byte) (int, error) {
	for {
		if c.off < len(c.buf) {
			n := copy(p, c.buf[c.off:])
			c.off += n
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if c.left > 0 {
			return c.readUnsigned(p)
		}
		c.err = c.next()
	}
}

// readUnsigned passes through bytes of the current unsigned chunk.
func (c *chunkedReader) readUnsigned(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.src.Read(p)
	c.left -= int64(n)
	for _, s := range c.sums {
		s.h.Write(p[:n])
	}
	if err != nil {
		c.err = bodyErr(err, "inside a chunk's data")
	}
	if n > 0 {
		return n, nil
	}
	return 0, c.err
}

// next reads the next chunk's header (and a signed chunk's data), or
// after the final chunk the trailer; it returns io.EOF at the end.
func (c *chunkedReader) next() error {
	if c.needCRLF {
		if err := c.readCRLF(); err != nil {
			return err
		}
		c.needCRLF = false
	}
	line, err := c.readLine()
	if err != nil {
		return bodyErr(err, "before the final chunk")
	}
	size, sig, perr := parseChunkHeader(line, c.signer != nil)
	if perr != nil {
		return perr
	}
	if c.want >= 0 && size > c.want-c.n {
		return errMalformedChunk("the chunks hold more than x-amz-decoded-content-length bytes")
	}
	c.n += size
	if c.signer == nil {
		c.left, c.needCRLF = size, size > 0
	} else {
		if size > maxSignedChunk {
			return errMalformedChunk("a signed chunk is larger than 16 MiB")
		}
		if err := c.readChunkData(size); err != nil {
			return err
		}
		if size > 0 {
			if err := c.readCRLF(); err != nil {
				return err
			}
		}
		if !c.signer.verifyChunk(c.buf, sig) {
			c.buf = c.buf[:0]
			return errSignatureMismatch()
		}
		c.off = 0
		for _, s := range c.sums {
			s.h.Write(c.buf)
		}
	}
	if size == 0 {
		return c.finish()
	}
	return nil
}

// readChunkData reads a signed chunk's data into c.buf, growing it as the
// data arrives rather than trusting the size up front.
func (c *chunkedReader) readChunkData(size int64) error {
	c.buf = c.buf[:0]
	for int64(len(c.buf)) < size {
		if len(c.buf) == cap(c.buf) {
			newCap := int64(max(2*cap(c.buf), 32<<10))
			newCap = min(newCap, size)
			nb := make([]byte, len(c.buf), newCap)
			copy(nb, c.buf)
			c.buf = nb
		}
		end := min(int64(cap(c.buf)), size)
		n, err := c.src.Read(c.buf[len(c.buf):end])
		c.buf = c.buf[:len(c.buf)+n]
		if err != nil && int64(len(c.buf)) < size {
			c.buf = c.buf[:0]
			return bodyErr(err, "inside a chunk's data")
		}
	}
	return nil
}

// finish reads what follows the final chunk and checks the totals.
func (c *chunkedReader) finish() error {
	if c.want >= 0 && c.n != c.want {
		return errIncompleteBody("the chunks hold fewer bytes than x-amz-decoded-content-length")
	}
	if c.trailer {
		if err := c.readTrailer(); err != nil {
			return err
		}
	} else {
		// The final chunk's empty data is closed by a CRLF; a body that
		// stops right after the signed final chunk has lost nothing.
		line, err := c.readLine()
		if err != nil && err != io.EOF {
			return bodyErr(err, "after the final chunk")
		}
		if line != "" {
			return errMalformedChunk("data after the final chunk")
		}
	}
	return c.drain()
}

// drain reads the little that may follow the end of the aws-chunked
// stream (minio-go sends an extra CRLF), so that net/http's body reaches
// its end while the handler runs, as it expects of a body read to its end.
// More than a line of it is not a stray line end but data that does not
// belong to the object.
func (c *chunkedReader) drain() error {
	_, err := io.CopyN(io.Discard, c.src, maxChunkLine)
	switch err {
	case nil:
		return errMalformedChunk("data after the final chunk")
	case io.EOF:
		return io.EOF
	}
	return err
}

// readTrailer reads the trailer headers, checks the trailer signature and
// the checksums, and hands the headers to c.out.
//
// Clients differ in the blank lines they put there: the AWS SDKs send
// "name:value\r\n" then "\r\n" (after the signature line when signed),
// minio-go ends trailer lines with a bare "\n" and puts a "\r\n" before
// the signature line. So blank lines are skipped until every declared
// trailer (and the signature, when signed) has been seen; the next blank
// line or the end of the body closes the trailer.
func (c *chunkedReader) readTrailer() error {
	var (
		canon  bytes.Buffer // the trailers as signed: "name:value\n"
		values = make(map[string]string, len(c.declared))
		sig    []byte
		gotSig bool
		total  int
	)
	complete := func() bool {
		return len(values) == len(c.declared) && (c.signer == nil || gotSig)
	}
	for {
		line, err := c.readLine()
		if err == io.EOF {
			if complete() {
				break
			}
			return errIncompleteBody("the body ends before its trailer")
		}
		if err != nil {
			return bodyErr(err, "inside the trailer")
		}
		total += len(line) + 2
		if total > maxTrailerBytes {
			return errMalformedTrailer("the trailer is longer than 16 KiB")
		}
		if line == "" {
			if complete() {
				break
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return errMalformedTrailer("a trailer line has no colon")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if name == trailerSignatureName {
			if c.signer == nil {
				return errMalformedTrailer("an unsigned trailer carries x-amz-trailer-signature")
			}
			if gotSig {
				return errMalformedTrailer("x-amz-trailer-signature is repeated")
			}
			gotSig = true
			if sig = parseSignature(value); sig == nil {
				return errSignatureMismatch()
			}
			continue
		}
		if gotSig {
			return errMalformedTrailer("a trailer header follows x-amz-trailer-signature")
		}
		if !declared(c.declared, name) {
			return errMalformedTrailer("the trailer header \"" + clip(name) + "\" is not named in x-amz-trailer")
		}
		if _, dup := values[name]; dup {
			return errMalformedTrailer("the trailer header \"" + clip(name) + "\" is repeated")
		}
		values[name] = value
		canon.WriteString(line)
		canon.WriteByte('\n')
	}
	if c.signer != nil && !c.signer.verifyTrailer(canon.Bytes(), sig) {
		return errSignatureMismatch()
	}
	for _, s := range c.sums {
		want := s.alg.decode(values[s.alg.header])
		if want == nil {
			return errBadChecksumValue(s.alg, "trailing header")
		}
		if !bytes.Equal(s.h.Sum(nil), want) {
			return errBadDigest(s.alg.name)
		}
	}
	if c.out != nil {
		for name, v := range values {
			c.out.Set(name, v)
		}
	}
	return nil
}

func declared(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// readLine reads a line of framing without its line end ("\r\n", or a
// bare "\n" as some clients end trailer lines). It returns io.EOF only at
// the very end of the body.
func (c *chunkedReader) readLine() (string, error) {
	line, err := c.src.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return "", errMalformedChunk("a chunk header or trailer line is longer than 4 KiB")
	case err == io.EOF && len(line) == 0:
		return "", io.EOF
	case err == io.EOF:
		return "", errIncompleteBody("the body ends inside a chunk header or trailer line")
	case err != nil:
		return "", err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return string(line), nil
}

// readCRLF reads the CRLF that closes a chunk's data.
func (c *chunkedReader) readCRLF() error {
	var b [2]byte
	if _, err := io.ReadFull(c.src, b[:]); err != nil {
		return bodyErr(err, "after a chunk's data")
	}
	if b != [2]byte{'\r', '\n'} {
		return errMalformedChunk("a chunk's data is not followed by CRLF (is the chunk size right?)")
	}
	return nil
}

// parseChunkHeader parses "<hex size>[;ext...]". In a signed stream the
// chunk-signature extension is required; unsigned streams ignore
// extensions.
func parseChunkHeader(line string, signed bool) (int64, []byte, *Error) {
	sizeStr, ext, _ := strings.Cut(line, ";")
	sizeStr = strings.TrimRight(sizeStr, " \t")
	if sizeStr == "" || len(sizeStr) > 16 {
		return 0, nil, errMalformedChunk("invalid chunk size")
	}
	for i := 0; i < len(sizeStr); i++ {
		if !isHex(sizeStr[i]) {
			return 0, nil, errMalformedChunk("invalid chunk size")
		}
	}
	size, err := strconv.ParseInt(sizeStr, 16, 64)
	if err != nil {
		return 0, nil, errMalformedChunk("invalid chunk size")
	}
	if !signed {
		return size, nil, nil
	}
	var sig []byte
	for _, e := range strings.Split(ext, ";") {
		k, v, _ := strings.Cut(e, "=")
		if strings.TrimSpace(k) != "chunk-signature" {
			continue
		}
		if sig != nil {
			return 0, nil, errMalformedChunk("chunk-signature is repeated")
		}
		if sig = parseSignature(strings.TrimSpace(v)); sig == nil {
			return 0, nil, errSignatureMismatch()
		}
	}
	if sig == nil {
		return 0, nil, errSignatureMismatch()
	}
	return size, sig, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// bodyErr turns the end of the underlying body inside the framing into
// IncompleteBody; other errors (a dropped connection, a size limit of the
// server) are returned as they are for the caller to judge.
func bodyErr(err error, where string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errIncompleteBody("the body ends " + where)
	}
	return err
}
