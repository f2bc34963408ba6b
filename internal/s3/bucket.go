package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// bucketMeta is what a bucket marker records.
type bucketMeta struct {
	Created time.Time
}

func (s *Server) bucketInfo(ctx context.Context, bucket string) (bucketMeta, error) {
	st, err := s.c.Stat(ctx, bucketPrefix+bucket)
	if errors.Is(err, zstor.ErrNotFound) {
		return bucketMeta{}, errNoSuchBucket
	}
	if err != nil {
		return bucketMeta{}, err
	}
	created, err := time.Parse(time.RFC3339Nano, st.UserMeta["s3-created"])
	if err != nil {
		created = st.Modified
	}
	return bucketMeta{Created: created}, nil
}

func (s *Server) createBucket(q *request) error {
	ctx := q.r.Context()
	if q.r.ContentLength != 0 {
		var cfg createBucketConfiguration
		if err := readXML(q.r.Body, &cfg); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if loc := cfg.LocationConstraint; loc != "" && loc != s.opts.Region && !(loc == "US" && s.opts.Region == "us-east-1") {
			return errInvalidLocation
		}
	}
	s.bucketMu.Lock()
	defer s.bucketMu.Unlock()
	if _, err := s.bucketInfo(ctx, q.bucket); err == nil {
		return errBucketOwned
	} else if !errors.Is(err, errNoSuchBucket) {
		return err
	}
	um := map[string]string{"s3-created": time.Now().UTC().Format(time.RFC3339Nano)}
	if _, err := s.c.Put(ctx, bucketPrefix+q.bucket, bytes.NewReader(nil), zstor.PutOptions{UserMeta: um}); err != nil {
		return err
	}
	q.w.Header().Set("Location", "/"+q.bucket)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(q *request) error {
	ctx := q.r.Context()
	s.bucketMu.Lock()
	defer s.bucketMu.Unlock()
	if _, err := s.bucketInfo(ctx, q.bucket); err != nil {
		return err
	}
	for _, err := range s.c.List(ctx, objectKey(q.bucket, ""), "") {
		if err != nil {
			return err
		}
		return errBucketNotEmpty
	}
	// Uploads in progress go with the bucket, as in S3.
	var ids []string
	for info, err := range s.c.List(ctx, uploadPrefix+q.bucket+"/", "") {
		if err != nil {
			return err
		}
		ids = append(ids, strings.TrimPrefix(info.Key, uploadPrefix+q.bucket+"/"))
	}
	for _, id := range ids {
		mu := s.uploadLock(id)
		mu.Lock()
		err := s.dropUpload(ctx, q.bucket, id)
		mu.Unlock()
		if err != nil {
			return err
		}
	}
	if err := s.c.Delete(ctx, bucketPrefix+q.bucket); err != nil && !errors.Is(err, zstor.ErrNotFound) {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listBuckets(q *request) error {
	out := listAllMyBucketsResult{NS: s3NS, Owner: s.owner, Buckets: []bucketEntry{}}
	for info, err := range s.c.List(q.r.Context(), bucketPrefix, "") {
		if err != nil {
			return err
		}
		created, perr := time.Parse(time.RFC3339Nano, info.UserMeta["s3-created"])
		if perr != nil {
			created = info.Modified
		}
		out.Buckets = append(out.Buckets, bucketEntry{Name: strings.TrimPrefix(info.Key, bucketPrefix), CreationDate: isoTime(created)})
	}
	writeXML(q.w, out)
	return nil
}

// requireBucket fails with NoSuchBucket unless bucket exists.
func (s *Server) requireBucket(ctx context.Context, bucket string) error {
	_, err := s.bucketInfo(ctx, bucket)
	return err
}
