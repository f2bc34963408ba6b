package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zerostor/zerostor/internal/s3/sigv4"
	"github.com/zerostor/zerostor/zstor"
)

// maxPutSize is S3's limit for one PUT (and one part): 5 GiB.
const maxPutSize = 5 << 30

// maxUserMeta is S3's limit on x-amz-meta-* headers, in bytes.
const maxUserMeta = 2 << 10

// maxStoredMeta bounds the attributes stored from a request's headers
// (names and values, x-amz-meta-* and the standard ones).
const maxStoredMeta = 8 << 10

// storedHeaders are the standard headers kept with an object and given
// back on GET and HEAD.
var storedHeaders = []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}

// objInfo is an S3 object as stored.
type objInfo struct {
	Key      string // zstor key
	Size     int64
	ETag     string // without quotes
	Modified time.Time
	Meta     map[string]string
	Version  string
	Upload   string // the multipart upload a manifest object assembles, or ""
	Parts    int
}

func toObjInfo(i zstor.ObjectInfo) objInfo {
	o := objInfo{Key: i.Key, Size: i.Size, Modified: i.Modified, Meta: i.UserMeta, Version: i.Version, ETag: i.UserMeta["s3-etag"]}
	if o.ETag == "" {
		// Stored without the gateway (zstor's CLI): an opaque tag from the
		// content's BLAKE3 checksum.
		o.ETag = i.Checksum[:min(32, len(i.Checksum))]
	}
	if id := i.UserMeta["s3-multipart"]; id != "" {
		o.Upload = id
		o.Size, _ = strconv.ParseInt(i.UserMeta["s3-size"], 10, 64)
		o.Parts, _ = strconv.Atoi(i.UserMeta["s3-parts"])
	}
	return o
}

// statObject finds bucket/key: NoSuchKey, or NoSuchBucket when the bucket
// is missing too.
func (s *Server) statObject(ctx context.Context, bucket, key string) (objInfo, error) {
	o, err := s.lookupObject(ctx, bucket, key)
	if errors.Is(err, errNoSuchKey) {
		if berr := s.requireBucket(ctx, bucket); berr != nil {
			return objInfo{}, berr
		}
	}
	return o, err
}

// lookupObject finds bucket/key (errNoSuchKey) without looking at the
// bucket, for callers that have.
func (s *Server) lookupObject(ctx context.Context, bucket, key string) (objInfo, error) {
	i, err := s.c.Stat(ctx, objectKey(bucket, key))
	if errors.Is(err, zstor.ErrNotFound) {
		return objInfo{}, errNoSuchKey
	}
	if err != nil {
		return objInfo{}, err
	}
	return toObjInfo(i), nil
}

// headerMeta collects the attributes of a new object from request
// headers: the standard ones and x-amz-meta-*.
func headerMeta(h http.Header) (map[string]string, error) {
	um := map[string]string{}
	for _, name := range storedHeaders {
		if v := h.Get(name); v != "" {
			um[strings.ToLower(name)] = v
		}
	}
	if ce := um["content-encoding"]; ce != "" {
		// aws-chunked is the transfer's encoding, not the object's.
		var keep []string
		for _, e := range strings.Split(ce, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 {
			delete(um, "content-encoding")
		} else {
			um["content-encoding"] = strings.Join(keep, ",")
		}
	}
	n := 0
	for name, vs := range h {
		lname := strings.ToLower(name)
		if !strings.HasPrefix(lname, "x-amz-meta-") {
			continue
		}
		v := strings.Join(vs, ",")
		um[lname] = v
		n += len(lname) - len("x-amz-meta-") + len(v)
	}
	if n > maxUserMeta {
		return nil, errMetadataTooLarge
	}
	// All of it as stored (zstor caps an object's metadata at 16 KiB, and
	// the gateway adds its own entries): S3 caps a PUT's headers at 8 KB.
	stored := 0
	for k, v := range um {
		stored += len(k) + len(v)
	}
	if stored > maxStoredMeta {
		return nil, errMetadataTooLarge
	}
	return um, nil
}

// setObjectHeaders writes the response headers describing o.
func setObjectHeaders(h http.Header, o objInfo, v url.Values) {
	h.Set("ETag", `"`+o.ETag+`"`)
	h.Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "binary/octet-stream")
	for _, name := range storedHeaders {
		if val := o.Meta[strings.ToLower(name)]; val != "" {
			h.Set(name, val)
		}
	}
	for k, val := range o.Meta {
		if strings.HasPrefix(k, "x-amz-meta-") {
			h[http.CanonicalHeaderKey(k)] = []string{val}
		}
	}
	if o.Upload != "" && o.Parts > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(o.Parts))
	}
	// Overrides asked for by the request (presigned downloads use them).
	for _, name := range storedHeaders {
		if val := v.Get("response-" + strings.ToLower(name)); val != "" {
			h.Set(name, val)
		}
	}
}

func (s *Server) getObject(q *request) error {
	ctx := q.r.Context()
	var (
		o         objInfo
		rd        io.ReadCloser
		off, n    int64
		isPartial bool
	)
	// The reader is opened before any header goes out, and must be of the
	// version stat described: an overwrite in between means stat again.
	for attempt := 0; ; attempt++ {
		var err error
		o, err = s.statObject(ctx, q.bucket, q.key)
		if err != nil {
			return err
		}
		if err := checkConditions(q.r.Header, o.ETag, o.Modified, true); err != nil {
			if errors.Is(err, errNotModified) {
				setObjectHeaders(q.w.Header(), o, nil)
			}
			return err
		}
		if pn := q.r.URL.Query().Get("partNumber"); pn != "" {
			if q.r.Header.Get("Range") != "" {
				return errf("InvalidRequest", http.StatusBadRequest, "Cannot specify both Range header and partNumber query parameter")
			}
			part, perr := strconv.Atoi(pn)
			if perr != nil || part < 1 || part > maxPartNumber {
				return errInvalidPartNumber
			}
			if off, n, err = s.partRange(ctx, o, part); err != nil {
				return err
			}
			// A single-part object's part 1 is all of it, answered 200.
			isPartial = o.Upload != ""
		} else {
			off, n, isPartial, err = parseRange(q.r.Header.Get("Range"), o.Size)
			if err != nil {
				q.w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", o.Size))
				return err
			}
		}
		if q.r.Method == http.MethodHead {
			break
		}
		var version string
		rd, version, err = s.openObject(ctx, o, off, n)
		if err != nil {
			if errors.Is(err, zstor.ErrNotFound) && attempt < 3 {
				continue // replaced or deleted since stat
			}
			return err
		}
		if version == o.Version {
			break
		}
		rd.Close()
		if attempt >= 3 {
			return &apiError{"OperationAborted", "The object kept changing while it was read; please try again.", http.StatusConflict}
		}
	}
	h := q.w.Header()
	setObjectHeaders(h, o, q.r.URL.Query())
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status := http.StatusOK
	if isPartial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, o.Size))
		status = http.StatusPartialContent
	}
	if rd == nil { // HEAD
		q.w.WriteHeader(status)
		return nil
	}
	defer rd.Close()
	q.w.WriteHeader(status)
	if _, err := io.Copy(q.w, rd); err != nil {
		if ctx.Err() == nil {
			s.log.Error("s3: get failed mid-stream", "bucket", q.bucket, "key", q.key, "request", q.id, "err", err)
		}
		return errAborted
	}
	return nil
}

// openObject opens n bytes of o from off, and returns the version read.
func (s *Server) openObject(ctx context.Context, o objInfo, off, n int64) (io.ReadCloser, string, error) {
	if o.Upload != "" {
		return s.openManifest(ctx, o, off, n)
	}
	if n == 0 {
		return io.NopCloser(strings.NewReader("")), o.Version, nil
	}
	rd, err := s.c.Get(ctx, o.Key, zstor.GetOptions{Offset: off, Length: n})
	if err != nil {
		return nil, "", err
	}
	return rd, rd.Info().Version, nil
}

func (s *Server) putObject(q *request) error {
	ctx := q.r.Context()
	if err := s.requireBucket(ctx, q.bucket); err != nil {
		return err
	}
	um, err := headerMeta(q.r.Header)
	if err != nil {
		return err
	}
	prev, hadPrev, err := s.prevVersion(q)
	if err != nil {
		return err
	}
	body, err := newBodyReader(q.r, maxPutSize)
	if err != nil {
		return err
	}
	defer body.Close()
	info, err := s.putVersion(ctx, q, body, um, prev, hadPrev)
	if err != nil {
		return err
	}
	q.w.Header().Set("ETag", `"`+info.UserMeta["s3-etag"]+`"`)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// prevVersion finds the version a write to q's key replaces (hadPrev
// false: none) and checks the request's write conditions against it. The
// caller has checked the bucket.
func (s *Server) prevVersion(q *request) (prev objInfo, hadPrev bool, err error) {
	prev, err = s.lookupObject(q.r.Context(), q.bucket, q.key)
	if err != nil && !errors.Is(err, errNoSuchKey) {
		return prev, false, err
	}
	hadPrev = err == nil
	return prev, hadPrev, checkWriteConditions(q.r.Header, prev, hadPrev)
}

// putVersion stores body as the new version of q's key, replacing prev.
func (s *Server) putVersion(ctx context.Context, q *request, body *bodyReader, um map[string]string, prev objInfo, hadPrev bool) (zstor.ObjectInfo, error) {
	info, err := s.c.Put(ctx, objectKey(q.bucket, q.key), body, zstor.PutOptions{UserMeta: um, FinalMeta: body.etagMeta})
	if err != nil {
		return info, bodyError(err)
	}
	return info, s.afterCommit(ctx, q.bucket, q.key, prev, hadPrev)
}

// afterCommit runs once a new version of bucket/key is committed: the
// parts of a replaced multipart object become garbage, and an object
// that landed in a bucket deleted meanwhile is removed again.
func (s *Server) afterCommit(ctx context.Context, bucket, key string, prev objInfo, hadPrev bool) error {
	if hadPrev && prev.Upload != "" {
		s.orphanUpload(ctx, bucket, prev.Upload)
	}
	if err := s.requireBucket(ctx, bucket); err != nil {
		if errors.Is(err, errNoSuchBucket) {
			s.c.Delete(context.WithoutCancel(ctx), objectKey(bucket, key))
		}
		return err
	}
	return nil
}

// bodyError maps the failure of a Put to the S3 error of the body's
// fault when it was the body's.
func bodyError(err error) error {
	var ae *apiError
	if asAPI(err, &ae) {
		return ae
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errIncompleteBody
	}
	return err
}

// bodyReader checks a request body while zstor reads it: its length
// against Content-Length, its MD5 against Content-MD5, and a checksum
// header when one is given; the MD5 becomes the ETag.
type bodyReader struct {
	r       io.Reader
	md5     *asyncMD5
	want    []byte // Content-MD5, or nil
	size    int64  // bytes announced
	n       int64
	checked bool
}

func newBodyReader(r *http.Request, limit int64) (*bodyReader, error) {
	size := r.ContentLength
	if size < 0 {
		return nil, errMissingLength
	}
	if size > limit {
		return nil, errEntityTooLarge
	}
	b := &bodyReader{r: r.Body, size: size}
	if cm := r.Header.Get("Content-MD5"); cm != "" {
		want, err := base64.StdEncoding.DecodeString(cm)
		if err != nil || len(want) != md5.Size {
			return nil, errInvalidDigest
		}
		b.want = want
	}
	b.md5 = newMD5(size) // last: nobody closes b when this fails
	if alg, want, ok := sigv4.ChecksumHeader(r.Header); ok {
		b.r = sigv4.VerifyChecksumReader(io.NopCloser(b.r), alg, want)
	}
	return b, nil
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if rest := b.size - b.n; int64(len(p)) > rest+1 {
		p = p[:rest+1] // one byte more than announced shows a long body
	}
	n, err := b.r.Read(p)
	b.md5.Write(p[:n])
	b.n += int64(n)
	if b.n > b.size {
		return n, errf("IncompleteBody", http.StatusBadRequest, "the body is longer than Content-Length")
	}
	switch {
	case err == io.EOF:
		if b.n != b.size {
			return n, errIncompleteBody
		}
		if b.want != nil && string(b.md5.Sum()) != string(b.want) {
			return n, errBadDigest
		}
		b.checked = true
		return n, io.EOF
	case err != nil:
		var ae *apiError
		if asAPI(err, &ae) {
			return n, ae
		}
		return n, fmt.Errorf("%w: reading the request body: %v", errIncompleteBody, err)
	}
	return n, nil
}

// Close releases the MD5 goroutine.
func (b *bodyReader) Close() { b.md5.Close() }

// etagMeta is the FinalMeta of a put: the content's MD5 is its ETag.
func (b *bodyReader) etagMeta() (map[string]string, error) {
	if !b.checked {
		return nil, errIncompleteBody
	}
	return map[string]string{"s3-etag": hex.EncodeToString(b.md5.Sum())}, nil
}

func (s *Server) deleteObject(q *request) error {
	ctx := q.r.Context()
	if err := s.deleteOne(ctx, q.bucket, q.key); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteOne deletes bucket/key; a missing key is not an error (S3).
func (s *Server) deleteOne(ctx context.Context, bucket, key string) error {
	o, err := s.statObject(ctx, bucket, key)
	if errors.Is(err, errNoSuchKey) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.c.Delete(ctx, o.Key); err != nil && !errors.Is(err, zstor.ErrNotFound) {
		return err
	}
	if o.Upload != "" {
		s.orphanUpload(ctx, bucket, o.Upload)
	}
	return nil
}

func (s *Server) deleteObjects(q *request) error {
	ctx := q.r.Context()
	if err := s.requireBucket(ctx, q.bucket); err != nil {
		return err
	}
	var req deleteRequest
	if err := readXML(q.r.Body, &req); err != nil {
		return err
	}
	if len(req.Objects) > 1000 {
		return errTooManyDeleteKeys
	}
	if len(req.Objects) == 0 {
		return errMalformedXML
	}
	out := deleteResult{NS: s3NS}
	for _, obj := range req.Objects {
		err := checkKey(obj.Key)
		if err == nil {
			err = s.deleteOne(ctx, q.bucket, obj.Key)
		}
		if err != nil {
			ae, known := toAPI(err)
			if !known {
				s.log.Error("s3: delete failed", "bucket", q.bucket, "key", obj.Key, "err", err)
			}
			out.Errors = append(out.Errors, deleteErrorEntry{Key: obj.Key, Code: ae.Code, Message: ae.Message})
			continue
		}
		if !req.Quiet {
			out.Deleted = append(out.Deleted, deletedEntry{Key: obj.Key})
		}
	}
	writeXML(q.w, out)
	return nil
}

// copySource parses x-amz-copy-source: "[/]bucket/key[?versionId=...]",
// URL-encoded.
func copySource(h http.Header) (bucket, key string, err error) {
	src := h.Get("x-amz-copy-source")
	path, version, _ := strings.Cut(src, "?")
	if version != "" {
		v, perr := url.ParseQuery(version)
		if perr != nil || (v.Get("versionId") != "" && v.Get("versionId") != "null") {
			return "", "", errf("InvalidArgument", http.StatusBadRequest, "versions are not supported: the copy source cannot name a versionId")
		}
	}
	path, uerr := url.PathUnescape(path)
	if uerr != nil {
		return "", "", errInvalidCopySource
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || key == "" || bucket == "" {
		return "", "", errInvalidCopySource
	}
	if !validBucket(bucket) {
		return "", "", errInvalidBucketName
	}
	if err := checkKey(key); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}

// openCopySource stats and opens the source of a copy, checking the
// x-amz-copy-source-if-* conditions, for the range [off, off+n) (n < 0:
// all of it).
func (s *Server) openCopySource(ctx context.Context, h http.Header, off, n int64) (objInfo, io.ReadCloser, error) {
	bucket, key, err := copySource(h)
	if err != nil {
		return objInfo{}, nil, err
	}
	for attempt := 0; attempt < 4; attempt++ {
		src, err := s.statObject(ctx, bucket, key)
		if err != nil {
			return objInfo{}, nil, err
		}
		if err := checkCopyConditions(h, src.ETag, src.Modified); err != nil {
			return objInfo{}, nil, err
		}
		if n < 0 {
			off, n = 0, src.Size
		}
		if off+n > src.Size {
			return objInfo{}, nil, errf("InvalidArgument", http.StatusBadRequest, "the x-amz-copy-source-range is not within the source object (%d bytes)", src.Size)
		}
		rd, version, err := s.openObject(ctx, src, off, n)
		if errors.Is(err, zstor.ErrNotFound) {
			continue
		}
		if err != nil {
			return objInfo{}, nil, err
		}
		if version == src.Version {
			return src, rd, nil
		}
		rd.Close()
	}
	return objInfo{}, nil, &apiError{"OperationAborted", "The copy source kept changing while it was read; please try again.", http.StatusConflict}
}

func (s *Server) copyObject(q *request) error {
	ctx := q.r.Context()
	if err := s.requireBucket(ctx, q.bucket); err != nil {
		return err
	}
	sb, sk, err := copySource(q.r.Header)
	if err != nil {
		return err
	}
	replace := strings.EqualFold(q.r.Header.Get("x-amz-metadata-directive"), "REPLACE")
	if sb == q.bucket && sk == q.key && !replace {
		return errCopyToItself
	}
	src, rd, err := s.openCopySource(ctx, q.r.Header, 0, -1)
	if err != nil {
		return err
	}
	defer rd.Close()
	if src.Size > maxPutSize {
		return errf("InvalidRequest", http.StatusBadRequest, "The specified copy source is larger than the maximum allowable size for a copy source: %d", int64(maxPutSize))
	}
	var um map[string]string
	if replace {
		if um, err = headerMeta(q.r.Header); err != nil {
			return err
		}
	} else {
		um = map[string]string{}
		for k, v := range src.Meta {
			if !strings.HasPrefix(k, "s3-") {
				um[k] = v
			}
		}
	}
	prev, hadPrev, err := s.prevVersion(q)
	if err != nil {
		return err
	}
	body := &bodyReader{r: rd, md5: newMD5(src.Size), size: src.Size}
	defer body.Close()
	info, err := s.putVersion(ctx, q, body, um, prev, hadPrev)
	if err != nil {
		return err
	}
	writeXML(q.w, copyObjectResult{NS: s3NS, LastModified: isoTime(info.Modified), ETag: `"` + info.UserMeta["s3-etag"] + `"`})
	return nil
}
