package s3

import (
	"net"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxKeyLen is S3's limit on object keys, in bytes.
const maxKeyLen = 1024

// validBucket reports whether name follows S3's bucket naming rules:
// 3 to 63 characters of lowercase letters, digits, '.' and '-', starting
// and ending with a letter or digit, no "..", not an IP address.
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	return net.ParseIP(name) == nil
}

// checkKey refuses keys S3 refuses (too long, empty) and the ones this
// gateway refuses so that no front end over the same store can be led
// outside a directory: invalid UTF-8, control characters such as NUL, and
// "." or ".." path segments.
func checkKey(key string) error {
	switch {
	case key == "":
		return errf("InvalidArgument", http.StatusBadRequest, "the object key is empty")
	case len(key) > maxKeyLen:
		return errKeyTooLong
	case !utf8.ValidString(key):
		return errf("InvalidArgument", http.StatusBadRequest, "the object key is not valid UTF-8")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return errf("InvalidArgument", http.StatusBadRequest, "the object key contains control character %U", r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." || seg == "." {
			return errf("InvalidArgument", http.StatusBadRequest, "the object key contains a %q path segment", seg)
		}
	}
	return nil
}
