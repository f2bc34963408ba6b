package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/zerostor/zerostor/internal/s3/sigv4"
	"github.com/zerostor/zerostor/zstor"
)

// apiError is an S3 error: a code clients switch on, a message for
// humans and the HTTP status S3 answers it with.
type apiError struct {
	Code    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(code string, status int, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// The errors S3 clients know, with S3's messages.
var (
	errAccessDenied       = &apiError{"AccessDenied", "Access Denied.", http.StatusForbidden}
	errNoSuchBucket       = &apiError{"NoSuchBucket", "The specified bucket does not exist.", http.StatusNotFound}
	errNoSuchKey          = &apiError{"NoSuchKey", "The specified key does not exist.", http.StatusNotFound}
	errNoSuchUpload       = &apiError{"NoSuchUpload", "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", http.StatusNotFound}
	errBucketNotEmpty     = &apiError{"BucketNotEmpty", "The bucket you tried to delete is not empty.", http.StatusConflict}
	errBucketOwned        = &apiError{"BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", http.StatusConflict}
	errInvalidBucketName  = &apiError{"InvalidBucketName", "The specified bucket is not valid.", http.StatusBadRequest}
	errKeyTooLong         = &apiError{"KeyTooLongError", "Your key is too long.", http.StatusBadRequest}
	errInvalidRange       = &apiError{"InvalidRange", "The requested range is not satisfiable.", http.StatusRequestedRangeNotSatisfiable}
	errPrecondition       = &apiError{"PreconditionFailed", "At least one of the preconditions you specified did not hold.", http.StatusPreconditionFailed}
	errBadDigest          = &apiError{"BadDigest", "The Content-MD5 you specified did not match what we received.", http.StatusBadRequest}
	errInvalidDigest      = &apiError{"InvalidDigest", "The Content-MD5 you specified is not valid.", http.StatusBadRequest}
	errEntityTooLarge     = &apiError{"EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", http.StatusBadRequest}
	errEntityTooSmall     = &apiError{"EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", http.StatusBadRequest}
	errMissingLength      = &apiError{"MissingContentLength", "You must provide the Content-Length HTTP header.", http.StatusLengthRequired}
	errIncompleteBody     = &apiError{"IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.", http.StatusBadRequest}
	errMalformedXML       = &apiError{"MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.", http.StatusBadRequest}
	errInvalidPart        = &apiError{"InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", http.StatusBadRequest}
	errInvalidPartOrder   = &apiError{"InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.", http.StatusBadRequest}
	errMetadataTooLarge   = &apiError{"MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", http.StatusBadRequest}
	errMethodNotAllowed   = &apiError{"MethodNotAllowed", "The specified method is not allowed against this resource.", http.StatusMethodNotAllowed}
	errNotImplemented     = &apiError{"NotImplemented", "A header or query you provided implies functionality that is not implemented.", http.StatusNotImplemented}
	errInternal           = &apiError{"InternalError", "We encountered an internal error. Please try again.", http.StatusInternalServerError}
	errSlowDown           = &apiError{"ServiceUnavailable", "Not enough storage backends are reachable; please retry.", http.StatusServiceUnavailable}
	errInvalidLocation    = &apiError{"InvalidLocationConstraint", "The specified location constraint is not valid.", http.StatusBadRequest}
	errNoSuchBucketPolicy = &apiError{"NoSuchBucketPolicy", "The bucket policy does not exist.", http.StatusNotFound}
	errInvalidCopySource  = &apiError{"InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.", http.StatusBadRequest}
	errInvalidMaxKeys     = &apiError{"InvalidArgument", "max-keys must be a non-negative integer.", http.StatusBadRequest}
	errInvalidPartNumber  = &apiError{"InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.", http.StatusBadRequest}
	errInvalidToken       = &apiError{"InvalidArgument", "The continuation token provided is incorrect.", http.StatusBadRequest}
	errCopyToItself       = &apiError{"InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.", http.StatusBadRequest}
	errTooManyDeleteKeys  = &apiError{"MalformedXML", "A DeleteObjects request may name at most 1000 keys.", http.StatusBadRequest}
	errRequestTimeout     = &apiError{"RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period.", http.StatusBadRequest}
	errNotModified        = &apiError{"NotModified", "Not Modified", http.StatusNotModified}
)

// errorBody is S3's error document.
type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string `xml:",omitempty"`
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId"`
}

// toAPI turns any error of a handler into the S3 error to answer: errors
// of the signature check and of the gateway keep their code, zstor's map
// onto the nearest S3 code, the rest is an InternalError (logged).
func toAPI(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &apiError{Code: se.Code, Message: se.Message, Status: se.Status}, true
	}
	switch {
	case errors.Is(err, zstor.ErrNotFound):
		return errNoSuchKey, true
	case errors.Is(err, zstor.ErrUnavailable):
		// Expected while backends are down (the daemon's health and
		// metrics say which): not worth an error line per request.
		return errSlowDown, true
	case errors.Is(err, zstor.ErrConflict):
		return &apiError{"OperationAborted", "A conflicting operation is in progress against this resource; please try again.", http.StatusConflict}, true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errRequestTimeout, true
	}
	return errInternal, false
}

// writeError answers err as S3 XML (no body for HEAD, as S3 does).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rid string, err error) {
	ae, known := toAPI(err)
	if !known {
		s.log.Error("s3: request failed", "method", r.Method, "path", r.URL.Path, "request", rid, "err", err)
	} else {
		s.log.Debug("s3: request refused", "method", r.Method, "path", r.URL.Path, "request", rid, "code", ae.Code, "err", err)
	}
	h := w.Header()
	if ae.Status == http.StatusNotModified {
		// A 304 keeps the object's ETag and Last-Modified (RFC 9110).
		w.WriteHeader(ae.Status)
		return
	}
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		w.WriteHeader(ae.Status)
		return
	}
	body := errorBody{Code: ae.Code, Message: ae.Message, Resource: r.URL.Path, RequestID: rid, HostID: s.hostID}
	out, _ := xml.Marshal(body)
	h.Set("Content-Length", fmt.Sprint(len(xml.Header)+len(out)))
	w.WriteHeader(ae.Status)
	w.Write([]byte(xml.Header))
	w.Write(out)
}

// asAPI reports whether err carries an S3 error of the gateway or of the
// signature check (a streamed body fails its chunk signature mid-read).
func asAPI(err error, out **apiError) bool {
	var se *sigv4.Error
	if errors.As(err, &se) {
		*out = &apiError{Code: se.Code, Message: se.Message, Status: se.Status}
		return true
	}
	return errors.As(err, out)
}
