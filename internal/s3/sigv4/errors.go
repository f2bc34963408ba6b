package sigv4

import "net/http"

// Error is an S3 error: the caller renders it as S3 XML. Code and Status
// are the ones S3 answers with, so that clients recognise them (the SDKs
// switch on codes such as RequestTimeTooSkewed to correct their clock).
// Messages never contain secrets, signatures we computed or the string we
// signed: they are sent to whoever made the request.
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Each constructor returns a fresh value: callers may keep or change the
// error they get without affecting other requests.

func errSignatureMismatch() *Error {
	return &Error{"SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", http.StatusForbidden}
}

func errInvalidAccessKey() *Error {
	return &Error{"InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", http.StatusForbidden}
}

func errTimeSkewed() *Error {
	return &Error{"RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", http.StatusForbidden}
}

func errAccessDenied(msg string) *Error {
	return &Error{"AccessDenied", msg, http.StatusForbidden}
}

// errMalformedHeader is S3's answer to an Authorization header it cannot
// use, including one scoped to another region or service.
func errMalformedHeader(detail string) *Error {
	return &Error{"AuthorizationHeaderMalformed", "The authorization header is malformed; " + detail, http.StatusBadRequest}
}

// errMalformedQuery is the presigned-URL counterpart of errMalformedHeader.
func errMalformedQuery(detail string) *Error {
	return &Error{"AuthorizationQueryParametersError", detail, http.StatusBadRequest}
}

func errInvalidArgument(msg string) *Error {
	return &Error{"InvalidArgument", msg, http.StatusBadRequest}
}

func errInvalidRequest(msg string) *Error {
	return &Error{"InvalidRequest", msg, http.StatusBadRequest}
}

func errContentSHA256Mismatch() *Error {
	return &Error{"XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", http.StatusBadRequest}
}

// errIncompleteBody reports a body that ended before its framing or its
// declared length said it would.
func errIncompleteBody(detail string) *Error {
	msg := "You did not provide the number of bytes specified by the Content-Length HTTP header."
	if detail != "" {
		msg = "The request body ended early: " + detail + "."
	}
	return &Error{"IncompleteBody", msg, http.StatusBadRequest}
}

// errMalformedChunk reports aws-chunked framing that cannot be parsed.
func errMalformedChunk(detail string) *Error {
	return &Error{"InvalidRequest", "Malformed aws-chunked body: " + detail + ".", http.StatusBadRequest}
}

func errMalformedTrailer(detail string) *Error {
	return &Error{"MalformedTrailerError", "The request contained trailing data that was not well-formed or did not conform to our published schema: " + detail + ".", http.StatusBadRequest}
}

// errBadDigest names the algorithm as S3 does ("The CRC32 you specified
// did not match the calculated checksum.").
func errBadDigest(alg string) *Error {
	return &Error{"BadDigest", "The " + alg + " you specified did not match the calculated checksum.", http.StatusBadRequest}
}

func errNotImplemented(msg string) *Error {
	return &Error{"NotImplemented", msg, http.StatusNotImplemented}
}
