package s3

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// orphanGrace is how long the parts of a deleted or replaced multipart
// object are kept, for reads still streaming them.
const orphanGrace = 10 * time.Minute

// cleanLoop runs Clean periodically.
func (s *Server) cleanLoop(ctx context.Context) {
	every := min(max(s.opts.UploadExpiry/4, time.Second), 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.Clean(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Warn("s3: cleaning multipart uploads", "err", err)
		} else if n > 0 {
			s.log.Info("s3: cleaned multipart uploads", "dropped", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Clean drops the multipart uploads nobody will finish: active ones
// older than UploadExpiry (abandoned), and the parts of objects deleted
// or replaced (after a grace). An upload whose manifest is the current
// object at its key is never dropped, whatever its record says. It
// returns how many uploads were dropped.
func (s *Server) Clean(ctx context.Context, now time.Time) (int, error) {
	// Candidates first: deleting while the listing runs would write to
	// the metadata under its own read.
	type cand struct{ bucket, id string }
	var cands []cand
	for info, err := range s.c.List(ctx, uploadPrefix, "") {
		if err != nil {
			return 0, err
		}
		bucket, id, ok := strings.Cut(strings.TrimPrefix(info.Key, uploadPrefix), "/")
		if !ok || !validUploadID(id) {
			continue
		}
		if s.expired(uploadFromInfo(bucket, id, info), now) {
			cands = append(cands, cand{bucket, id})
		}
	}
	dropped := 0
	for _, c := range cands {
		ok, err := s.cleanUpload(ctx, c.bucket, c.id, now)
		if err != nil {
			return dropped, err
		}
		if ok {
			dropped++
		}
	}
	return dropped, nil
}

// expired reports whether u is old enough to be looked at.
func (s *Server) expired(u *upload, now time.Time) bool {
	if u.State == stateActive {
		return now.Sub(u.Modified) >= s.opts.UploadExpiry
	}
	return now.Sub(u.Modified) >= orphanGrace
}

// cleanUpload drops one upload unless its object uses it, with its state
// read again under the upload's lock (a Complete may have run since the
// listing).
func (s *Server) cleanUpload(ctx context.Context, bucket, id string, now time.Time) (bool, error) {
	mu := s.uploadLock(id)
	mu.Lock()
	defer mu.Unlock()
	info, err := s.c.Stat(ctx, uploadKey(bucket, id))
	if errors.Is(err, zstor.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	u := uploadFromInfo(bucket, id, info)
	if !s.expired(u, now) {
		return false, nil
	}
	cur, err := s.c.Stat(ctx, objectKey(bucket, u.Key))
	if err == nil && cur.UserMeta["s3-multipart"] == id {
		if u.State != stateDone {
			u.State = stateDone
			if err := s.saveUpload(ctx, u); err != nil {
				s.log.Warn("s3: cannot mark upload done", "upload", id, "err", err)
			}
		}
		return false, nil
	}
	if err != nil && !errors.Is(err, zstor.ErrNotFound) {
		return false, err
	}
	if err := s.dropUpload(ctx, bucket, id); err != nil {
		return false, err
	}
	s.log.Info("s3: dropped multipart upload", "bucket", bucket, "key", u.Key, "upload", id, "state", u.State, "age", now.Sub(u.Modified).Round(time.Second))
	return true, nil
}
