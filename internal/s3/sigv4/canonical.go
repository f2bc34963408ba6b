package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// uriEncode appends s to b encoded as SigV4 requires: the unreserved
// characters of RFC 3986 (A-Z a-z 0-9 - . _ ~) as they are, every other
// byte as %XX with upper-case hex. Unlike url.PathEscape and
// url.QueryEscape it escapes the sub-delimiters (! $ & ' ( ) * + , ; = : @)
// and never turns a space into '+', which is what the AWS signers do.
func uriEncode(b *strings.Builder, s string) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// rawPath is the path of u as the client sent it. For a request read by
// net/http, RawPath is the path as sent whenever it differs from Go's own
// encoding of Path, and EscapedPath is that encoding otherwise.
func rawPath(u *url.URL) string {
	p := u.RawPath
	if p == "" {
		p = u.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// canonicalURI is the path of the canonical request as S3 computes it:
// each segment of the path as sent is decoded and encoded once with the
// SigV4 rules (S3, unlike the other AWS services, does not encode twice
// nor normalise "." and ".." segments or repeated slashes). Decoding each
// segment of the raw path, rather than using the decoded URL.Path, keeps an
// encoded slash (%2F) inside a key distinct from a separator. Clients that
// sent a character the rules would have encoded (e.g. '!' or raw UTF-8)
// still match, since what they signed is its encoded form.
func canonicalURI(u *url.URL) string {
	p := rawPath(u)
	var b strings.Builder
	b.Grow(len(p) + 16)
	for i, seg := range strings.Split(p, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if dec, err := url.PathUnescape(seg); err == nil {
			seg = dec
		}
		uriEncode(&b, seg)
	}
	return b.String()
}

// canonicalQuery sorts the query parameters by encoded name then encoded
// value and encodes both with the SigV4 rules. It decodes the query as
// url.ParseQuery does (so '+' is a space, as the Go and Java SDKs send
// spaces, and a parameter that Go cannot decode is left out here just as
// it is invisible to the handlers). skipSignature drops X-Amz-Signature,
// which a presigned URL carries but could not have signed.
func canonicalQuery(rawQuery string, skipSignature bool) string {
	if rawQuery == "" {
		return ""
	}
	values, _ := url.ParseQuery(rawQuery)
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(values))
	var b strings.Builder
	for k, vs := range values {
		if skipSignature && k == "X-Amz-Signature" {
			continue
		}
		b.Reset()
		uriEncode(&b, k)
		ek := b.String()
		for _, v := range vs {
			b.Reset()
			uriEncode(&b, v)
			pairs = append(pairs, pair{ek, b.String()})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	b.Reset()
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// headerValue is the canonical value of the signed header name (lower
// case): its values in the request trimmed, with runs of spaces inside
// collapsed to one, joined by commas. net/http takes Host and
// Transfer-Encoding out of Header, so those come from the request fields.
func headerValue(r *http.Request, name string) string {
	var vs []string
	switch name {
	case "host":
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		vs = []string{host}
	case "content-length":
		vs = r.Header["Content-Length"]
		if len(vs) == 0 && r.ContentLength > 0 {
			vs = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		vs = r.Header["Transfer-Encoding"]
		if len(vs) == 0 {
			vs = r.TransferEncoding
		}
	default:
		vs = r.Header[textproto.CanonicalMIMEHeaderKey(name)]
		if len(vs) == 0 {
			// A header stored under a non-canonical key (set by code
			// rather than read from the wire).
			vs = r.Header[name]
		}
	}
	if len(vs) == 1 {
		return trimAll(vs[0])
	}
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(trimAll(v))
	}
	return b.String()
}

// trimAll removes leading and trailing spaces and collapses inner runs of
// spaces to one, as the SigV4 "Trimall" step does. Only spaces: that is
// what the AWS SDKs strip, and a tab inside a value is signed as is.
func trimAll(s string) string {
	s = strings.Trim(s, " \t")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// canonicalRequest builds the canonical request of r for the given
// canonical URI and query, signed header names (in the order the client
// listed them, which is how it built its own) and payload hash.
func canonicalRequest(r *http.Request, uri, query string, signed []string, payload string) string {
	var b strings.Builder
	b.Grow(256 + len(uri) + len(query))
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// stringToSign is the string whose HMAC is the request signature.
func stringToSign(timestamp, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return algorithm + "\n" + timestamp + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}
