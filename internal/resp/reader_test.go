package resp

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// result is everything a Reader produced from one input.
type result struct {
	cmds [][]string
	err  string // errKey of the final error
}

func errKey(err error) string {
	var pe *ProtocolError
	switch {
	case err == nil:
		return "nil"
	case err == io.EOF:
		return "EOF"
	case err == io.ErrUnexpectedEOF:
		return "UnexpectedEOF"
	case errors.As(err, &pe):
		return "proto: " + pe.Msg
	}
	return "other: " + err.Error()
}

func readAll(t testing.TB, r *Reader) result {
	var res result
	for i := 0; ; i++ {
		args, err := r.ReadCommand()
		if err == ErrEmptyCommand {
			// Recorded as a pseudo-command; reading goes on.
			res.cmds = append(res.cmds, []string{"<empty>"})
			continue
		}
		if err != nil {
			if args != nil {
				t.Fatalf("ReadCommand returned args %q with error %v", args, err)
			}
			res.err = errKey(err)
			return res
		}
		if len(args) == 0 {
			t.Fatalf("ReadCommand returned no args and no error")
		}
		cmd := make([]string, len(args))
		for j, a := range args {
			if a == nil {
				t.Fatalf("argument %d is nil", j)
			}
			if cap(a) != len(a) {
				t.Fatalf("argument %d has spare capacity %d", j, cap(a)-len(a))
			}
			cmd[j] = string(a)
		}
		res.cmds = append(res.cmds, cmd)
		if i > 1<<20 {
			t.Fatalf("too many commands")
		}
	}
}

// readers returns the ways the tests feed an input to a Reader.
var readers = []struct {
	name    string
	wrap    func([]byte) io.Reader
	bufSize int
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }, 0},
	{"onebyte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }, 0},
	{"onebyte-smallbuf", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }, 7},
	{"half-smallbuf", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }, 16},
	{"dataerr", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }, 0},
	{"chunks", func(b []byte) io.Reader { return &chunkReader{data: b, n: 1000} }, 0},
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func newTestReader(rd io.Reader, lim Limits, bufSize int) *Reader {
	r := NewReader(rd, lim)
	if bufSize > 0 {
		r.bufSize = bufSize
	}
	return r
}

func cmds(c ...[]string) [][]string { return c }
func cmd(a ...string) []string      { return a }

func TestReadCommand(t *testing.T) {
	longInline := strings.Repeat("a", DefaultMaxInline)
	tests := []struct {
		name string
		lim  Limits
		in   string
		want [][]string
		err  string
	}{
		{name: "empty input", in: "", err: "EOF"},
		{name: "ping", in: "*1\r\n$4\r\nPING\r\n", want: cmds(cmd("PING")), err: "EOF"},
		{name: "set", in: "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
			want: cmds(cmd("SET", "key", "value")), err: "EOF"},
		{name: "empty bulk", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
			want: cmds(cmd("SET", "k", "")), err: "EOF"},
		{name: "binary bulk", in: "*2\r\n$3\r\nGET\r\n$8\r\na\r\nb\r\n\x00\xff\r\n",
			want: cmds(cmd("GET", "a\r\nb\r\n\x00\xff")), err: "EOF"},
		{name: "bulk of CRLFs", in: "*1\r\n$4\r\n\r\n\r\n\r\n", want: cmds(cmd("\r\n\r\n")), err: "EOF"},
		{name: "pipelined",
			in:   "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2\r\nxy\r\n",
			want: cmds(cmd("PING"), cmd("GET", "a"), cmd("SET", "b", "xy")), err: "EOF"},
		{name: "empty arrays", in: "*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n*0\r\n",
			want: cmds(cmd("<empty>"), cmd("x"), cmd("<empty>")), err: "EOF"},
		{name: "inline", in: "PING\r\n", want: cmds(cmd("PING")), err: "EOF"},
		{name: "inline LF only", in: "SET a b\n", want: cmds(cmd("SET", "a", "b")), err: "EOF"},
		{name: "inline whitespace", in: " \t SET\t a   b \t\r\n",
			want: cmds(cmd("SET", "a", "b")), err: "EOF"},
		{name: "inline blank lines skipped", in: "\r\n\n  \r\n\t\nPING\r\n\r\n",
			want: cmds(cmd("PING")), err: "EOF"},
		{name: "inline and arrays mixed", in: "PING\r\n*1\r\n$4\r\nPING\r\nGET x\r\n",
			want: cmds(cmd("PING"), cmd("PING"), cmd("GET", "x")), err: "EOF"},
		{name: "inline CR inside", in: "a\rb c\r\r\n", want: cmds(cmd("a\rb", "c\r")), err: "EOF"},
		{name: "inline max length", in: longInline + "\r\n", want: cmds(cmd(longInline)), err: "EOF"},
		{name: "inline max length LF", in: longInline + "\n", want: cmds(cmd(longInline)), err: "EOF"},

		// EOF in the middle of a command.
		{name: "eof in inline", in: "GET a", err: "UnexpectedEOF"},
		{name: "eof in inline CR", in: "GET a\r", err: "UnexpectedEOF"},
		{name: "eof after star", in: "*", err: "UnexpectedEOF"},
		{name: "eof in count", in: "*2", err: "UnexpectedEOF"},
		{name: "eof in count CR", in: "*2\r", err: "UnexpectedEOF"},
		{name: "eof before bulk", in: "*2\r\n$3\r\nGET\r\n", err: "UnexpectedEOF"},
		{name: "eof in bulk header", in: "*2\r\n$3\r\nGET\r\n$1", err: "UnexpectedEOF"},
		{name: "eof in bulk", in: "*2\r\n$3\r\nGE", err: "UnexpectedEOF"},
		{name: "eof before bulk CRLF", in: "*1\r\n$3\r\nGET", err: "UnexpectedEOF"},
		{name: "eof in bulk CRLF", in: "*1\r\n$3\r\nGET\r", err: "UnexpectedEOF"},
		{name: "eof after command then partial", in: "*1\r\n$1\r\na\r\n*1\r\n",
			want: cmds(cmd("a")), err: "UnexpectedEOF"},

		// Protocol errors.
		{name: "multibulk not a number", in: "*abc\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk empty", in: "*\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk negative", in: "*-2\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk minus zero", in: "*-0\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk minus only", in: "*-\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk leading zero", in: "*01\r\n$1\r\na\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk plus", in: "*+1\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk space", in: "*1 \r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk overflow", in: "*99999999999999999999999999\r\n", err: "proto: invalid multibulk length"},
		{name: "multibulk overflow no CRLF", in: "*9999999999999999999", err: "proto: invalid multibulk length"},
		{name: "multibulk garbage no CRLF", in: "*1x", err: "proto: invalid multibulk length"},
		{name: "multibulk too many", in: "*1027\r\n", err: "proto: too many arguments"},
		{name: "multibulk max ok", in: "*1026\r\n" + strings.Repeat("$1\r\nx\r\n", 1026),
			want: cmds(strings.Split(strings.Repeat("x", 1026), "")), err: "EOF"},
		{name: "multibulk LF only", in: "*1\n$1\r\na\r\n", err: "proto: unbalanced/missing CRLF"},
		{name: "multibulk CR CR", in: "*1\r\r", err: "proto: unbalanced/missing CRLF"},
		{name: "expected dollar", in: "*1\r\nx", err: "proto: expected '$', got 'x'"},
		{name: "expected dollar binary", in: "*1\r\n\x00", err: `proto: expected '$', got '\x00'`},
		{name: "expected dollar CR", in: "*1\r\n\r\n", err: `proto: expected '$', got '\x0d'`},
		{name: "expected dollar nested array", in: "*1\r\n*1\r\n$1\r\na\r\n", err: "proto: expected '$', got '*'"},
		{name: "expected dollar after bulk", in: "*2\r\n$1\r\na\r\n:1\r\n", err: "proto: expected '$', got ':'"},
		{name: "bulk null", in: "*1\r\n$-1\r\n", err: "proto: invalid bulk length"},
		{name: "bulk negative", in: "*1\r\n$-5\r\n", err: "proto: invalid bulk length"},
		{name: "bulk not a number", in: "*1\r\n$abc\r\n", err: "proto: invalid bulk length"},
		{name: "bulk empty length", in: "*1\r\n$\r\n", err: "proto: invalid bulk length"},
		{name: "bulk leading zero", in: "*1\r\n$01\r\na\r\n", err: "proto: invalid bulk length"},
		{name: "bulk overflow", in: "*1\r\n$9223372036854775808\r\n", err: "proto: invalid bulk length"},
		{name: "bulk huge", in: "*1\r\n$99999999999999999999999999999999", err: "proto: invalid bulk length"},
		{name: "bulk too large", in: "*1\r\n$" + strconv.Itoa(DefaultMaxBulk+1) + "\r\n", err: "proto: bulk too large"},
		{name: "bulk LF only", in: "*1\r\n$1\na\r\n", err: "proto: unbalanced/missing CRLF"},
		{name: "bulk longer than announced", in: "*1\r\n$3\r\nabcd\r\n", err: "proto: unbalanced/missing CRLF"},
		{name: "bulk shorter than announced", in: "*2\r\n$5\r\nab\r\n$1\r\nx\r\n", err: "proto: unbalanced/missing CRLF"},
		{name: "bulk LF CR", in: "*1\r\n$3\r\nabc\n\r", err: "proto: unbalanced/missing CRLF"},
		{name: "bulk CR only", in: "*1\r\n$3\r\nabc\rx", err: "proto: unbalanced/missing CRLF"},
		{name: "inline too long", in: longInline + "a\r\n", err: "proto: inline command too long"},
		{name: "inline too long no newline", in: longInline + "ab", err: "proto: inline command too long"},
		{name: "inline too many args", in: strings.Repeat("a ", DefaultMaxArgs+1) + "\r\n", err: "proto: too many arguments"},
		{name: "error after good command", in: "*1\r\n$1\r\na\r\nGET b\r\n*x\r\n",
			want: cmds(cmd("a"), cmd("GET", "b")), err: "proto: invalid multibulk length"},

		// Custom limits.
		{name: "limit args", lim: Limits{MaxArgs: 2}, in: "*2\r\n$1\r\na\r\n$1\r\nb\r\n*3\r\n",
			want: cmds(cmd("a", "b")), err: "proto: too many arguments"},
		{name: "limit inline args", lim: Limits{MaxArgs: 2}, in: "a b\r\na b c\r\n",
			want: cmds(cmd("a", "b")), err: "proto: too many arguments"},
		{name: "limit bulk", lim: Limits{MaxBulk: 4}, in: "*1\r\n$4\r\nabcd\r\n*1\r\n$5\r\n",
			want: cmds(cmd("abcd")), err: "proto: bulk too large"},
		{name: "limit inline", lim: Limits{MaxInline: 4}, in: "abcd\r\nabcd\nabcde\r\n",
			want: cmds(cmd("abcd"), cmd("abcd")), err: "proto: inline command too long"},
		{name: "limit inline LF", lim: Limits{MaxInline: 4}, in: "abcde\n",
			err: "proto: inline command too long"},
		{name: "limit inline no newline", lim: Limits{MaxInline: 4}, in: "abcd\rx",
			err: "proto: inline command too long"},
		{name: "limit command", lim: Limits{MaxCommand: 30},
			in:   "*2\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n*2\r\n$4\r\nabcd\r\n$50\r\n",
			want: cmds(cmd("abcd", "abcd")), err: "proto: command too large"},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := newTestReader(rd.wrap([]byte(tt.in)), tt.lim, rd.bufSize)
				got := readAll(t, r)
				want := result{cmds: tt.want, err: tt.err}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("input %q:\n got %q\nwant %q", tt.in, got, want)
				}
				// Errors are sticky.
				if _, err := r.ReadCommand(); errKey(err) != tt.err {
					t.Fatalf("second error %v, want %s", err, tt.err)
				}
			})
		}
	}
}

func TestProtocolError(t *testing.T) {
	r := NewReader(strings.NewReader("*x\r\n"), Limits{})
	_, err := r.ReadCommand()
	if !IsProtocolError(err) {
		t.Fatalf("IsProtocolError(%v) = false", err)
	}
	if got, want := err.Error(), "Protocol error: invalid multibulk length"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if IsProtocolError(io.EOF) || IsProtocolError(nil) {
		t.Fatalf("IsProtocolError true for non protocol errors")
	}
	wrapped := errors.Join(errors.New("x"), err)
	if !IsProtocolError(wrapped) {
		t.Fatalf("IsProtocolError false for wrapped error")
	}
}

// TestAbsurdLengthsDoNotAllocate checks that lengths beyond the limits are
// rejected before the buffer grows.
func TestAbsurdLengthsDoNotAllocate(t *testing.T) {
	inputs := []string{
		"*1\r\n$" + strconv.Itoa(DefaultMaxBulk+1) + "\r\n",
		"*1\r\n$999999999999\r\n",
		"*1\r\n$-2\r\n",
		"*99999999\r\n",
	}
	for _, in := range inputs {
		r := NewReader(strings.NewReader(in), Limits{})
		if _, err := r.ReadCommand(); !IsProtocolError(err) {
			t.Fatalf("%q: err %v, want protocol error", in, err)
		}
		if len(r.buf) > DefaultBufferSize {
			t.Fatalf("%q: buffer grew to %d", in, len(r.buf))
		}
		if cap(r.args) > 0 || cap(r.offs) > 0 {
			t.Fatalf("%q: args allocated", in)
		}
	}
	// A command larger than MaxCommand as a whole is refused before the
	// bulk that would exceed it is allocated.
	in := "*3\r\n$8388608\r\n" + strings.Repeat("x", 8388608) + "\r\n$8388608\r\n" + strings.Repeat("x", 8388608) + "\r\n$8388608\r\n"
	r := NewReader(strings.NewReader(in), Limits{MaxCommand: 20 << 20})
	if _, err := r.ReadCommand(); errKey(err) != "proto: command too large" {
		t.Fatalf("err %v, want command too large", err)
	}
	if len(r.buf) > 20<<20 {
		t.Fatalf("buffer grew to %d", len(r.buf))
	}
}

func TestLimitsDefaults(t *testing.T) {
	got := Limits{}.withDefaults()
	want := Limits{MaxArgs: 1026, MaxBulk: 8<<20 + 1024, MaxInline: 64 << 10, MaxCommand: 4 * (8<<20 + 1024)}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	got = Limits{MaxArgs: 3, MaxBulk: 10}.withDefaults()
	if got.MaxArgs != 3 || got.MaxBulk != 10 || got.MaxCommand != 40 {
		t.Fatalf("partial defaults %+v", got)
	}
}

func encodeCommand(args ...[]byte) []byte {
	b := AppendArrayHeader(nil, len(args))
	for _, a := range args {
		b = AppendBulk(b, a)
	}
	return b
}

func TestBigBulk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	maxBulk := make([]byte, DefaultMaxBulk)
	copy(maxBulk, big)
	var in []byte
	in = encodeCommand([]byte("SET"), []byte("k1"), big)
	in = append(in, encodeCommand([]byte("GET"), []byte("k1"))...)
	in = append(in, encodeCommand([]byte("SET"), []byte("k2"), maxBulk)...)
	in = append(in, encodeCommand([]byte("SET"), []byte("k3"), big[:300<<10])...)
	in = append(in, "PING\r\n"...)

	for _, rd := range readers {
		if rd.name == "onebyte-smallbuf" || rd.name == "half-smallbuf" {
			continue // covered by onebyte, and slow
		}
		t.Run(rd.name, func(t *testing.T) {
			r := newTestReader(rd.wrap(in), Limits{}, 0)
			maxBuf := 0
			r.BeforeFill = func() error { maxBuf = max(maxBuf, len(r.buf)); return nil }
			check := func(want ...[]byte) {
				t.Helper()
				args, err := r.ReadCommand()
				if err != nil {
					t.Fatal(err)
				}
				if len(args) != len(want) {
					t.Fatalf("got %d args, want %d", len(args), len(want))
				}
				for i := range want {
					if !bytes.Equal(args[i], want[i]) {
						t.Fatalf("arg %d differs (len %d, want %d)", i, len(args[i]), len(want[i]))
					}
				}
			}
			check([]byte("SET"), []byte("k1"), big)
			check([]byte("GET"), []byte("k1"))
			check([]byte("SET"), []byte("k2"), maxBulk)
			check([]byte("SET"), []byte("k3"), big[:300<<10])
			check([]byte("PING"))
			if _, err := r.ReadCommand(); err != io.EOF {
				t.Fatalf("err %v, want EOF", err)
			}
			if limit := DefaultMaxBulk + 64<<10; maxBuf > limit {
				t.Fatalf("buffer grew to %d, more than %d", maxBuf, limit)
			}
			// (DataErrReader returns EOF with the last data, so there is
			// no further fill to shrink the buffer before.)
			if rd.name != "dataerr" && len(r.buf) != DefaultBufferSize {
				t.Fatalf("buffer is %d bytes after the big commands, want %d", len(r.buf), DefaultBufferSize)
			}
		})
	}
}

// TestBigBulkFewCopies checks that a large bulk is read straight into its
// final place: the buffer is allocated once for it, and the reads go
// directly into it.
func TestBigBulkFewCopies(t *testing.T) {
	val := bytes.Repeat([]byte("v"), 4<<20)
	in := encodeCommand([]byte("SET"), []byte("key"), val)
	in = append(in, encodeCommand([]byte("PING"))...)
	r := NewReader(&chunkReader{data: in, n: 1 << 30}, Limits{})
	allocs := 0
	last := 0
	var sizes []int
	r.BeforeFill = func() error {
		if len(r.buf) != last {
			allocs++
			last = len(r.buf)
			sizes = append(sizes, last)
		}
		return nil
	}
	args, err := r.ReadCommand()
	if err != nil || !bytes.Equal(args[2], val) {
		t.Fatalf("ReadCommand: %v", err)
	}
	// One default buffer for the header, one for the whole command.
	if allocs != 2 {
		t.Fatalf("buffer sizes %v, want 2 allocations", sizes)
	}
	if sizes[1] < len(in)-16 || sizes[1] > len(in)+growSlack {
		t.Fatalf("big buffer is %d bytes for a %d byte command", sizes[1], len(in))
	}
}

func TestBufferShrinksAndCompacts(t *testing.T) {
	var in []byte
	for i := range 50 {
		in = append(in, encodeCommand([]byte("SET"), []byte(strconv.Itoa(i)), bytes.Repeat([]byte{'a' + byte(i%26)}, i*997))...)
	}
	r := newTestReader(&chunkReader{data: in, n: 333}, Limits{}, 256)
	for i := range 50 {
		args, err := r.ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		if string(args[1]) != strconv.Itoa(i) || !bytes.Equal(args[2], bytes.Repeat([]byte{'a' + byte(i%26)}, i*997)) {
			t.Fatalf("command %d wrong", i)
		}
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("err %v", err)
	}
	if len(r.buf) != 256 {
		t.Fatalf("buffer %d bytes at the end, want 256", len(r.buf))
	}
}

// eventReader logs reads; it returns its chunks one per Read, then EOF.
type eventReader struct {
	chunks []string
	log    *[]string
}

func (e *eventReader) Read(p []byte) (int, error) {
	*e.log = append(*e.log, "read")
	if len(e.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, e.chunks[0])
	e.chunks[0] = e.chunks[0][n:]
	if e.chunks[0] == "" {
		e.chunks = e.chunks[1:]
	}
	return n, nil
}

func TestBeforeFill(t *testing.T) {
	var log []string
	er := &eventReader{
		chunks: []string{
			"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$3\r\nGE",
			"T\r\n",
			"*2\r\n$3\r\nGET\r\n$1", "\r\n", "b", "\r\nPI", "NG\r\n",
		},
		log: &log,
	}
	r := NewReader(er, Limits{})
	r.BeforeFill = func() error { log = append(log, "fill"); return nil }
	steps := []struct {
		want     string
		events   string
		buffered int
	}{
		{"PING", "fill read", 36},
		{"PING", "", 30},
		{"GET a", "", 10},
		{"GET", "fill read", 0},
		{"GET b", "fill read fill read fill read fill read", 2},
		{"PING", "fill read", 0},
		{"EOF", "fill read", 0},
		{"EOF", "", 0}, // EOF is sticky
	}
	for i, s := range steps {
		log = log[:0]
		args, err := r.ReadCommand()
		got := "EOF"
		if err != io.EOF {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			got = string(bytes.Join(args, []byte(" ")))
		}
		if got != s.want || strings.Join(log, " ") != s.events || r.Buffered() != s.buffered {
			t.Fatalf("step %d: got %q events %q buffered %d, want %q events %q buffered %d",
				i, got, strings.Join(log, " "), r.Buffered(), s.want, s.events, s.buffered)
		}
	}
}

func TestBeforeFillError(t *testing.T) {
	var log []string
	er := &eventReader{chunks: []string{"PING\r\n"}, log: &log}
	r := NewReader(er, Limits{})
	fillErr := errors.New("flush failed")
	r.BeforeFill = func() error { return fillErr }
	if _, err := r.ReadCommand(); err != fillErr {
		t.Fatalf("err %v, want %v", err, fillErr)
	}
	if len(log) != 0 {
		t.Fatalf("underlying reader was read after BeforeFill failed")
	}
	r.BeforeFill = nil
	if args, err := r.ReadCommand(); err != nil || string(args[0]) != "PING" {
		t.Fatalf("after BeforeFill error: %q %v", args, err)
	}
}

// flakyReader fails once with err after its first chunk, then goes on.
type flakyReader struct {
	chunks []string
	err    error
	failed bool
}

func (f *flakyReader) Read(p []byte) (int, error) {
	if len(f.chunks) == 0 {
		return 0, io.EOF
	}
	if len(f.chunks) == 1 && !f.failed {
		f.failed = true
		return 0, f.err
	}
	n := copy(p, f.chunks[0])
	f.chunks = f.chunks[1:]
	return n, nil
}

func TestReadErrors(t *testing.T) {
	timeout := errors.New("i/o timeout")
	r := NewReader(&flakyReader{chunks: []string{"*1\r\n$4\r\nPI", "NG\r\n"}, err: timeout}, Limits{})
	_, err := r.ReadCommand()
	if !errors.Is(err, timeout) || err == timeout || IsProtocolError(err) {
		t.Fatalf("err %v, want wrapped %v", err, timeout)
	}
	// The error is not sticky: a retry goes on where the command stopped.
	args, err := r.ReadCommand()
	if err != nil || len(args) != 1 || string(args[0]) != "PING" {
		t.Fatalf("after retry: %q %v", args, err)
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("err %v, want EOF", err)
	}

	// A reader that never makes progress.
	r = NewReader(iotest.ErrReader(nil), Limits{})
	if _, err := r.ReadCommand(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err %v, want ErrNoProgress", err)
	}
	// A reader's io.ErrUnexpectedEOF is wrapped, not mistaken for ours.
	r = NewReader(iotest.ErrReader(io.ErrUnexpectedEOF), Limits{})
	if _, err := r.ReadCommand(); err == io.ErrUnexpectedEOF || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v, want wrapped ErrUnexpectedEOF", err)
	}
	// Data returned together with EOF is used.
	r = NewReader(iotest.DataErrReader(strings.NewReader("PING\r\n")), Limits{})
	if args, err := r.ReadCommand(); err != nil || string(args[0]) != "PING" {
		t.Fatalf("DataErrReader: %q %v", args, err)
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("err %v, want EOF", err)
	}
}

// badReader claims to have read more than it was given.
type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

func TestBadUnderlyingReader(t *testing.T) {
	r := NewReader(badReader{}, Limits{})
	if _, err := r.ReadCommand(); err == nil || IsProtocolError(err) {
		t.Fatalf("err %v, want read error", err)
	}
}

func TestArgsAliasing(t *testing.T) {
	r := NewReader(strings.NewReader("*3\r\n$1\r\na\r\n$0\r\n\r\n$1\r\nc\r\nx y\r\n"), Limits{})
	args, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if args[1] == nil || len(args[1]) != 0 {
		t.Fatalf("empty bulk is %#v, want empty non-nil", args[1])
	}
	// Appending to an argument must not overwrite the others.
	_ = append(args[0], "XXXXXXXX"...)
	_ = append(args[1], "YYYYYYYY"...)
	if string(args[0]) != "a" || string(args[2]) != "c" {
		t.Fatalf("append clobbered the buffer: %q", args)
	}
	args, err = r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	_ = append(args[0], "ZZZ"...)
	if string(args[1]) != "y" {
		t.Fatalf("append clobbered the buffer: %q", args)
	}
}

func TestReset(t *testing.T) {
	r := NewReader(strings.NewReader("*x\r\n"), Limits{})
	if _, err := r.ReadCommand(); !IsProtocolError(err) {
		t.Fatalf("err %v", err)
	}
	r.Reset(strings.NewReader("*1\r\n$4\r\nPING\r\n"))
	if args, err := r.ReadCommand(); err != nil || string(args[0]) != "PING" {
		t.Fatalf("after Reset: %q %v", args, err)
	}
}

func TestNoAllocsSteadyState(t *testing.T) {
	one := encodeCommand([]byte("SET"), []byte("key:000000012345"), bytes.Repeat([]byte("v"), 100))
	one = append(one, "GET key:000000012345\r\n"...)
	rr := &repeatReader{data: bytes.Repeat(one, 16)}
	r := NewReader(rr, Limits{})
	r.BeforeFill = func() error { return nil }
	for range 100 {
		if _, err := r.ReadCommand(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadCommand(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per command", allocs)
	}
}

// repeatReader returns data over and over.
type repeatReader struct {
	data []byte
	off  int
}

func (rr *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], rr.data[rr.off:])
		n += c
		rr.off = (rr.off + c) % len(rr.data)
	}
	return n, nil
}

func BenchmarkReadCommandPipelined(b *testing.B) {
	val := bytes.Repeat([]byte("0123456789abcdef"), 4096/16)
	one := encodeCommand([]byte("SET"), []byte("key:000000012345"), val)
	const pipeline = 16
	buf := bytes.Repeat(one, pipeline)
	r := NewReader(&repeatReader{data: buf}, Limits{})
	r.BeforeFill = func() error { return nil }
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for range pipeline {
			args, err := r.ReadCommand()
			if err != nil || len(args) != 3 {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReadCommandInline(b *testing.B) {
	buf := bytes.Repeat([]byte("GET key:000000012345\r\n"), 64)
	r := NewReader(&repeatReader{data: buf}, Limits{})
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		for range 64 {
			if _, err := r.ReadCommand(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// fuzzLimits are small so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxArgs: 4, MaxBulk: 16, MaxInline: 24, MaxCommand: 64}

func FuzzReadCommand(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$1\r\na\r\n"))
	f.Add([]byte("PING\r\nSET a b\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Whole input at once, default limits.
		ref := readAll(t, NewReader(bytes.NewReader(data), Limits{}))

		// One byte per read, a tiny buffer, and BeforeFill right before
		// every read: same result.
		reads, fills := 0, 0
		cr := readFunc(func(p []byte) (int, error) {
			reads++
			if fills != reads {
				t.Fatalf("read %d after %d BeforeFill calls", reads, fills)
			}
			return iotest.OneByteReader(bytes.NewReader(data[min(reads-1, len(data)):])).Read(p)
		})
		r := newTestReader(cr, Limits{}, 5)
		r.BeforeFill = func() error { fills++; return nil }
		if got := readAll(t, r); !reflect.DeepEqual(got, ref) {
			t.Fatalf("one byte reads: got %q, want %q", got, ref)
		}

		// Small limits: a prefix of the same commands, then possibly a
		// protocol error.
		small := readAll(t, newTestReader(iotest.DataErrReader(iotest.HalfReader(bytes.NewReader(data))), fuzzLimits, 8))
		if len(small.cmds) > len(ref.cmds) || !equalCmds(small.cmds, ref.cmds[:len(small.cmds)]) {
			t.Fatalf("small limits: got %q, want a prefix of %q", small.cmds, ref.cmds)
		}
		if !strings.HasPrefix(small.err, "proto: ") && !reflect.DeepEqual(small, ref) {
			t.Fatalf("small limits: got %q, want %q", small, ref)
		}

		// Every command, encoded again, reads back the same.
		for _, c := range ref.cmds {
			args := make([][]byte, len(c))
			for i := range c {
				args[i] = []byte(c[i])
			}
			got := readAll(t, NewReader(bytes.NewReader(encodeCommand(args...)), Limits{}))
			if want := (result{cmds: [][]string{c}, err: "EOF"}); !reflect.DeepEqual(got, want) {
				t.Fatalf("re-encoded %q: got %q", c, got)
			}
		}
	})
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

func equalCmds(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
