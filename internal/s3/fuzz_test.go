package s3

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseRange: any Range header against any size gives a range inside
// the object or an error, never a panic.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=9-1", "bytes=0-1,2-3", "bytes=-", "bytes=--1", "bytes=99999999999999999999-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 { // math.MinInt64
			return
		}
		off, n, partial, err := parseRange(h, size)
		if err != nil {
			return
		}
		if off < 0 || n < 0 || off+n > size || (!partial && (off != 0 || n != size)) {
			t.Fatalf("parseRange(%q, %d) = %d, %d, %v", h, size, off, n, partial)
		}
	})
}

// FuzzCopySource: a copy source is refused or names a valid bucket and
// a key checkKey accepts.
func FuzzCopySource(f *testing.F) {
	for _, s := range []string{"/bkt/key", "bkt/a%2Fb", "/bkt/k?versionId=null", "/bkt/k?versionId=x", "/b/k", "/bkt/%00", "/bkt/a/../b", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		h := http.Header{}
		h.Set("x-amz-copy-source", src)
		b, k, err := copySource(h)
		if err != nil {
			return
		}
		if !validBucket(b) || checkKey(k) != nil || strings.Contains(b, "/") {
			t.Fatalf("copySource(%q) = %q, %q", src, b, k)
		}
	})
}

// FuzzCheckKey: an accepted key has no NUL, no "..", fits S3's limit.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"a", "a/../b", "a\x00", "ok/key.txt", ".."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if checkKey(key) != nil {
			return
		}
		if strings.ContainsRune(key, 0) || len(key) > maxKeyLen || key == "" {
			t.Fatalf("checkKey accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == ".." {
				t.Fatalf("checkKey accepted %q", key)
			}
		}
	})
}
