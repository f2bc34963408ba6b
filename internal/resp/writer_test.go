package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"simple", AppendSimple(nil, "OK"), "+OK\r\n"},
		{"simple empty", AppendSimple(nil, ""), "+\r\n"},
		{"simple CRLF", AppendSimple(nil, "a\r\nb"), "+a  b\r\n"},
		{"error", AppendError(nil, "ERR unknown command"), "-ERR unknown command\r\n"},
		{"error CRLF", AppendError(nil, "ERR bad\r\nthing\n"), "-ERR bad  thing \r\n"},
		{"error protocol", AppendError(nil, "ERR "+errInvalidBulk.Error()), "-ERR Protocol error: invalid bulk length\r\n"},
		{"int", AppendInt(nil, 42), ":42\r\n"},
		{"int zero", AppendInt(nil, 0), ":0\r\n"},
		{"int negative", AppendInt(nil, -7), ":-7\r\n"},
		{"int min", AppendInt(nil, math.MinInt64), ":-9223372036854775808\r\n"},
		{"bulk", AppendBulk(nil, []byte("hello")), "$5\r\nhello\r\n"},
		{"bulk empty", AppendBulk(nil, []byte{}), "$0\r\n\r\n"},
		{"bulk nil", AppendBulk(nil, nil), "$0\r\n\r\n"},
		{"bulk binary", AppendBulk(nil, []byte("a\r\n\x00")), "$4\r\na\r\n\x00\r\n"},
		{"bulk string", AppendBulkString(nil, "hi\r\n"), "$4\r\nhi\r\n\r\n"},
		{"bulk string empty", AppendBulkString(nil, ""), "$0\r\n\r\n"},
		{"null", AppendNull(nil), "$-1\r\n"},
		{"null array", AppendNullArray(nil), "*-1\r\n"},
		{"array", AppendArrayHeader(nil, 3), "*3\r\n"},
		{"array empty", AppendArrayHeader(nil, 0), "*0\r\n"},
		{"array negative", AppendArrayHeader(nil, -1), "*-1\r\n"},
		{"appends", AppendInt(AppendSimple([]byte("x"), "OK"), 1), "x+OK\r\n:1\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestAppendNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	val := []byte("value")
	allocs := testing.AllocsPerRun(100, func() {
		b := buf[:0]
		b = AppendSimple(b, "OK")
		b = AppendError(b, "ERR x\ny")
		b = AppendInt(b, 123456789)
		b = AppendBulk(b, val)
		b = AppendBulkString(b, "key")
		b = AppendNull(b)
		b = AppendNullArray(b)
		_ = AppendArrayHeader(b, 2)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// appendValue encodes v with the Append functions.
func appendValue(b []byte, v Value) []byte {
	switch v.Kind {
	case '+':
		return AppendSimple(b, string(v.Str))
	case '-':
		return AppendError(b, string(v.Str))
	case ':':
		return AppendInt(b, v.Int)
	case '$':
		if v.Null {
			return AppendNull(b)
		}
		return AppendBulk(b, v.Str)
	case '*':
		if v.Null {
			return AppendNullArray(b)
		}
		b = AppendArrayHeader(b, len(v.Array))
		for _, e := range v.Array {
			b = appendValue(b, e)
		}
		return b
	}
	panic("bad kind")
}

func TestRoundTrip(t *testing.T) {
	values := []Value{
		{Kind: '+', Str: []byte("OK")},
		{Kind: '+', Str: []byte{}},
		{Kind: '-', Str: []byte("ERR something bad")},
		{Kind: ':', Int: 0},
		{Kind: ':', Int: math.MaxInt64},
		{Kind: ':', Int: math.MinInt64},
		{Kind: '$', Str: []byte("hello")},
		{Kind: '$', Str: []byte{}},
		{Kind: '$', Str: []byte("\r\n\x00\xff$-1\r\n")},
		{Kind: '$', Str: bytes.Repeat([]byte("big"), 300000)},
		{Kind: '$', Null: true},
		{Kind: '*', Null: true},
		{Kind: '*', Array: []Value{}},
		{Kind: '*', Array: []Value{
			{Kind: '$', Str: []byte("a")},
			{Kind: ':', Int: -1},
			{Kind: '$', Null: true},
			{Kind: '*', Array: []Value{{Kind: '+', Str: []byte("nested")}, {Kind: '*', Null: true}}},
		}},
	}
	var stream []byte
	for _, v := range values {
		stream = appendValue(stream, v)
	}
	for _, wrap := range []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r },
		iotest.OneByteReader,
		iotest.DataErrReader,
	} {
		br := bufio.NewReaderSize(wrap(bytes.NewReader(stream)), 64)
		for i, want := range values {
			got, err := ReadReply(br)
			if err != nil {
				t.Fatalf("value %d: %v", i, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("value %d: got %v, want %v", i, got, want)
			}
		}
		if _, err := ReadReply(br); err != io.EOF {
			t.Fatalf("at end: %v, want EOF", err)
		}
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []struct {
		in  string
		err string
	}{
		{"", "EOF"},
		{"+OK", "UnexpectedEOF"},
		{"+OK\r", "UnexpectedEOF"},
		{"$5\r\nab", "UnexpectedEOF"},
		{"$5\r\nabcde", "UnexpectedEOF"},
		{"*2\r\n:1\r\n", "UnexpectedEOF"},
		{"*1\r\n", "UnexpectedEOF"},
		{"+OK\n", "proto: unbalanced/missing CRLF"},
		{"\n", "proto: unbalanced/missing CRLF"},
		{"\r\n", "proto: empty reply line"},
		{"+a\rb\r\n", "proto: CR inside a status line"},
		{"!3\r\n", "proto: unknown reply type '!'"},
		{"\x00\r\n", `proto: unknown reply type '\x00'`},
		{":abc\r\n", "proto: invalid integer"},
		{":\r\n", "proto: invalid integer"},
		{":99999999999999999999\r\n", "proto: invalid integer"},
		{"$abc\r\n", "proto: invalid bulk length"},
		{"$-2\r\n", "proto: invalid bulk length"},
		{"$536870913\r\n", "proto: invalid bulk length"},
		{"$1\r\nab\r\n", "proto: unbalanced/missing CRLF"},
		{"*-2\r\n", "proto: invalid multibulk length"},
		{"*x\r\n", "proto: invalid multibulk length"},
		{"*1048577\r\n", "proto: invalid multibulk length"},
		{"*1\r\n*1\r\n$x\r\n", "proto: invalid bulk length"},
		{strings.Repeat("*1\r\n", 40) + ":1\r\n", "proto: arrays nested too deep"},
		{"+" + strings.Repeat("x", 100) + "\r\n", "proto: reply line too long"},
	}
	for _, tt := range tests {
		br := bufio.NewReaderSize(strings.NewReader(tt.in), 64)
		v, err := ReadReply(br)
		if got := errKey(err); got != tt.err {
			t.Errorf("%q: got %v (%s), want %s", tt.in, v, got, tt.err)
		}
	}
	// Other read errors are wrapped.
	boom := errors.New("boom")
	_, err := ReadReply(bufio.NewReader(iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || err == boom {
		t.Fatalf("got %v, want wrapped %v", err, boom)
	}
}

// TestReadReplyBogusLength checks that a huge announced bulk length with
// little data behind it does not allocate the announced size.
func TestReadReplyBogusLength(t *testing.T) {
	in := "$500000000\r\nabc"
	var err error
	allocs := testing.AllocsPerRun(5, func() {
		_, err = ReadReply(bufio.NewReader(strings.NewReader(in)))
	})
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("err %v", err)
	}
	if allocs > 10 {
		t.Fatalf("%v allocations", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = ReadReply(bufio.NewReader(strings.NewReader(in)))
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("%d bytes allocated for a bogus length", n)
	}
}

func TestValueString(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Value{Kind: '+', Str: []byte("OK")}, "OK"},
		{Value{Kind: '-', Str: []byte("ERR x")}, "(error) ERR x"},
		{Value{Kind: ':', Int: -3}, "(integer) -3"},
		{Value{Kind: '$', Str: []byte("a\r\n")}, `"a\r\n"`},
		{Value{Kind: '$', Null: true}, "(nil)"},
		{Value{Kind: '*', Null: true}, "(nil)"},
		{Value{Kind: '*', Array: []Value{{Kind: '$', Str: []byte("a")}, {Kind: ':', Int: 1}, {Kind: '*'}}}, `["a" (integer) 1 []]`},
		{Value{}, "(invalid)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add([]byte("+OK\r\n"))
	f.Add([]byte("*2\r\n$1\r\na\r\n:5\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		var vals []Value
		var err error
		for {
			var v Value
			v, err = ReadReply(br)
			if err != nil {
				break
			}
			vals = append(vals, v)
		}
		if err != io.EOF && err != io.ErrUnexpectedEOF && !IsProtocolError(err) {
			t.Fatalf("unexpected error type: %v", err)
		}
		// Same result one byte at a time.
		br = bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 64)
		for i, want := range vals {
			got, err := ReadReply(br)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("one byte reads, value %d: got %v %v, want %v", i, got, err, want)
			}
		}
		if _, err2 := ReadReply(br); errKey(err2) != errKey(err) {
			t.Fatalf("one byte reads: final error %v, want %v", err2, err)
		}
		// Every value, encoded again, reads back the same.
		var enc []byte
		for _, v := range vals {
			enc = appendValue(enc, v)
		}
		br = bufio.NewReaderSize(bytes.NewReader(enc), 64)
		for i, want := range vals {
			got, err := ReadReply(br)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("re-encoded value %d: got %v %v, want %v", i, got, err, want)
			}
		}
		if _, err := ReadReply(br); err != io.EOF {
			t.Fatalf("re-encoded: final error %v", err)
		}
	})
}
