package s3

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// etagMatches reports whether an If-Match / If-None-Match list names etag
// ("*" names any).
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// parseHTTPTime reads a conditional date; a malformed one is ignored, as
// HTTP says.
func parseHTTPTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	return t, err == nil
}

// checkConditions evaluates If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since in RFC 9110's order against an existing object:
// errPrecondition, errNotModified (reads) or nil.
func checkConditions(h http.Header, etag string, modified time.Time, read bool) error {
	modified = modified.Truncate(time.Second) // HTTP dates have seconds
	if im := h.Get("If-Match"); im != "" {
		if !etagMatches(im, etag) {
			return errPrecondition
		}
	} else if t, ok := parseHTTPTime(h.Get("If-Unmodified-Since")); ok && modified.After(t) {
		return errPrecondition
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		if etagMatches(inm, etag) {
			if read {
				return errNotModified
			}
			return errPrecondition
		}
	} else if t, ok := parseHTTPTime(h.Get("If-Modified-Since")); ok && read && !modified.After(t) {
		return errNotModified
	}
	return nil
}

// checkWriteConditions evaluates If-Match and If-None-Match on a PUT
// (S3's conditional writes): If-None-Match "*" fails when the key
// exists, If-Match fails when it does not or has another ETag.
func checkWriteConditions(h http.Header, prev objInfo, exists bool) error {
	if im := h.Get("If-Match"); im != "" {
		if !exists {
			return errNoSuchKey
		}
		if !etagMatches(im, prev.ETag) {
			return errPrecondition
		}
	}
	if inm := h.Get("If-None-Match"); inm != "" && exists && etagMatches(inm, prev.ETag) {
		return errPrecondition
	}
	return nil
}

// checkCopyConditions evaluates the x-amz-copy-source-if-* headers.
func checkCopyConditions(h http.Header, etag string, modified time.Time) error {
	c := http.Header{}
	for _, p := range [][2]string{
		{"x-amz-copy-source-if-match", "If-Match"},
		{"x-amz-copy-source-if-none-match", "If-None-Match"},
		{"x-amz-copy-source-if-modified-since", "If-Modified-Since"},
		{"x-amz-copy-source-if-unmodified-since", "If-Unmodified-Since"},
	} {
		if v := h.Get(p[0]); v != "" {
			c.Set(p[1], v)
		}
	}
	if err := checkConditions(c, etag, modified, true); err != nil {
		return errPrecondition // a copy never answers 304
	}
	return nil
}

// parseRange reads a Range header against an object of size bytes. It
// returns the bytes to send; partial is false when the whole object goes
// out. Like S3, a header it cannot parse (or several ranges) is ignored;
// a range starting past the end is InvalidRange.
func parseRange(v string, size int64) (off, n int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	if v == "" || !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	if first == "" { // suffix: the last N bytes
		k, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || k < 0 {
			return 0, size, false, nil
		}
		if k == 0 || size == 0 {
			return 0, 0, false, errInvalidRange
		}
		k = min(k, size)
		return size - k, k, true, nil
	}
	a, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || a < 0 {
		return 0, size, false, nil
	}
	b := size - 1
	if last != "" {
		if b, perr = strconv.ParseInt(last, 10, 64); perr != nil || b < a {
			return 0, size, false, nil
		}
		b = min(b, size-1)
	}
	if a >= size {
		return 0, 0, false, errInvalidRange
	}
	return a, b - a + 1, true, nil
}
