package daemon

import (
	"context"
	"errors"
	"net/http"

	"github.com/zerostor/zerostor/zstor"
)

// Error kinds on the wire, each standing for one of zstor's sentinel
// errors ("internal" for anything else).
const (
	KindNotFound    = "not_found"
	KindInvalid     = "invalid"
	KindUnavailable = "unavailable"
	KindBadKey      = "bad_key"
	KindCorrupt     = "corrupt"
	KindClosed      = "closed"
	KindConflict    = "conflict"
	KindCanceled    = "canceled"
	KindInternal    = "internal"
)

var kinds = []struct {
	kind   string
	err    error
	status int
}{
	{KindNotFound, zstor.ErrNotFound, http.StatusNotFound},
	{KindInvalid, zstor.ErrInvalid, http.StatusBadRequest},
	{KindBadKey, zstor.ErrBadKey, http.StatusForbidden},
	{KindCorrupt, zstor.ErrCorrupt, http.StatusUnprocessableEntity},
	{KindUnavailable, zstor.ErrUnavailable, http.StatusServiceUnavailable},
	{KindClosed, zstor.ErrClosed, http.StatusServiceUnavailable},
	// An object changed while it was being rebuilt or repaired: the
	// caller may try again.
	{KindConflict, zstor.ErrConflict, http.StatusConflict},
	{KindCanceled, context.Canceled, 499},
}

// Kind classifies err by the zstor sentinel it wraps.
func Kind(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindUnavailable
	}
	return KindInternal
}

func statusOf(kind string) int {
	for _, k := range kinds {
		if k.kind == kind {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// RemoteError is an error the daemon reported. errors.Is matches it
// against the zstor sentinel of its kind, so callers handle it exactly as
// the same error from a client opened in-process.
type RemoteError struct {
	Kind string // one of the Kind constants
	Msg  string // the daemon's error text
}

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the sentinel error of the kind, or nil.
func (e *RemoteError) Unwrap() error {
	for _, k := range kinds {
		if k.kind == e.Kind {
			return k.err
		}
	}
	return nil
}

// errorBody is the JSON of an error reply, and of an error line ending a
// listing.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}
