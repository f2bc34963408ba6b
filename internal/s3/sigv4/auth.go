// Package sigv4 verifies AWS Signature Version 4 on requests to an S3
// server, as S3 itself does, so that the AWS SDKs and CLI, minio-go,
// s3cmd and rclone can talk to the gateway: Authorization header and
// presigned URLs, payload hashes, aws-chunked streaming uploads with
// chunk signatures, and trailing checksums.
package sigv4

import (
	"crypto/hmac"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Verifier checks request signatures. Its fields are read-only once
// Verify has been called; Verify may be called concurrently.
type Verifier struct {
	Lookup  func(accessKey string) (secret string, ok bool) // the server's credentials
	Region  string                                          // expected region; requests signed for another region are refused (like S3); "" accepts any region
	Service string                                          // "s3" when empty
	Now     func() time.Time                                // time.Now when nil
	MaxSkew time.Duration                                   // 15 min when zero

	keys keyCache
}

// Result of a verified request.
type Result struct {
	AccessKey string
	Anonymous bool // no Authorization header and no presigned query: caller decides
}

// Verify checks r's signature (Authorization header, or presigned URL query
// X-Amz-Algorithm/X-Amz-Credential/X-Amz-Date/X-Amz-Expires/
// X-Amz-SignedHeaders/X-Amz-Signature). On success it replaces r.Body
// when the payload must be checked or decoded:
//   - x-amz-content-sha256 = hex sha256: reading the body to its end
//     returns an *Error XAmzContentSHA256Mismatch instead of io.EOF when
//     the hash differs;
//   - UNSIGNED-PAYLOAD (or no header on a presigned URL): body untouched;
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked decoding with each
//     chunk's signature verified (chained from the request's signature);
//     a bad chunk signature makes Read return *Error
//     SignatureDoesNotMatch, a truncated stream *Error IncompleteBody;
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER and
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: aws-chunked with trailing
//     headers (named by x-amz-trailer); the trailer signature is verified
//     for the signed variant, and x-amz-checksum-crc32, -crc32c, -crc64nvme,
//     -sha1 and -sha256 trailers against the data (*Error BadDigest when
//     they differ). The trailers are then in r.Trailer.
//
// For aws-chunked payloads it also sets r.ContentLength (and the
// Content-Length header) to x-amz-decoded-content-length, or -1 when that
// header is absent, and strips "aws-chunked" from Content-Encoding, so that
// the caller sees the object as the client meant it. An empty aws-chunked
// object is decoded and checked by Verify itself.
//
// The checks at the end of a body only happen when the caller reads it
// until io.EOF (as io.Copy does): data read before an error must be
// discarded, not stored.
//
// A request without any signature is anonymous: Verify returns
// Result{Anonymous: true} and the caller decides; its body is still
// checked or decoded as its x-amz-content-sha256 says.
//
// Errors are *Error, to be answered as S3 XML, except a failure to read an
// empty streamed body (a dropped connection), returned as it is.
func (v *Verifier) Verify(r *http.Request) (Result, error) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	query := r.URL.Query()
	authz, hasHeader := r.Header["Authorization"]
	presigned := query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Credential") || query.Has("X-Amz-Signature")
	switch {
	case hasHeader && presigned:
		return Result{}, errInvalidArgument("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case !hasHeader && !presigned:
		if query.Has("AWSAccessKeyId") || query.Has("Signature") && query.Has("Expires") {
			return Result{}, errAccessDenied("Signature Version 2 is not supported; use Signature Version 4")
		}
		if err := v.prepareAnonymousBody(r); err != nil {
			return Result{}, err
		}
		return Result{Anonymous: true}, nil
	}

	var (
		req *request
		err *Error
	)
	if hasHeader {
		if len(authz) != 1 {
			return Result{}, errMalformedHeader("the request has more than one Authorization header.")
		}
		req, err = v.parseHeaderAuth(r, authz[0])
	} else {
		req, err = v.parsePresigned(r, query)
	}
	if err != nil {
		return Result{}, err
	}

	var secret string
	ok := false
	if v.Lookup != nil {
		secret, ok = v.Lookup(req.cred.accessKey)
	}
	if !ok {
		return Result{}, errInvalidAccessKey()
	}
	if err := v.checkTime(req); err != nil {
		return Result{}, err
	}
	key := v.keys.get(secret, req.cred.date, req.cred.region, req.cred.service)
	if !req.signatureMatches(r, key) {
		return Result{}, errSignatureMismatch()
	}
	if req.presigned {
		if err := unsignedAmzHeaders(r, req.signedHeaders); err != nil {
			return Result{}, err
		}
	}
	if err := prepareBody(r, req, key); err != nil {
		return Result{}, err
	}
	return Result{AccessKey: req.cred.accessKey}, nil
}

// request is a parsed signed request.
type request struct {
	authParams
	presigned bool
	timestamp string    // as signed: X-Amz-Date, or Date in ISO 8601
	t         time.Time // the time of the timestamp
	expires   time.Duration
	payload   string // the payload hash line of the canonical request
	mode      payloadMode
}

// service is the service the credential scope must name.
func (v *Verifier) service() string {
	if v.Service == "" {
		return "s3"
	}
	return v.Service
}

// parseHeaderAuth parses a request signed in its Authorization header.
func (v *Verifier) parseHeaderAuth(r *http.Request, authz string) (*request, *Error) {
	p, err := parseAuthorization(authz)
	if err != nil {
		return nil, err
	}
	req := &request{authParams: p}
	if msg := v.checkScope(p.cred); msg != "" {
		return nil, errMalformedHeader(msg)
	}
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, ok := parseAmzDate(d)
		if !ok {
			return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
		}
		req.timestamp, req.t = d, t
	} else if d := r.Header.Get("Date"); d != "" {
		// Signers that send only Date sign its time in ISO 8601.
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
		}
		req.t = t.UTC()
		req.timestamp = req.t.Format(iso8601)
	} else {
		return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
	}
	if req.timestamp[:8] != p.cred.date {
		return nil, errMalformedHeader("Invalid credential date \"" + p.cred.date + "\". This date is not the same as X-Amz-Date: \"" + req.timestamp[:8] + "\".")
	}
	// S3 requires the payload hash on header-signed requests: it is the
	// only thing that binds the body to the signature.
	vs := r.Header["X-Amz-Content-Sha256"]
	if len(vs) == 0 {
		return nil, errInvalidRequest("Missing required header for this request: x-amz-content-sha256")
	}
	if len(vs) != 1 {
		return nil, errInvalidArgument("The request has more than one x-amz-content-sha256 header.")
	}
	mode, ok := parsePayload(vs[0])
	if !ok {
		return nil, errBadPayloadHeader()
	}
	req.payload, req.mode = vs[0], mode
	return req, nil
}

// parsePresigned parses a request signed in its query (a presigned URL).
func (v *Verifier) parsePresigned(r *http.Request, q url.Values) (*request, *Error) {
	const missing = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	var f [6]string
	for i, name := range [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		vs := q[name]
		if len(vs) == 0 || vs[0] == "" {
			return nil, errMalformedQuery(missing)
		}
		if len(vs) > 1 {
			return nil, errMalformedQuery("The query parameter " + name + " is repeated.")
		}
		f[i] = vs[0]
	}
	alg, cred, sig, date, signed, expires := f[0], f[1], f[2], f[3], f[4], f[5]
	if alg != algorithm {
		return nil, errMalformedQuery("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	req := &request{presigned: true}
	var msg string
	if req.cred, msg = parseCredential(cred); msg != "" {
		return nil, errMalformedQuery("Error parsing the X-Amz-Credential parameter; " + msg)
	}
	if msg = v.checkScope(req.cred); msg != "" {
		return nil, errMalformedQuery("Error parsing the X-Amz-Credential parameter; " + msg)
	}
	if req.signedHeaders, msg = parseSignedHeaders(signed); msg != "" {
		return nil, errMalformedQuery("Error parsing the X-Amz-SignedHeaders parameter; " + msg)
	}
	if req.signature = parseSignature(sig); req.signature == nil {
		return nil, errSignatureMismatch()
	}
	t, ok := parseAmzDate(date)
	if !ok {
		return nil, errMalformedQuery("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	req.timestamp, req.t = date, t
	if date[:8] != req.cred.date {
		return nil, errMalformedQuery("Invalid credential date \"" + req.cred.date + "\". This date is not the same as X-Amz-Date: \"" + date[:8] + "\".")
	}
	n, err := strconv.ParseInt(expires, 10, 64)
	switch {
	case err != nil && !isDigits(expires):
		return nil, errMalformedQuery("X-Amz-Expires should be a number")
	case err != nil || n > maxExpires:
		return nil, errMalformedQuery("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	case n < 0:
		return nil, errMalformedQuery("X-Amz-Expires must be non-negative")
	case n == 0:
		return nil, errMalformedQuery("X-Amz-Expires must be positive")
	}
	req.expires = time.Duration(n) * time.Second

	// A presigned URL cannot know the body, so it signs UNSIGNED-PAYLOAD
	// unless the client put a hash in the query or a header.
	req.payload, req.mode = unsignedPayload, modeUnsigned
	pv := q["X-Amz-Content-Sha256"]
	if len(pv) == 0 {
		pv = r.Header["X-Amz-Content-Sha256"]
	}
	if len(pv) > 1 {
		return nil, errInvalidArgument("The request has more than one x-amz-content-sha256.")
	}
	if len(pv) == 1 {
		mode, ok := parsePayload(pv[0])
		if !ok {
			return nil, errBadPayloadHeader()
		}
		req.payload, req.mode = pv[0], mode
	}
	return req, nil
}

func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkScope checks the region and service of the credential scope; the
// message says what is wrong, "" when nothing is.
func (v *Verifier) checkScope(c credential) string {
	if v.Region != "" && c.region != v.Region {
		return "the region '" + clip(c.region) + "' is wrong; expecting '" + v.Region + "'"
	}
	if c.service != v.service() {
		return "incorrect service \"" + clip(c.service) + "\". This endpoint belongs to \"" + v.service() + "\"."
	}
	return ""
}

// checkTime refuses requests signed too far from now, and presigned URLs
// past their expiry.
func (v *Verifier) checkTime(req *request) *Error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = 15 * time.Minute
	}
	if req.presigned {
		// A presigned URL is meant to be used later: only a signing time
		// ahead of our clock is a skew.
		if req.t.Sub(now) > skew {
			return errTimeSkewed()
		}
		if now.After(req.t.Add(req.expires)) {
			return errAccessDenied("Request has expired")
		}
		return nil
	}
	if d := now.Sub(req.t); d > skew || d < -skew {
		return errTimeSkewed()
	}
	return nil
}

// signatureMatches computes the request's signature and compares it with
// the client's in constant time.
//
// The canonical URI is first the path re-encoded with the SigV4 rules, as
// correct signers compute it; when that fails and the path as sent
// differs, the path as sent is tried too, for signers that sign their
// request line verbatim. Both describe the same bytes on the wire, so
// accepting either lets no one change what was signed.
func (req *request) signatureMatches(r *http.Request, key []byte) bool {
	query := canonicalQuery(r.URL.RawQuery, req.presigned)
	uri := canonicalURI(r.URL)
	scope := req.cred.scope()
	try := func(uri string) bool {
		cr := canonicalRequest(r, uri, query, req.signedHeaders, req.payload)
		return hmac.Equal(hmacSHA256(key, stringToSign(req.timestamp, scope, cr)), req.signature)
	}
	if try(uri) {
		return true
	}
	if raw := rawPath(r.URL); raw != uri {
		return try(raw)
	}
	return false
}

// unsignedAmzHeaders refuses a presigned request carrying x-amz-* headers
// that the URL did not sign, as S3 does: whoever holds the URL must not be
// able to add, say, x-amz-acl or metadata to the signer's upload. The
// payload hash header is exempt: when it is used, it is signed as the
// payload line.
func unsignedAmzHeaders(r *http.Request, signed []string) *Error {
	var missing []string
	for name := range r.Header {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "x-amz-") || lower == "x-amz-content-sha256" {
			continue
		}
		found := false
		for _, s := range signed {
			if s == lower {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, lower)
		}
	}
	if len(missing) > 0 {
		return errAccessDenied("There were headers present in the request which were not signed: " + clip(strings.Join(missing, ", ")))
	}
	return nil
}

// hexSignature is the lower-case hex form of sig, as it seeds the chain of
// chunk signatures.
func hexSignature(sig []byte) string { return hex.EncodeToString(sig) }
