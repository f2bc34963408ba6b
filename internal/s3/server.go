// Package s3 is zstor's S3-compatible gateway: an http.Handler that maps
// S3 buckets and objects onto a zstor.Client, using zstor's public API
// only.
//
// Layout in the store: object K of bucket B is the zstor object "B/K"
// (bucket names cannot contain '/', so buckets never overlap); the
// gateway's own records live under ".s3/" (bucket names cannot start
// with '.'): bucket markers, multipart upload records and parts. A
// completed multipart upload is a small manifest object naming its parts,
// which stay where they were uploaded: completing a 5 GiB upload costs a
// metadata write, not a copy.
package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zerostor/zerostor/internal/s3/sigv4"
	"github.com/zerostor/zerostor/zstor"
)

// Options configure a Server.
type Options struct {
	// Credentials maps access key IDs to secret keys. Requests must be
	// signed (AWS Signature V4) by one of them.
	Credentials map[string]string
	// Region is the region the gateway answers for and expects in
	// signatures ("us-east-1" when empty).
	Region string
	// AllowAnonymous lets unsigned requests read (GET/HEAD/list); off by
	// default, and writes always need a signature.
	AllowAnonymous bool
	// UploadExpiry is how long a multipart upload may stay without
	// being completed or aborted before the cleaner aborts it (24h when
	// zero).
	UploadExpiry time.Duration
	// IdleTimeout is how long a transfer may stall (no byte read from the
	// client or written to it) before the connection is cut, so that a
	// client gone silent mid-upload does not hold it open forever (2
	// minutes when zero).
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Server serves the S3 API over a zstor.Client.
type Server struct {
	c      *zstor.Client
	opts   Options
	log    *slog.Logger
	auth   *sigv4.Verifier
	hostID string
	owner  owner

	// bucketMu serialises bucket creation and deletion. Puts do not take
	// it (a 5 GiB upload must not stall bucket operations): they check
	// their bucket before and after committing instead.
	bucketMu sync.Mutex
	uploads  uploadLocks
}

// New returns a gateway over c. It fails when no credentials are given
// and anonymous access is not allowed.
func New(c *zstor.Client, opts Options) (*Server, error) {
	if c == nil {
		return nil, errors.New("s3: no zstor client")
	}
	if len(opts.Credentials) == 0 && !opts.AllowAnonymous {
		return nil, errors.New("s3: no credentials: set an access key and secret key, or allow anonymous reads")
	}
	for ak, sk := range opts.Credentials {
		if ak == "" || sk == "" {
			return nil, errors.New("s3: an access key or secret key is empty")
		}
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.UploadExpiry <= 0 {
		opts.UploadExpiry = 24 * time.Hour
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	creds := make(map[string]string, len(opts.Credentials))
	for k, v := range opts.Credentials {
		creds[k] = v
	}
	opts.Credentials = creds
	var id [16]byte
	rand.Read(id[:])
	s := &Server{
		c: c, opts: opts, log: opts.Logger,
		hostID: hex.EncodeToString(id[:]),
		owner:  owner{ID: "zstor", DisplayName: "zstor"},
	}
	s.auth = &sigv4.Verifier{
		Region: opts.Region,
		Lookup: func(ak string) (string, bool) {
			sk, ok := creds[ak]
			return sk, ok
		},
	}
	return s, nil
}

// Serve serves the S3 API on ln until ctx is done, with the gateway's
// HTTP limits (header size and timeouts), and runs the cleaner of
// abandoned multipart uploads meanwhile. On ctx done it stops accepting
// and lets requests in flight finish (up to 30 s).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	cctx, stopClean := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.cleanLoop(cctx)
	}()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
		<-done
	}
	stopClean()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// request is one S3 request being served.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string
	bucket string
	key    string
}

// ServeHTTP serves one S3 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rid [8]byte
	rand.Read(rid[:])
	q := &request{w: w, r: r, id: strings.ToUpper(hex.EncodeToString(rid[:]))}
	h := w.Header()
	h.Set("x-amz-request-id", q.id)
	h.Set("x-amz-id-2", s.hostID)
	h.Set("Server", "zstor")
	if err := s.serve(q); err != nil {
		if errors.Is(err, errAborted) {
			// Headers and part of the body are out: the only honest
			// signal left is to cut the connection.
			panic(http.ErrAbortHandler)
		}
		s.writeError(w, r, q.id, err)
	}
}

// errAborted marks a failure after the response started.
var errAborted = errors.New("s3: response aborted")

// idleConn pushes a connection's deadlines forward while a transfer
// moves. Setting a deadline arms a runtime timer, so it is done when a
// quarter of the idle time has passed, not on every read and write.
type idleConn struct {
	rc           *http.ResponseController
	idle         time.Duration
	rnext, wnext time.Time // when to push the read and write deadlines next
}

func (c *idleConn) touch(next *time.Time, set func(time.Time) error) {
	if now := time.Now(); now.After(*next) {
		set(now.Add(c.idle))
		*next = now.Add(c.idle / 4)
	}
}

// idleBody extends the connection's read deadline as the body is read.
type idleBody struct {
	io.ReadCloser
	c *idleConn
}

func (b idleBody) Read(p []byte) (int, error) {
	b.c.touch(&b.c.rnext, b.c.rc.SetReadDeadline)
	return b.ReadCloser.Read(p)
}

// idleWriter extends the connection's write deadline as the response is
// written.
type idleWriter struct {
	http.ResponseWriter
	c *idleConn
}

func (w idleWriter) Write(p []byte) (int, error) {
	w.c.touch(&w.c.wnext, w.c.rc.SetWriteDeadline)
	return w.ResponseWriter.Write(p)
}

func (w idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) serve(q *request) error {
	r := q.r
	ic := &idleConn{rc: http.NewResponseController(q.w), idle: s.opts.IdleTimeout}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = idleBody{r.Body, ic}
	}
	q.w = idleWriter{q.w, ic}
	res, err := s.auth.Verify(r)
	if err != nil {
		return err
	}
	if res.Anonymous {
		if !s.opts.AllowAnonymous || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			return errAccessDenied
		}
	}
	path := r.URL.Path
	if !strings.HasPrefix(path, "/") {
		return errf("InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI.")
	}
	q.bucket, q.key, _ = strings.Cut(path[1:], "/")
	if q.bucket == "" {
		if r.Method != http.MethodGet {
			return errMethodNotAllowed
		}
		return s.listBuckets(q)
	}
	if !validBucket(q.bucket) {
		return errInvalidBucketName
	}
	if q.key == "" {
		return s.bucketRequest(q)
	}
	if err := checkKey(q.key); err != nil {
		return err
	}
	return s.objectRequest(q)
}

// bucketRequest routes requests on a bucket.
func (s *Server) bucketRequest(q *request) error {
	v := q.r.URL.Query()
	switch q.r.Method {
	case http.MethodPut:
		switch {
		case len(v) == 0:
			return s.createBucket(q)
		case v.Has("versioning"), v.Has("acl"), v.Has("policy"), v.Has("cors"), v.Has("lifecycle"), v.Has("tagging"), v.Has("encryption"):
			return errNotImplemented
		}
	case http.MethodHead:
		_, err := s.bucketInfo(q.r.Context(), q.bucket)
		if err != nil {
			return err
		}
		q.w.Header().Set("x-amz-bucket-region", s.opts.Region)
		q.w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodDelete:
		if len(v) == 0 {
			return s.deleteBucket(q)
		}
		return errNotImplemented
	case http.MethodPost:
		if v.Has("delete") {
			return s.deleteObjects(q)
		}
	case http.MethodGet:
		if _, err := s.bucketInfo(q.r.Context(), q.bucket); err != nil {
			return err
		}
		switch {
		case v.Has("location"):
			loc := s.opts.Region
			if loc == "us-east-1" {
				loc = "" // S3's convention for the default region
			}
			writeXML(q.w, locationConstraint{NS: s3NS, Region: loc})
			return nil
		case v.Has("uploads"):
			return s.listUploads(q)
		case v.Has("versioning"):
			writeXML(q.w, versioningConfiguration{NS: s3NS})
			return nil
		case v.Has("acl"):
			writeXML(q.w, s.ownerACL())
			return nil
		case v.Has("policy"):
			return errNoSuchBucketPolicy
		case v.Has("cors"), v.Has("lifecycle"), v.Has("tagging"), v.Has("encryption"), v.Has("website"),
			v.Has("replication"), v.Has("object-lock"), v.Has("logging"), v.Has("notification"),
			v.Has("accelerate"), v.Has("requestPayment"), v.Has("ownershipControls"), v.Has("publicAccessBlock"):
			return errNotImplemented
		case v.Has("versions"):
			return errNotImplemented
		default:
			return s.listObjects(q)
		}
	}
	return errMethodNotAllowed
}

// objectRequest routes requests on an object.
func (s *Server) objectRequest(q *request) error {
	v := q.r.URL.Query()
	switch q.r.Method {
	case http.MethodPut:
		switch {
		case v.Has("uploadId") && v.Has("partNumber"):
			if q.r.Header.Get("x-amz-copy-source") != "" {
				return s.uploadPartCopy(q)
			}
			return s.uploadPart(q)
		case v.Has("acl"), v.Has("tagging"), v.Has("retention"), v.Has("legal-hold"):
			return errNotImplemented
		case q.r.Header.Get("x-amz-copy-source") != "":
			return s.copyObject(q)
		default:
			return s.putObject(q)
		}
	case http.MethodGet, http.MethodHead:
		switch {
		case v.Has("uploadId"):
			if q.r.Method == http.MethodHead {
				return errMethodNotAllowed
			}
			return s.listParts(q)
		case v.Has("acl"):
			if _, err := s.statObject(q.r.Context(), q.bucket, q.key); err != nil {
				return err
			}
			writeXML(q.w, s.ownerACL())
			return nil
		case v.Has("tagging"):
			if _, err := s.statObject(q.r.Context(), q.bucket, q.key); err != nil {
				return err
			}
			writeXML(q.w, tagging{NS: s3NS})
			return nil
		}
		return s.getObject(q)
	case http.MethodDelete:
		if v.Has("uploadId") {
			return s.abortUpload(q)
		}
		return s.deleteObject(q)
	case http.MethodPost:
		switch {
		case v.Has("uploads"):
			return s.createUpload(q)
		case v.Has("uploadId"):
			return s.completeUpload(q)
		}
	}
	return errMethodNotAllowed
}

func (s *Server) ownerACL() accessControlPolicy {
	p := accessControlPolicy{NS: s3NS, Owner: s.owner}
	var g grant
	g.Grantee.XMLNS = "http://www.w3.org/2001/XMLSchema-instance"
	g.Grantee.Type = "CanonicalUser"
	g.Grantee.ID, g.Grantee.DisplayName = s.owner.ID, s.owner.DisplayName
	g.Permission = "FULL_CONTROL"
	p.Grants = []grant{g}
	return p
}

// objectKey is the zstor key of an S3 object.
func objectKey(bucket, key string) string { return bucket + "/" + key }

// Prefixes of the gateway's own records in the store.
const (
	bucketPrefix = ".s3/b/" // bucket markers: .s3/b/<bucket>
	uploadPrefix = ".s3/u/" // multipart uploads: .s3/u/<bucket>/<upload id>
	partPrefix   = ".s3/p/" // parts: .s3/p/<upload id>/<part number, 5 digits>
)

func partKey(uploadID string, n int) string { return fmt.Sprintf("%s%s/%05d", partPrefix, uploadID, n) }
