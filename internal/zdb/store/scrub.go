package store

import (
	"context"
	"errors"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/record"
)

// ScrubReport is the outcome of one scrub pass.
type ScrubReport struct {
	Files   int
	Records int64
	Bytes   int64
	Bad     []BadRecord
}

// BadRecord is a record that failed verification. Key is set when the
// header was still readable; Live tells whether the index points at it
// (a live key whose value is lost here).
type BadRecord struct {
	File   uint32
	Offset int64
	Key    []byte
	Live   bool
	Err    string
}

func (s *Store) scrubLoop() {
	defer s.bg.Done()
	wait := min(s.opts.ScrubInterval, 10*time.Second)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		if _, err := s.Scrub(s.ctx, s.opts.ScrubRate); err != nil && s.ctx.Err() == nil {
			s.opts.Logger.Error("scrub failed", "dir", s.opts.DataDir, "err", err)
		}
		wait = s.opts.ScrubInterval
	}
}

// Scrub re-reads every record of every data file and verifies both
// checksums, at most rate bytes per second (0 = unthrottled). Damage is
// logged, counted and reported to Events; the pass goes on past it.
func (s *Store) Scrub(ctx context.Context, rate int64) (ScrubReport, error) {
	s.scrubMu.Lock()
	defer s.scrubMu.Unlock()
	var rep ScrubReport
	s.stats.scrubProgress.Store(0)
	start := time.Now()
	s.mu.RLock()
	ids := s.sortedIDsLocked(false)
	s.mu.RUnlock()
	for _, id := range ids {
		f := s.fileRef(id)
		if f == nil {
			continue // compacted meanwhile
		}
		err := s.scrubFile(ctx, f, rate, start, &rep)
		f.release()
		if err != nil {
			return rep, err
		}
		rep.Files++
	}
	s.stats.scrubPasses.Add(1)
	s.stats.scrubLast.Store(time.Now().Unix())
	return rep, nil
}

func (s *Store) scrubFile(ctx context.Context, f *dataFile, rate int64, start time.Time, rep *ScrubReport) error {
	size := f.size.Load()
	off := int64(0)
	for off < size {
		err := walkFile(f.f, off, size, func(o int64, h record.Header, key []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := int64(h.Len())
			rep.Records++
			rep.Bytes += n
			s.stats.scrubRecords.Add(1)
			s.stats.scrubBytes.Add(n)
			s.stats.scrubProgress.Add(n)
			if rate > 0 {
				// Sleep off any lead over the allowed rate.
				ahead := time.Duration(float64(rep.Bytes)/float64(rate)*float64(time.Second)) - time.Since(start)
				if ahead > 10*time.Millisecond {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(ahead):
					}
				}
			}
			return nil
		})
		var bad *badRecordError
		if err == nil {
			return nil
		}
		if !errors.As(err, &bad) {
			return err
		}
		// A torn tail can only be a write still in flight on the active
		// file (writes go past size only after it was read): stop there.
		if bad.torn && f.id == s.activeID() {
			return nil
		}
		br := BadRecord{File: f.id, Offset: bad.off, Err: bad.cause.Error()}
		if raw, herr := s.readHeader(f.id, bad.off); herr == nil {
			br.Key = raw.Key
			br.Live = s.isLive(raw.Key, f.id, bad.off)
		}
		rep.Bad = append(rep.Bad, br)
		s.stats.scrubErrors.Add(1)
		s.corrupt(f.id, bad.off, bad.cause)
		if bad.hdr != nil {
			off = bad.off + int64(bad.hdr.Len()) // only the value is damaged
			continue
		}
		next := resync(f.f, bad.off, size, false)
		if next < 0 {
			return nil
		}
		off = next
	}
	return nil
}

func (s *Store) activeID() uint32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.active == nil {
		return 0
	}
	return s.active.id
}
