package s3

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		h       string
		size    int64
		off, n  int64
		partial bool
		err     error
	}{
		{"", 100, 0, 100, false, nil},
		{"bytes=0-9", 100, 0, 10, true, nil},
		{"bytes=90-", 100, 90, 10, true, nil},
		{"bytes=90-1000", 100, 90, 10, true, nil},
		{"bytes=-10", 100, 90, 10, true, nil},
		{"bytes=-1000", 100, 0, 100, true, nil},
		{"bytes=100-", 100, 0, 0, false, errInvalidRange},
		{"bytes=-0", 100, 0, 0, false, errInvalidRange},
		{"bytes=0-0", 0, 0, 0, false, errInvalidRange},
		{"bytes=-5", 0, 0, 0, false, errInvalidRange},
		{"bytes=5-2", 100, 0, 100, false, nil},        // invalid: ignored
		{"bytes=0-1,5-6", 100, 0, 100, false, nil},    // several: ignored
		{"items=0-1", 100, 0, 100, false, nil},        // other unit: ignored
		{"bytes=a-b", 100, 0, 100, false, nil},        // garbage: ignored
		{"bytes=99-99", 100, 99, 1, true, nil},        // last byte
		{"bytes=0-", 0, 0, 0, false, errInvalidRange}, // empty object
	}
	for _, tt := range tests {
		off, n, partial, err := parseRange(tt.h, tt.size)
		if !errors.Is(err, tt.err) || (err == nil && (off != tt.off || n != tt.n || partial != tt.partial)) {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v, %v; want %d, %d, %v, %v", tt.h, tt.size, off, n, partial, err, tt.off, tt.n, tt.partial, tt.err)
		}
	}
}

func TestCheckConditions(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	before, after := mod.Add(-time.Hour).Format(http.TimeFormat), mod.Add(time.Hour).Format(http.TimeFormat)
	at := mod.Format(http.TimeFormat)
	tests := []struct {
		name string
		h    map[string]string
		read bool
		want error
	}{
		{"none", nil, true, nil},
		{"if-match hit", map[string]string{"If-Match": `"abc"`}, true, nil},
		{"if-match list", map[string]string{"If-Match": `"x", "abc"`}, true, nil},
		{"if-match star", map[string]string{"If-Match": `*`}, true, nil},
		{"if-match miss", map[string]string{"If-Match": `"x"`}, true, errPrecondition},
		{"if-none-match hit read", map[string]string{"If-None-Match": `"abc"`}, true, errNotModified},
		{"if-none-match weak", map[string]string{"If-None-Match": `W/"abc"`}, true, errNotModified},
		{"if-none-match hit write", map[string]string{"If-None-Match": `"abc"`}, false, errPrecondition},
		{"if-none-match miss", map[string]string{"If-None-Match": `"x"`}, true, nil},
		{"modified since before", map[string]string{"If-Modified-Since": before}, true, nil},
		{"modified since at", map[string]string{"If-Modified-Since": at}, true, errNotModified},
		{"modified since after", map[string]string{"If-Modified-Since": after}, true, errNotModified},
		{"unmodified since before", map[string]string{"If-Unmodified-Since": before}, true, errPrecondition},
		{"unmodified since at", map[string]string{"If-Unmodified-Since": at}, true, nil},
		{"if-match wins over unmodified", map[string]string{"If-Match": `"abc"`, "If-Unmodified-Since": before}, true, nil},
		{"if-none-match wins over modified", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": after}, true, nil},
		{"bad date ignored", map[string]string{"If-Modified-Since": "yesterday"}, true, nil},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.h {
			h.Set(k, v)
		}
		if err := checkConditions(h, "abc", mod, tt.read); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestValidBucket(t *testing.T) {
	for name, want := range map[string]bool{
		"abc": true, "my-bucket.2": true, "a.b-c": true,
		"ab": false, "ABC": false, "-abc": false, "abc-": false, ".abc": false, "a..b": false,
		"a.-b": false, "192.168.1.1": false, "a_b": false, "a/b": false, string(make([]byte, 64)): false,
	} {
		if got := validBucket(name); got != want {
			t.Errorf("validBucket(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCheckKey(t *testing.T) {
	long := make([]byte, maxKeyLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for key, ok := range map[string]bool{
		"a": true, "a/b/c.txt": true, "dir/..hidden": true, "spaces and+plus=": true, "ünïcödé/文件": true,
		"": false, "a\x00b": false, "a/../b": false, "..": false, "./a": false, "a\nb": false,
		"\xff\xfe": false, string(long): false, string(long[:maxKeyLen]): true,
	} {
		if err := checkKey(key); (err == nil) != ok {
			t.Errorf("checkKey(%q) = %v, want ok=%v", key, err, ok)
		}
	}
}
