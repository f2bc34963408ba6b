package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The values of x-amz-content-sha256 other than a hash.
const (
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSA           = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	streamingECDSATrailer    = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
)

// payloadMode is how the body is bound to the signature.
type payloadMode int

const (
	modeHash                     payloadMode = iota // hex SHA-256 of the body
	modeUnsigned                                    // not bound at all
	modeStreamingSigned                             // aws-chunked, chunks signed
	modeStreamingSignedTrailer                      // the same, then signed trailers
	modeStreamingUnsignedTrailer                    // aws-chunked, unsigned trailers
	modeStreamingECDSA                              // SigV4A chunk signatures: refused
)

// parsePayload classifies an x-amz-content-sha256 value.
func parsePayload(v string) (payloadMode, bool) {
	switch v {
	case unsignedPayload:
		return modeUnsigned, true
	case streamingSigned:
		return modeStreamingSigned, true
	case streamingSignedTrailer:
		return modeStreamingSignedTrailer, true
	case streamingUnsignedTrailer:
		return modeStreamingUnsignedTrailer, true
	case streamingECDSA, streamingECDSATrailer:
		return modeStreamingECDSA, true
	}
	if len(v) != 2*sha256.Size {
		return 0, false
	}
	if _, err := hex.DecodeString(v); err != nil {
		return 0, false
	}
	return modeHash, true
}

func errBadPayloadHeader() *Error {
	return errInvalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.")
}

// prepareAnonymousBody applies x-amz-content-sha256 to an unsigned
// request's body: a hash is still checked and an unsigned aws-chunked body
// still decoded, so that a public-write bucket stores what the client
// meant. Signed chunks cannot be verified without a signature.
func (v *Verifier) prepareAnonymousBody(r *http.Request) error {
	vs := r.Header["X-Amz-Content-Sha256"]
	if len(vs) == 0 {
		return nil
	}
	mode, ok := parsePayload(vs[0])
	if !ok || len(vs) > 1 {
		return errBadPayloadHeader()
	}
	switch mode {
	case modeStreamingSigned, modeStreamingSignedTrailer, modeStreamingECDSA:
		return errAccessDenied("A streaming signed payload requires a signed request.")
	}
	return prepareBody(r, &request{payload: vs[0], mode: mode}, nil)
}

// prepareBody replaces r.Body with a reader that checks or decodes it as
// the payload line of the (verified) request says. key signs the chunks.
func prepareBody(r *http.Request, req *request, key []byte) error {
	switch req.mode {
	case modeUnsigned:
		return nil
	case modeHash:
		want, _ := hex.DecodeString(req.payload)
		r.Body = &hashReader{body: r.Body, h: sha256.New(), want: want}
		return nil
	case modeStreamingECDSA:
		return errNotImplemented("Signature Version 4A streaming payloads are not supported; use STREAMING-AWS4-HMAC-SHA256-PAYLOAD.")
	}

	decoded := int64(-1)
	if vs := r.Header["X-Amz-Decoded-Content-Length"]; len(vs) > 0 {
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if err != nil || n < 0 || len(vs) > 1 {
			return errInvalidArgument("x-amz-decoded-content-length must be a single non-negative integer.")
		}
		decoded = n
	}
	var signer *chunkSigner
	if req.mode == modeStreamingSigned || req.mode == modeStreamingSignedTrailer {
		signer = &chunkSigner{
			key:       key,
			timestamp: req.timestamp,
			scope:     req.cred.scope(),
			prev:      hexSignature(req.signature),
		}
	}
	var names []string
	trailer := req.mode == modeStreamingSignedTrailer || req.mode == modeStreamingUnsignedTrailer
	if trailer {
		var err *Error
		if names, err = trailerNames(r.Header.Values("X-Amz-Trailer")); err != nil {
			return err
		}
		if r.Trailer == nil {
			r.Trailer = make(http.Header)
		}
	}
	c := newChunkedReader(r.Body, signer, trailer, names, decoded, r.Trailer)
	r.Body = c
	if decoded == 0 {
		// An empty object still has a final chunk and perhaps a trailer
		// to check, and a caller seeing ContentLength 0 may well not read
		// the body. Nor would net/http, which skips discarding unread
		// bodies of requests whose ContentLength is 0 and could then find
		// those bytes in its way on a kept-alive connection. The framing
		// of an empty body is small (bounded by the line and trailer
		// limits), so decode it now.
		if _, err := io.Copy(io.Discard, c); err != nil {
			return err
		}
	}

	r.ContentLength = decoded
	if decoded >= 0 {
		r.Header.Set("Content-Length", strconv.FormatInt(decoded, 10))
	} else {
		r.Header.Del("Content-Length")
	}
	stripAWSChunked(r.Header)
	return nil
}

// trailerNames parses x-amz-trailer: a comma-separated list of the header
// names that follow the final chunk.
func trailerNames(values []string) ([]string, *Error) {
	var names []string
	for _, v := range values {
		for _, n := range strings.Split(v, ",") {
			n = strings.ToLower(strings.TrimSpace(n))
			if n == "" {
				continue
			}
			if !validHeaderName(n) || n == trailerSignatureName {
				return nil, errInvalidArgument("x-amz-trailer names an invalid header: \"" + clip(n) + "\".")
			}
			for _, m := range names {
				if m == n {
					return nil, errInvalidArgument("x-amz-trailer names \"" + clip(n) + "\" twice.")
				}
			}
			names = append(names, n)
		}
	}
	if len(names) > maxTrailers {
		return nil, errInvalidArgument("x-amz-trailer names too many headers.")
	}
	return names, nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return s != ""
}

// stripAWSChunked removes the aws-chunked coding from Content-Encoding:
// it describes the transfer, not the object, and S3 stores only the rest
// (e.g. "gzip").
func stripAWSChunked(h http.Header) {
	vs := h.Values("Content-Encoding")
	if len(vs) == 0 {
		return
	}
	var keep []string
	for _, v := range vs {
		for _, c := range strings.Split(v, ",") {
			c = strings.TrimSpace(c)
			if c != "" && !strings.EqualFold(c, "aws-chunked") {
				keep = append(keep, c)
			}
		}
	}
	if len(keep) == 0 {
		h.Del("Content-Encoding")
		return
	}
	h.Set("Content-Encoding", strings.Join(keep, ","))
}

// hashReader checks the body against x-amz-content-sha256 when it ends.
type hashReader struct {
	body io.ReadCloser
	h    hash.Hash
	want []byte
	err  error // sticky, once the end was reached or a read failed
}

func (hr *hashReader) Read(p []byte) (int, error) {
	if hr.err != nil {
		return 0, hr.err
	}
	n, err := hr.body.Read(p)
	hr.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(hr.h.Sum(nil), hr.want) {
		err = errContentSHA256Mismatch()
	}
	hr.err = err
	return n, err
}

func (hr *hashReader) Close() error { return hr.body.Close() }
