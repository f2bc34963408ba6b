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
	dropped := 0
	for info, err := range s.c.List(ctx, uploadPrefix, "") {
		if err != nil {
			return dropped, err
		}
		bucket, id, ok := strings.Cut(strings.TrimPrefix(info.Key, uploadPrefix), "/")
		if !ok || !validUploadID(id) {
			continue
		}
		u := uploadFromInfo(bucket, id, info)
		age := now.Sub(u.Modified)
		switch u.State {
		case stateActive:
			if age < s.opts.UploadExpiry {
				continue
			}
		default:
			if age < orphanGrace {
				continue
			}
		}
		cur, err := s.c.Stat(ctx, objectKey(bucket, u.Key))
		if err == nil && cur.UserMeta["s3-multipart"] == id {
			if u.State != stateDone {
				u.State = stateDone
				s.saveUpload(ctx, u)
			}
			continue
		}
		if err != nil && !errors.Is(err, zstor.ErrNotFound) {
			return dropped, err
		}
		if err := s.dropUpload(ctx, bucket, id); err != nil {
			return dropped, err
		}
		s.log.Info("s3: dropped multipart upload", "bucket", bucket, "key", u.Key, "upload", id, "state", u.State, "age", age.Round(time.Second))
		dropped++
	}
	return dropped, nil
}
