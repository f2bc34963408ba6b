package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Default limits, used for the zero fields of [Limits].
const (
	// DefaultMaxArgs is the default maximum number of arguments of a command.
	DefaultMaxArgs = 1024 + 2
	// DefaultMaxBulk is the default maximum length of one bulk string
	// (an 8 MiB value plus some room).
	DefaultMaxBulk = 8<<20 + 1<<10
	// DefaultMaxInline is the default maximum length of an inline command
	// line, without its line terminator.
	DefaultMaxInline = 64 << 10
	// DefaultBufferSize is the size of the read buffer a Reader keeps when it
	// is not in the middle of a command larger than that.
	DefaultBufferSize = 64 << 10
)

// Limits bounds what a [Reader] accepts from a client. A zero field means
// the corresponding default.
type Limits struct {
	MaxArgs   int // arguments per command; default DefaultMaxArgs
	MaxBulk   int // bytes per bulk string; default DefaultMaxBulk
	MaxInline int // bytes per inline command line; default DefaultMaxInline

	// MaxCommand bounds the encoded size of a whole RESP array command, and
	// so the memory a Reader may hold for a single client. The default is
	// 4*MaxBulk (about 32 MiB with the default MaxBulk).
	MaxCommand int
}

func (l Limits) withDefaults() Limits {
	if l.MaxArgs <= 0 {
		l.MaxArgs = DefaultMaxArgs
	}
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultMaxBulk
	}
	if l.MaxInline <= 0 {
		l.MaxInline = DefaultMaxInline
	}
	if l.MaxCommand <= 0 {
		l.MaxCommand = 4 * l.MaxBulk
		if l.MaxCommand < l.MaxBulk { // overflow
			l.MaxCommand = l.MaxBulk
		}
	}
	return l
}

// ProtocolError reports a client that does not speak RESP properly. The
// connection cannot be resynchronised after one: reply with
// "-ERR " + err.Error() and close it.
type ProtocolError struct {
	Msg string // short description, such as "invalid bulk length"
}

// Error returns "Protocol error: " followed by the message, the text redis
// sends after "-ERR ".
func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// IsProtocolError reports whether err is, or wraps, a [*ProtocolError].
func IsProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

// ErrEmptyCommand is returned for an empty array (*0): a command with no
// name, which the server answers with an error before reading on.
var ErrEmptyCommand = errors.New("resp: empty command")

var (
	errInvalidMultibulk = &ProtocolError{"invalid multibulk length"}
	errInvalidBulk      = &ProtocolError{"invalid bulk length"}
	errTooManyArgs      = &ProtocolError{"too many arguments"}
	errBulkTooLarge     = &ProtocolError{"bulk too large"}
	errCommandTooLarge  = &ProtocolError{"command too large"}
	errInlineTooLong    = &ProtocolError{"inline command too long"}
	errMissingCRLF      = &ProtocolError{"unbalanced/missing CRLF"}
)

func errExpectedDollar(c byte) error {
	return &ProtocolError{"expected '$', got '" + quoteByte(c) + "'"}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f && c != '\'' && c != '\\' {
		return string(rune(c))
	}
	const hex = "0123456789abcdef"
	return string([]byte{'\\', 'x', hex[c>>4], hex[c&15]})
}

// maxEmptyReads is how many (0, nil) results from the underlying reader
// are tolerated in a row before giving up with io.ErrNoProgress.
const maxEmptyReads = 100

// minReadRoom: if less than this is free at the end of the buffer, the
// partial command is moved to the front before reading.
const minReadRoom = 4 << 10

// growSlack is added to the size of a buffer grown for a known large bulk,
// so that the rest of the command usually fits as well.
const growSlack = 4 << 10

// maxLenDigits is the most digits accepted in a length; more is rejected
// before it could overflow an int64.
const maxLenDigits = 18

const (
	modeNone   = iota // at a command boundary
	modeArray         // inside a "*N" command
	modeInline        // inside an inline command line
)

// Reader reads client commands from an [io.Reader]. It has its own buffer,
// DefaultBufferSize bytes long, which grows only as far as a single command
// needs and shrinks back before the next blocking read. A Reader is not
// safe for concurrent use.
type Reader struct {
	// BeforeFill, if not nil, is called right before every read from the
	// underlying reader, that is, whenever the buffer does not hold a
	// complete command and ReadCommand would block. A server uses it to
	// flush the replies of the commands it has pipelined so far. An error
	// from it is returned by ReadCommand unchanged.
	BeforeFill func() error

	rd  io.Reader
	lim Limits

	buf        []byte // allocated lazily; all of it is usable
	small      []byte // the default-size buffer, parked while buf is big
	start, end int    // buf[start:end] holds unconsumed input
	bufSize    int    // size to which buf shrinks back
	maxBuf     int    // largest buffer a single command may need
	rerr       error  // error from the underlying reader, not yet returned
	perr       error  // sticky protocol error

	// Parse state of the command starting at buf[start]; positions are
	// relative to start so that moving the buffer keeps them valid.
	mode  int
	pos   int   // parsed up to here
	nargs int   // announced argument count, -1 while unknown
	bulk  int   // length of the bulk being read, -1 while its header is due
	offs  []int // start,end pairs of the bulks read so far
	args  [][]byte
}

// NewReader returns a Reader reading commands from rd with the given limits
// (zero fields mean the defaults).
func NewReader(rd io.Reader, lim Limits) *Reader {
	r := &Reader{lim: lim.withDefaults(), bufSize: DefaultBufferSize}
	m := r.lim.MaxCommand
	if r.lim.MaxInline > m {
		m = r.lim.MaxInline
	}
	r.maxBuf = m + 64
	r.Reset(rd)
	return r
}

// Reset discards any buffered input and state, including a protocol error,
// and makes r read from rd. The buffer and limits are kept.
func (r *Reader) Reset(rd io.Reader) {
	r.rd = rd
	r.start, r.end = 0, 0
	r.rerr, r.perr = nil, nil
	r.resetCommand()
}

func (r *Reader) resetCommand() {
	r.mode = modeNone
	r.pos = 0
	r.nargs = -1
	r.bulk = -1
	r.offs = r.offs[:0]
}

// Buffered returns the number of bytes that have been read from the
// underlying reader but not yet returned as (part of) a command. After a
// successful ReadCommand, zero means that the next call would block.
func (r *Reader) Buffered() int { return r.end - r.start }

// ReadCommand returns the arguments of the next command: a RESP array of
// bulk strings, or an inline command line split on spaces and tabs. Null
// arrays (*-1) and blank lines are skipped; an empty array (*0) returns
// ErrEmptyCommand, after which reading goes on normally. The result always has at
// least one argument; a zero-length bulk string is an empty, non-nil slice.
//
// The returned slices alias the Reader's buffer: they are only valid until
// the next call to ReadCommand (or Reset), and must be copied to be kept.
// Appending to an argument never overwrites the buffer.
//
// ReadCommand returns io.EOF if the input ends at a command boundary,
// io.ErrUnexpectedEOF if it ends within a command, a [*ProtocolError] for
// malformed input (after which every call fails the same way), the error of
// BeforeFill unchanged, and other errors of the underlying reader wrapped.
func (r *Reader) ReadCommand() ([][]byte, error) {
	if r.perr != nil {
		return nil, r.perr
	}
	for {
		args, need, err := r.parse()
		if err == ErrEmptyCommand {
			return nil, err // not sticky: the next command follows
		}
		if err != nil {
			r.perr = err
			return nil, err
		}
		if len(args) > 0 {
			return args, nil
		}
		if err := r.fill(need); err != nil {
			return nil, err
		}
	}
}

// parse tries to parse one command out of the buffer. It returns the
// arguments if the command is complete, or else how many bytes (counted
// from r.start) must be buffered before parsing can progress.
func (r *Reader) parse() (args [][]byte, need int, err error) {
	for {
		b := r.buf[r.start:r.end]
		if len(b) == 0 {
			return nil, 1, nil
		}
		if r.mode == modeNone {
			if b[0] == '*' {
				r.mode = modeArray
			} else {
				r.mode = modeInline
			}
		}
		if r.mode == modeArray {
			args, need, err = r.parseArray(b)
		} else {
			args, need, err = r.parseInline(b)
		}
		if err != nil || need > 0 || len(args) > 0 {
			return args, need, err
		}
		// An empty command was skipped; go on with the next one.
	}
}

// consume marks the current command, n bytes long, as read.
func (r *Reader) consume(n int) {
	r.start += n
	r.resetCommand()
}

// Length parse results.
const (
	lenOK = iota
	lenIncomplete
	lenInvalid
	lenNoCRLF
)

// parseLen parses the decimal number followed by CRLF that starts at b[i].
// It accepts an optional minus sign and rejects leading zeros, "-0", and
// anything longer than maxLenDigits digits, like redis's string2ll.
// Invalid input is reported as soon as it is seen, not when the line ends.
func parseLen(b []byte, i int) (n int64, next int, status int) {
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	first := i
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			break
		}
		if i-first == maxLenDigits {
			return 0, 0, lenInvalid
		}
		n = n*10 + int64(c-'0')
	}
	if i == len(b) {
		return 0, 0, lenIncomplete
	}
	digits := i - first
	if b[i] != '\r' {
		if b[i] == '\n' && digits > 0 {
			return 0, 0, lenNoCRLF
		}
		return 0, 0, lenInvalid
	}
	if digits == 0 || (digits > 1 && b[first] == '0') || (neg && n == 0) {
		return 0, 0, lenInvalid
	}
	if i+1 == len(b) {
		return 0, 0, lenIncomplete
	}
	if b[i+1] != '\n' {
		return 0, 0, lenNoCRLF
	}
	if neg {
		n = -n
	}
	return n, i + 2, lenOK
}

func (r *Reader) parseArray(b []byte) ([][]byte, int, error) {
	if r.nargs < 0 {
		n, next, st := parseLen(b, 1)
		switch st {
		case lenIncomplete:
			return nil, len(b) + 1, nil
		case lenInvalid:
			return nil, 0, errInvalidMultibulk
		case lenNoCRLF:
			return nil, 0, errMissingCRLF
		}
		if n < -1 {
			return nil, 0, errInvalidMultibulk
		}
		if n > int64(r.lim.MaxArgs) {
			return nil, 0, errTooManyArgs
		}
		if n == 0 { // *0: an empty command, which 0-db answers
			r.consume(next)
			return nil, 0, ErrEmptyCommand
		}
		if n < 0 { // *-1: nothing to execute
			r.consume(next)
			return nil, 0, nil
		}
		r.nargs = int(n)
		r.pos = next
		r.bulk = -1
		r.offs = r.offs[:0]
	}
	for len(r.offs) < 2*r.nargs {
		if r.bulk < 0 {
			if r.pos >= len(b) {
				return nil, r.pos + 1, nil
			}
			if c := b[r.pos]; c != '$' {
				return nil, 0, errExpectedDollar(c)
			}
			n, next, st := parseLen(b, r.pos+1)
			switch st {
			case lenIncomplete:
				return nil, len(b) + 1, nil
			case lenInvalid:
				return nil, 0, errInvalidBulk
			case lenNoCRLF:
				return nil, 0, errMissingCRLF
			}
			if n < 0 {
				return nil, 0, errInvalidBulk
			}
			if n > int64(r.lim.MaxBulk) {
				return nil, 0, errBulkTooLarge
			}
			if int64(next)+n+2 > int64(r.lim.MaxCommand) {
				return nil, 0, errCommandTooLarge
			}
			r.bulk = int(n)
			r.pos = next
		}
		end := r.pos + r.bulk
		if end+2 > len(b) {
			return nil, end + 2, nil
		}
		if b[end] != '\r' || b[end+1] != '\n' {
			return nil, 0, errMissingCRLF
		}
		r.offs = append(r.offs, r.pos, end)
		r.pos = end + 2
		r.bulk = -1
	}
	args := r.args[:0]
	for i := 0; i+1 < len(r.offs); i += 2 {
		s, e := r.offs[i], r.offs[i+1]
		args = append(args, b[s:e:e])
	}
	r.args = args
	r.consume(r.pos)
	return args, 0, nil
}

func (r *Reader) parseInline(b []byte) ([][]byte, int, error) {
	lim := r.lim.MaxInline
	// Only look for the end of the line where it may legally be: the line
	// may be lim bytes long plus "\r\n".
	window := b
	if len(window) > lim+2 {
		window = window[:lim+2]
	}
	i := bytes.IndexByte(window[r.pos:], '\n')
	if i < 0 {
		if len(b) > lim+1 {
			return nil, 0, errInlineTooLong
		}
		r.pos = len(b) // no need to scan these bytes again
		return nil, len(b) + 1, nil
	}
	i += r.pos
	line := b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if len(line) > lim {
		return nil, 0, errInlineTooLong
	}
	args := r.args[:0]
	for j := 0; j < len(line); {
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		if j == len(line) {
			break
		}
		k := j
		for k < len(line) && line[k] != ' ' && line[k] != '\t' {
			k++
		}
		if len(args) == r.lim.MaxArgs {
			return nil, 0, errTooManyArgs
		}
		args = append(args, line[j:k:k])
		j = k
	}
	r.args = args
	r.consume(i + 1)
	return args, 0, nil
}

// fill reads more input so that, if possible, need bytes (counted from
// r.start) are buffered. It reads at most once.
func (r *Reader) fill(need int) error {
	if r.rerr != nil {
		return r.readErr()
	}
	r.makeRoom(need)
	if r.BeforeFill != nil {
		if err := r.BeforeFill(); err != nil {
			return err
		}
	}
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.rerr = errors.New("resp: invalid read count from underlying reader")
			return r.readErr()
		}
		r.end += n
		if err != nil {
			r.rerr = err
			if n > 0 {
				return nil // parse what we got first
			}
			return r.readErr()
		}
		if n > 0 {
			return nil
		}
	}
	r.rerr = io.ErrNoProgress
	return r.readErr()
}

// readErr returns the pending read error in the form ReadCommand reports it.
func (r *Reader) readErr() error {
	err := r.rerr
	if err == io.EOF {
		if r.end == r.start && r.mode == modeNone {
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	// Other errors (such as timeouts) are not kept: a retry may succeed.
	r.rerr = nil
	return fmt.Errorf("resp: read: %w", err)
}

// makeRoom arranges for the buffer to have room for need bytes from
// r.start, and for some free space after r.end. It allocates a larger buffer
// only if the partial command needs it, and returns to a DefaultBufferSize
// one when the partial command fits in it again.
func (r *Reader) makeRoom(need int) {
	n := r.end - r.start
	if need <= n {
		need = n + 1
	}
	if n == 0 {
		r.start, r.end = 0, 0
	}
	size := len(r.buf)
	if need > size || (size > r.bufSize && need <= r.bufSize) {
		var nb []byte
		if need > r.bufSize {
			newSize := max(need+growSlack, 2*size)
			newSize = max(min(newSize, r.maxBuf), need)
			nb = getBig(newSize)
		} else if r.small != nil {
			nb, r.small = r.small, nil
		} else {
			nb = make([]byte, r.bufSize)
		}
		copy(nb, r.buf[r.start:r.end])
		switch {
		case len(r.buf) > r.bufSize:
			putBig(r.buf)
		case len(r.buf) == r.bufSize:
			r.small = r.buf // kept for when the big command is done
		}
		r.buf, r.start, r.end = nb, 0, n
		return
	}
	if r.start > 0 && (need > size-r.start || size-r.end < minReadRoom) {
		copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, n
	}
}
