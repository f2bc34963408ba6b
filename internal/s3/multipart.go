package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// S3's multipart limits.
const (
	maxPartNumber = 10000
	minPartSize   = 5 << 20 // every part but the last
	maxManifest   = 4 << 20 // 10,000 parts take about 0.6 MiB
)

// Upload record states (UserMeta "s3-state" of .s3/u/<bucket>/<id>).
const (
	stateActive     = "active"     // parts may be uploaded
	stateCompleting = "completing" // a Complete is writing the manifest
	stateDone       = "done"       // the manifest at its key uses the parts
	stateOrphan     = "orphan"     // its object was deleted or replaced
)

// upload is a multipart upload's record.
type upload struct {
	Bucket, ID string
	Key        string
	State      string
	Initiated  time.Time
	Modified   time.Time
	Meta       map[string]string // attributes for the object
}

func uploadKey(bucket, id string) string { return uploadPrefix + bucket + "/" + id }

func (u *upload) userMeta() map[string]string {
	um := map[string]string{"s3-key": u.Key, "s3-state": u.State, "s3-initiated": u.Initiated.UTC().Format(time.RFC3339Nano)}
	for k, v := range u.Meta {
		um[k] = v
	}
	return um
}

func uploadFromInfo(bucket, id string, i zstor.ObjectInfo) *upload {
	u := &upload{Bucket: bucket, ID: id, Key: i.UserMeta["s3-key"], State: i.UserMeta["s3-state"], Modified: i.Modified, Meta: map[string]string{}}
	u.Initiated, _ = time.Parse(time.RFC3339Nano, i.UserMeta["s3-initiated"])
	for k, v := range i.UserMeta {
		if !strings.HasPrefix(k, "s3-") {
			u.Meta[k] = v
		}
	}
	return u
}

// saveUpload writes u's record.
func (s *Server) saveUpload(ctx context.Context, u *upload) error {
	_, err := s.c.Put(ctx, uploadKey(u.Bucket, u.ID), bytes.NewReader(nil), zstor.PutOptions{UserMeta: u.userMeta()})
	return err
}

// validUploadID: ids are 32 hex digits; anything else never names one
// (and never reaches a store key).
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// loadUpload finds the active upload id of bucket/key.
func (s *Server) loadUpload(ctx context.Context, bucket, key, id string) (*upload, error) {
	if !validUploadID(id) {
		return nil, errNoSuchUpload
	}
	i, err := s.c.Stat(ctx, uploadKey(bucket, id))
	if errors.Is(err, zstor.ErrNotFound) {
		if berr := s.requireBucket(ctx, bucket); berr != nil {
			return nil, berr
		}
		return nil, errNoSuchUpload
	}
	if err != nil {
		return nil, err
	}
	u := uploadFromInfo(bucket, id, i)
	if u.Key != key || u.State != stateActive {
		return nil, errNoSuchUpload
	}
	return u, nil
}

func (s *Server) createUpload(q *request) error {
	ctx := q.r.Context()
	if err := s.requireBucket(ctx, q.bucket); err != nil {
		return err
	}
	um, err := headerMeta(q.r.Header)
	if err != nil {
		return err
	}
	var raw [16]byte
	rand.Read(raw[:])
	u := &upload{Bucket: q.bucket, ID: hex.EncodeToString(raw[:]), Key: q.key, State: stateActive, Initiated: time.Now(), Meta: um}
	if err := s.saveUpload(ctx, u); err != nil {
		return err
	}
	writeXML(q.w, initiateMultipartUploadResult{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: u.ID})
	return nil
}

// partNumber reads ?partNumber=.
func partNumber(q *request) (int, error) {
	n, err := strconv.Atoi(q.r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > maxPartNumber {
		return 0, errInvalidPartNumber
	}
	return n, nil
}

// partTarget reads the part number and finds the active upload of an
// UploadPart(Copy), holding the upload's lock shared until unlock:
// shared with other parts, exclusive of Complete, Abort and the cleaner,
// so a part never lands in an upload completed meanwhile (it would
// replace a part the object uses).
func (s *Server) partTarget(q *request) (u *upload, n int, unlock func(), err error) {
	if n, err = partNumber(q); err != nil {
		return nil, 0, nil, err
	}
	id := q.r.URL.Query().Get("uploadId")
	mu := s.uploadLock(id)
	mu.RLock()
	if u, err = s.loadUpload(q.r.Context(), q.bucket, q.key, id); err != nil {
		mu.RUnlock()
		return nil, 0, nil, err
	}
	return u, n, mu.RUnlock, nil
}

func (s *Server) uploadPart(q *request) error {
	ctx := q.r.Context()
	u, n, unlock, err := s.partTarget(q)
	if err != nil {
		return err
	}
	defer unlock()
	body, err := newBodyReader(q.r, maxPutSize)
	if err != nil {
		return err
	}
	defer body.Close()
	info, err := s.putPart(ctx, u, n, body)
	if err != nil {
		return err
	}
	q.w.Header().Set("ETag", `"`+info.UserMeta["s3-etag"]+`"`)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// putPart stores part n of u from body. A part that lands after its
// upload was aborted or completed is deleted again.
func (s *Server) putPart(ctx context.Context, u *upload, n int, body *bodyReader) (zstor.ObjectInfo, error) {
	info, err := s.c.Put(ctx, partKey(u.ID, n), body, zstor.PutOptions{FinalMeta: body.etagMeta})
	if err != nil {
		return info, bodyError(err)
	}
	if _, err := s.loadUpload(ctx, u.Bucket, u.Key, u.ID); err != nil {
		if errors.Is(err, errNoSuchUpload) {
			s.c.Delete(context.WithoutCancel(ctx), partKey(u.ID, n))
		}
		return info, err
	}
	return info, nil
}

func (s *Server) uploadPartCopy(q *request) error {
	ctx := q.r.Context()
	u, n, unlock, err := s.partTarget(q)
	if err != nil {
		return err
	}
	defer unlock()
	off, length := int64(0), int64(-1)
	if rg := q.r.Header.Get("x-amz-copy-source-range"); rg != "" {
		first, last, ok := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
		a, aerr := strconv.ParseInt(first, 10, 64)
		b, berr := strconv.ParseInt(last, 10, 64)
		if !strings.HasPrefix(rg, "bytes=") || !ok || aerr != nil || berr != nil || a < 0 || b < a {
			return errf("InvalidArgument", http.StatusBadRequest, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		off, length = a, b-a+1
	}
	if length > maxPutSize {
		return errEntityTooLarge
	}
	src, rd, err := s.openCopySource(ctx, q.r.Header, off, length)
	if err != nil {
		return err
	}
	defer rd.Close()
	if length < 0 {
		length = src.Size
		if length > maxPutSize {
			return errEntityTooLarge
		}
	}
	body := &bodyReader{r: rd, md5: newMD5(length), size: length}
	defer body.Close()
	info, err := s.putPart(ctx, u, n, body)
	if err != nil {
		return err
	}
	writeXML(q.w, copyPartResult{NS: s3NS, LastModified: isoTime(info.Modified), ETag: `"` + info.UserMeta["s3-etag"] + `"`})
	return nil
}

// manifest is the body of a completed multipart object: its parts, in
// order, which stay under .s3/p/<upload>/.
type manifest struct {
	Upload string         `json:"upload"`
	Parts  []manifestPart `json:"parts"`
}

type manifestPart struct {
	N       int    `json:"n"`
	Size    int64  `json:"size"`
	Version string `json:"version"` // the part's zstor version, checked on read
}

func (s *Server) completeUpload(q *request) error {
	ctx := q.r.Context()
	id := q.r.URL.Query().Get("uploadId")
	var req completeMultipartUpload
	if err := readXML(q.r.Body, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 {
		return errf("MalformedXML", http.StatusBadRequest, "You must specify at least one part")
	}
	mu := s.uploadLock(id)
	mu.Lock()
	defer mu.Unlock()
	if len(req.Parts) > maxPartNumber {
		return errMalformedXML
	}
	u, err := s.loadUpload(ctx, q.bucket, q.key, id)
	if errors.Is(err, errNoSuchUpload) {
		// A retried Complete whose first attempt succeeded: answer the
		// same, as S3 does.
		if o, serr := s.statObject(ctx, q.bucket, q.key); serr == nil && o.Upload == id {
			s.writeComplete(q, o.ETag)
			return nil
		}
	}
	if err != nil {
		return err
	}
	m := manifest{Upload: u.ID}
	sums := md5.New()
	var total int64
	// The list's shape first: an unordered list is InvalidPartOrder
	// whatever its parts' sizes or ETags.
	for i, p := range req.Parts {
		if p.PartNumber < 1 || p.PartNumber > maxPartNumber {
			return errInvalidPartNumber
		}
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			return errInvalidPartOrder
		}
	}
	for i, p := range req.Parts {
		info, err := s.c.Stat(ctx, partKey(u.ID, p.PartNumber))
		if errors.Is(err, zstor.ErrNotFound) {
			return errInvalidPart
		}
		if err != nil {
			return err
		}
		etag := info.UserMeta["s3-etag"]
		if strings.Trim(p.ETag, `"`) != etag {
			return errInvalidPart
		}
		if i < len(req.Parts)-1 && info.Size < minPartSize {
			return errEntityTooSmall
		}
		raw, _ := hex.DecodeString(etag)
		sums.Write(raw)
		total += info.Size
		m.Parts = append(m.Parts, manifestPart{N: p.PartNumber, Size: info.Size, Version: info.Version})
	}
	etag := fmt.Sprintf("%s-%d", hex.EncodeToString(sums.Sum(nil)), len(m.Parts))
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	prev, hadPrev, err := s.prevVersion(q)
	if err != nil {
		return err
	}
	// The record says "completing" before the manifest exists, so that
	// the cleaner, which never drops an upload its object uses, cannot
	// take the parts between the two writes.
	u.State = stateCompleting
	if err := s.saveUpload(ctx, u); err != nil {
		return err
	}
	um := map[string]string{
		"s3-etag": etag, "s3-size": strconv.FormatInt(total, 10),
		"s3-multipart": u.ID, "s3-parts": strconv.Itoa(len(m.Parts)),
	}
	for k, v := range u.Meta {
		um[k] = v
	}
	if _, err := s.c.Put(ctx, objectKey(q.bucket, q.key), bytes.NewReader(body), zstor.PutOptions{UserMeta: um}); err != nil {
		u.State = stateActive // the client may retry
		if serr := s.saveUpload(context.WithoutCancel(ctx), u); serr != nil {
			s.log.Error("s3: complete failed and the upload could not be reopened", "bucket", q.bucket, "key", q.key, "upload", u.ID, "err", serr)
		}
		return err
	}
	u.State = stateDone
	if err := s.saveUpload(ctx, u); err != nil {
		// The manifest is committed: the cleaner finds the record
		// "completing" and its object using it, and keeps the parts.
		s.log.Warn("s3: upload record not marked done", "upload", u.ID, "err", err)
	}
	// Parts uploaded but not named in the Complete are garbage now.
	bg := context.WithoutCancel(ctx)
	if stored, err := s.storedParts(bg, u.ID); err == nil {
		used := make(map[int]bool, len(m.Parts))
		for _, p := range m.Parts {
			used[p.N] = true
		}
		for _, n := range stored {
			if !used[n] {
				s.c.Delete(bg, partKey(u.ID, n))
			}
		}
	}
	if err := s.afterCommit(ctx, q.bucket, q.key, prev, hadPrev); err != nil {
		return err
	}
	s.writeComplete(q, etag)
	return nil
}

func (s *Server) writeComplete(q *request, etag string) {
	writeXML(q.w, completeMultipartUploadResult{
		NS: s3NS, Location: "/" + q.bucket + "/" + q.key, Bucket: q.bucket, Key: q.key, ETag: `"` + etag + `"`,
	})
}

func (s *Server) abortUpload(q *request) error {
	ctx := q.r.Context()
	id := q.r.URL.Query().Get("uploadId")
	mu := s.uploadLock(id)
	mu.Lock()
	defer mu.Unlock()
	if _, err := s.loadUpload(ctx, q.bucket, q.key, id); err != nil {
		return err
	}
	if err := s.dropUpload(ctx, q.bucket, id); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadLocks serialise what changes an upload's state (Complete, Abort,
// the cleaner) against part uploads. One process serves a store (its
// metadata is locked), so locks in memory suffice; uploads share 256
// stripes.
type uploadLocks [256]sync.RWMutex

func (s *Server) uploadLock(id string) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &s.uploads[h.Sum32()%uint32(len(s.uploads))]
}

// storedParts lists the numbers of the parts stored for upload id, read
// whole before the caller deletes any (no writes under the listing).
func (s *Server) storedParts(ctx context.Context, id string) ([]int, error) {
	var out []int
	for info, err := range s.c.List(ctx, partPrefix+id+"/", "") {
		if err != nil {
			return nil, err
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(info.Key, partPrefix+id+"/")); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// dropUpload deletes an upload's parts, then its record (a crash in
// between leaves the record, and the cleaner finishes the job).
func (s *Server) dropUpload(ctx context.Context, bucket, id string) error {
	stored, err := s.storedParts(ctx, id)
	if err != nil {
		return err
	}
	for _, n := range stored {
		if err := s.c.Delete(ctx, partKey(id, n)); err != nil && !errors.Is(err, zstor.ErrNotFound) {
			return err
		}
	}
	if err := s.c.Delete(ctx, uploadKey(bucket, id)); err != nil && !errors.Is(err, zstor.ErrNotFound) {
		return err
	}
	return nil
}

// orphanUpload marks the upload of a deleted or replaced multipart
// object: the cleaner drops its parts once reads still streaming them
// have had time to finish.
func (s *Server) orphanUpload(ctx context.Context, bucket, id string) {
	ctx = context.WithoutCancel(ctx)
	i, err := s.c.Stat(ctx, uploadKey(bucket, id))
	if err != nil {
		return
	}
	u := uploadFromInfo(bucket, id, i)
	u.State = stateOrphan
	if err := s.saveUpload(ctx, u); err != nil {
		s.log.Warn("s3: cannot mark upload orphaned; the cleaner will find it", "upload", id, "err", err)
	}
}

func (s *Server) listParts(q *request) error {
	ctx := q.r.Context()
	v := q.r.URL.Query()
	u, err := s.loadUpload(ctx, q.bucket, q.key, v.Get("uploadId"))
	if err != nil {
		return err
	}
	max := 1000
	if m := v.Get("max-parts"); m != "" {
		if max, err = strconv.Atoi(m); err != nil || max < 0 {
			return errf("InvalidArgument", http.StatusBadRequest, "max-parts must be a non-negative integer")
		}
		max = min(max, 1000)
	}
	marker := 0
	if m := v.Get("part-number-marker"); m != "" {
		if marker, err = strconv.Atoi(m); err != nil || marker < 0 {
			return errf("InvalidArgument", http.StatusBadRequest, "part-number-marker must be a non-negative integer")
		}
	}
	out := listPartsResult{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: u.ID, Initiator: s.owner, Owner: s.owner,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: max}
	after := ""
	if marker > 0 {
		after = partKey(u.ID, min(marker, maxPartNumber))
	}
	for info, err := range s.c.List(ctx, partPrefix+u.ID+"/", after) {
		if err != nil {
			return err
		}
		if len(out.Parts) == max {
			out.IsTruncated = true
			break
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(info.Key, partPrefix+u.ID+"/"))
		out.Parts = append(out.Parts, partEntry{PartNumber: n, LastModified: isoTime(info.Modified), ETag: `"` + info.UserMeta["s3-etag"] + `"`, Size: info.Size})
		out.NextPartNumberMarker = n
	}
	writeXML(q.w, out)
	return nil
}

func (s *Server) listUploads(q *request) error {
	ctx := q.r.Context()
	v := q.r.URL.Query()
	prefix, delimiter := v.Get("prefix"), v.Get("delimiter")
	keyMarker, idMarker := v.Get("key-marker"), v.Get("upload-id-marker")
	max := 1000
	if m := v.Get("max-uploads"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return errf("InvalidArgument", http.StatusBadRequest, "max-uploads must be a non-negative integer")
		}
		max = min(n, 1000)
	}
	var ups []*upload
	base := uploadPrefix + q.bucket + "/"
	for info, err := range s.c.List(ctx, base, "") {
		if err != nil {
			return err
		}
		u := uploadFromInfo(q.bucket, strings.TrimPrefix(info.Key, base), info)
		if u.State != stateActive || !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		if keyMarker != "" && (u.Key < keyMarker || (u.Key == keyMarker && (idMarker == "" || u.ID <= idMarker))) {
			continue
		}
		ups = append(ups, u)
	}
	slices.SortFunc(ups, func(a, b *upload) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.Initiated.Compare(b.Initiated)
	})
	out := listMultipartUploadsResult{NS: s3NS, Bucket: q.bucket, KeyMarker: keyMarker, UploadIDMarker: idMarker,
		Delimiter: delimiter, Prefix: prefix, MaxUploads: max}
	seen := map[string]bool{}
	for _, u := range ups {
		if len(out.Uploads)+len(out.CommonPrefixes) == max {
			out.IsTruncated = true
			break
		}
		if delimiter != "" {
			if i := strings.Index(u.Key[len(prefix):], delimiter); i >= 0 {
				cp := u.Key[:len(prefix)+i+len(delimiter)]
				if !seen[cp] {
					seen[cp] = true
					out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: cp})
				}
				out.NextKeyMarker, out.NextUploadIDMarker = u.Key, u.ID
				continue
			}
		}
		out.Uploads = append(out.Uploads, uploadEntry{Key: u.Key, UploadID: u.ID, Initiator: s.owner, Owner: s.owner,
			StorageClass: "STANDARD", Initiated: isoTime(u.Initiated)})
		out.NextKeyMarker, out.NextUploadIDMarker = u.Key, u.ID
	}
	if !out.IsTruncated {
		out.NextKeyMarker, out.NextUploadIDMarker = "", ""
	}
	writeXML(q.w, out)
	return nil
}

// openManifest opens n bytes from off of the multipart object o.
func (s *Server) openManifest(ctx context.Context, o objInfo, off, n int64) (io.ReadCloser, string, error) {
	m, version, err := s.readManifest(ctx, o)
	if err != nil {
		return nil, "", err
	}
	pr, err := newPartsReader(ctx, s, m, off, n)
	if err != nil {
		return nil, "", err
	}
	return pr, version, nil
}

// readManifest reads the manifest of the multipart object o, and the
// version it read.
func (s *Server) readManifest(ctx context.Context, o objInfo) (manifest, string, error) {
	var m manifest
	rd, err := s.c.Get(ctx, o.Key, zstor.GetOptions{})
	if err != nil {
		return m, "", err
	}
	version := rd.Info().Version
	raw, err := io.ReadAll(io.LimitReader(rd, maxManifest+1))
	rd.Close()
	if err != nil {
		return m, "", err
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(raw) > maxManifest {
		return m, "", fmt.Errorf("s3: %s: damaged multipart manifest: %v", o.Key, err)
	}
	return m, version, nil
}

// partRange is the byte range of GET ?partNumber=N: the N-th part of a
// multipart object (counted in order, as the parts count header does),
// or all of a single-part object for N = 1.
func (s *Server) partRange(ctx context.Context, o objInfo, n int) (off, length int64, err error) {
	errPart := &apiError{"InvalidPartNumber", "The requested partnumber is not satisfiable", http.StatusRequestedRangeNotSatisfiable}
	if o.Upload == "" {
		if n != 1 {
			return 0, 0, errPart
		}
		return 0, o.Size, nil
	}
	m, _, err := s.readManifest(ctx, o)
	if err != nil {
		return 0, 0, err
	}
	if n > len(m.Parts) {
		return 0, 0, errPart
	}
	for _, p := range m.Parts[:n-1] {
		off += p.Size
	}
	return off, m.Parts[n-1].Size, nil
}

// partsReader streams a byte range of a multipart object, part by part,
// with the next part opened while the current one is read: each part is a
// zstor object whose pipeline would otherwise start cold at every part
// boundary.
type partsReader struct {
	s     *Server
	ctx   context.Context
	up    string
	spans []partSpan // what is left to open
	left  int64
	cur   *zstor.Reader
	ahead *zstor.Reader
	aerr  error // opening ahead failed; reported when it is needed
}

// partSpan is the piece of one part a read covers.
type partSpan struct {
	part     manifestPart
	off, len int64
}

func newPartsReader(ctx context.Context, s *Server, m manifest, off, n int64) (*partsReader, error) {
	p := &partsReader{s: s, ctx: ctx, up: m.Upload, left: n}
	rest := n
	for _, mp := range m.Parts {
		if rest == 0 {
			break
		}
		if off >= mp.Size {
			off -= mp.Size
			continue
		}
		l := min(mp.Size-off, rest)
		p.spans = append(p.spans, partSpan{part: mp, off: off, len: l})
		rest -= l
		off = 0
	}
	if rest > 0 {
		return nil, fmt.Errorf("s3: upload %s: the manifest's parts end before its size", m.Upload)
	}
	return p, nil
}

// open opens the next span.
func (p *partsReader) open() (*zstor.Reader, error) {
	sp := p.spans[0]
	p.spans = p.spans[1:]
	rd, err := p.s.c.Get(p.ctx, partKey(p.up, sp.part.N), zstor.GetOptions{Offset: sp.off, Length: sp.len})
	if err != nil {
		return nil, fmt.Errorf("s3: part %d of upload %s: %w", sp.part.N, p.up, err)
	}
	if rd.Info().Version != sp.part.Version {
		rd.Close()
		return nil, fmt.Errorf("s3: part %d of upload %s changed after completion", sp.part.N, p.up)
	}
	return rd, nil
}

// advance makes the next part current and opens the one after it.
func (p *partsReader) advance() error {
	switch {
	case p.ahead != nil:
		p.cur, p.ahead = p.ahead, nil
	case p.aerr != nil:
		return p.aerr
	case len(p.spans) == 0:
		return io.ErrUnexpectedEOF
	default:
		rd, err := p.open()
		if err != nil {
			return err
		}
		p.cur = rd
	}
	if len(p.spans) > 0 {
		p.ahead, p.aerr = p.open()
	}
	return nil
}

// WriteTo streams the rest to w with each part's own WriteTo (one copy
// less than Read).
func (p *partsReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for p.left > 0 {
		if p.cur == nil {
			if err := p.advance(); err != nil {
				return total, err
			}
		}
		n, err := p.cur.WriteTo(w)
		total += n
		p.left -= n
		p.cur.Close()
		p.cur = nil
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.left == 0 {
			return 0, io.EOF
		}
		if p.cur == nil {
			if err := p.advance(); err != nil {
				return 0, err
			}
		}
		n, err := p.cur.Read(b[:min(int64(len(b)), p.left)])
		p.left -= int64(n)
		if err == io.EOF {
			p.cur.Close()
			p.cur = nil
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (p *partsReader) Close() error {
	for _, rd := range []*zstor.Reader{p.cur, p.ahead} {
		if rd != nil {
			rd.Close()
		}
	}
	p.cur, p.ahead = nil, nil
	return nil
}
