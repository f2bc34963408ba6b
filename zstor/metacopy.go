package zstor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// Every committed record is also written, encrypted under the metadata
// key, to a few backends, so the local store can be rebuilt from the
// config and key alone (Recover). A deletion writes a tombstone. Recover
// keeps, per object, the newest of the copies it finds.
const (
	metaReplicas = 4
	copyMagic    = "ZSM1"
	kindObject   = 1
	kindDeleted  = 2
)

// copyKey is where an object's record copy lives, following 0-stor's
// layout: /{prefix}/meta/{hash of the key}.
func (c *Client) copyKey(objKey string) []byte {
	h := blake3.Sum256([]byte(objKey))
	return []byte("/" + c.metaPrefix + "/meta/" + hex.EncodeToString(h[:16]))
}

// copyTargets orders the metadata backends for a record by rendezvous
// hashing, reachable ones first.
func (c *Client) copyTargets(ck []byte) []*backend {
	type scored struct {
		b    *backend
		down bool
		h    [32]byte
	}
	s := make([]scored, len(c.top().metaCopies))
	for i, b := range c.top().metaCopies {
		s[i] = scored{b, b.down(), blake3.Sum256(append(slices.Clip(ck), b.id...))}
	}
	slices.SortFunc(s, func(a, b scored) int {
		if a.down != b.down {
			if a.down {
				return 1
			}
			return -1
		}
		return bytes.Compare(a.h[:], b.h[:])
	})
	out := make([]*backend, len(s))
	for i := range s {
		out[i] = s[i].b
	}
	return out
}

func (c *Client) seal(plain []byte) ([]byte, error) {
	a, err := c.metaKey.AEAD()
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(copyMagic)+a.NonceSize(), len(copyMagic)+a.NonceSize()+len(plain)+a.Overhead())
	copy(out, copyMagic)
	if _, err := rand.Read(out[len(copyMagic):]); err != nil {
		return nil, err
	}
	return a.Seal(out, out[len(copyMagic):], plain, []byte(copyMagic)), nil
}

func (c *Client) unseal(sealed []byte) ([]byte, error) {
	a, err := c.metaKey.AEAD()
	if err != nil {
		return nil, err
	}
	h := len(copyMagic) + a.NonceSize()
	if len(sealed) < h+a.Overhead() || string(sealed[:len(copyMagic)]) != copyMagic {
		return nil, errors.New("not a metadata copy")
	}
	return a.Open(nil, sealed[len(copyMagic):h], sealed[h:], []byte(copyMagic))
}

// putMetaCopies writes o's record (or, with o nil, a tombstone for key)
// to the metadata backends: min(4, n) copies, at least min(2, n) of which
// must land.
func (c *Client) putMetaCopies(ctx context.Context, key string, o *meta.Object) error {
	if len(c.top().metaCopies) == 0 {
		return nil
	}
	var plain []byte
	if o != nil {
		rec, err := o.MarshalBinary()
		if err != nil {
			return err
		}
		plain = append([]byte{kindObject}, rec...)
	} else {
		plain = binary.LittleEndian.AppendUint64([]byte{kindDeleted}, uint64(time.Now().UnixNano()))
		plain = append(plain, key...)
	}
	sealed, err := c.seal(plain)
	if err != nil {
		return err
	}
	ck := c.copyKey(key)
	targets := c.copyTargets(ck)
	want := min(metaReplicas, len(targets))
	need := min(2, want)
	// Write to the preferred targets first, and to a further one for each
	// that fails. Once need copies landed, the others get the grace a
	// block's straggling shards get: a backend that stopped answering
	// must not hold every commit up for the shard timeout.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, len(targets))
	next, inflight := 0, 0
	launch := func() {
		b := targets[next]
		next++
		inflight++
		go func() {
			err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) error {
				_, err := cl.Set(ctx, ck, sealed)
				return err
			})
			if err != nil {
				err = fmt.Errorf("%s: %w", b.id, err)
			}
			results <- err
		}()
	}
	for next < want {
		launch()
	}
	start := time.Now()
	var grace <-chan time.Time
	var errs []string
	ok := 0
wait:
	for ok < want && inflight > 0 {
		select {
		case err := <-results:
			inflight--
			if err != nil {
				errs = append(errs, err.Error())
				if next < len(targets) {
					launch()
				}
				continue
			}
			ok++
			if ok >= need && grace == nil {
				grace = time.After(min(max(3*time.Since(start), minGrace), c.opts.StragglerGrace))
			}
		case <-grace:
			break wait
		}
	}
	if ok < need {
		return fmt.Errorf("%w: metadata copy stored on %d backends, need %d: %s", ErrUnavailable, ok, need, strings.Join(errs, "; "))
	}
	return nil
}

// restoreMetaCopies puts the copies back in line with the local store
// after a commit failed half way.
func (c *Client) restoreMetaCopies(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := c.store.Get(ctx, key)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		// Unknown state: a tombstone could be wrong. The local store
		// stays the reference; Recover keeps the newest copy.
		c.log.Warn("metadata copies may be ahead of the store", "key", key, "err", err)
		return
	}
	if err := c.putMetaCopies(ctx, key, cur); err != nil {
		c.log.Warn("metadata copies may be ahead of the store", "key", key, "err", err)
	}
}

// Recover rebuilds the local metadata store from the copies on the
// backends: for each object the newest copy wins; tombstones delete. It
// returns how many objects it restored or updated.
func (c *Client) Recover(ctx context.Context) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	if len(c.top().metaCopies) == 0 {
		return 0, errors.New("zstor: recover: no backend holds metadata copies (all are sequential-mode and no [meta] backends are configured)")
	}
	newest, failed, err := c.scanCopies(ctx)
	if err != nil {
		return 0, fmt.Errorf("zstor: recover: %w", err)
	}
	if failed == len(c.top().metaCopies) {
		return 0, fmt.Errorf("zstor: recover: no metadata backend could be scanned")
	}
	n := 0
	for _, f := range newest {
		adopted, err := c.adopt(ctx, f.key, f.o, f.when)
		if err != nil {
			return n, fmt.Errorf("zstor: recover: %w", err)
		}
		if adopted {
			n++
		}
	}
	return n, nil
}

// copyFound is the newest copy of one record found on the backends.
type copyFound struct {
	when time.Time
	o    *meta.Object // nil: deleted
	key  string
}

// scanCopies reads every metadata copy on the metadata backends and keeps
// the newest per record. failed counts the backends that could not be
// scanned; a copy that does not open or decode is logged and skipped.
func (c *Client) scanCopies(ctx context.Context) (newest map[string]copyFound, failed int, err error) {
	newest = map[string]copyFound{}
	prefix := []byte("/" + c.metaPrefix + "/meta/")
	for _, b := range c.top().metaCopies {
		err := scanAll(ctx, b, func(e zdbclient.ScanEntry) error {
			if !bytes.HasPrefix(e.Key, prefix) {
				return nil
			}
			var val []byte
			err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
				val, err = cl.Get(ctx, e.Key)
				return err
			})
			if err != nil {
				c.log.Warn("unreadable metadata copy", "backend", b.id, "err", err)
				return nil
			}
			plain, err := c.unseal(val)
			if err != nil || len(plain) < 1 {
				c.log.Warn("metadata copy does not open with the metadata key", "backend", b.id)
				return nil
			}
			var f copyFound
			switch plain[0] {
			case kindObject:
				o, err := meta.Unmarshal(plain[1:])
				if err != nil || verifyRoot(o) != nil {
					c.log.Warn("corrupt metadata copy", "backend", b.id, "err", err)
					return nil
				}
				f = copyFound{o.Modified, o, o.Key}
			case kindDeleted:
				if len(plain) < 9 {
					return nil
				}
				f = copyFound{time.Unix(0, int64(binary.LittleEndian.Uint64(plain[1:9]))), nil, string(plain[9:])}
			default:
				return nil
			}
			id := string(e.Key)
			if cur, ok := newest[id]; !ok || f.when.After(cur.when) {
				newest[id] = f
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, failed, ctx.Err()
			}
			failed++
			c.log.Warn("metadata backend not scanned", "backend", b.id, "err", err)
		}
	}
	return newest, failed, nil
}

// scanAll walks every key of a backend's namespace.
func scanAll(ctx context.Context, b *backend, fn func(zdbclient.ScanEntry) error) error {
	var cursor []byte
	for {
		var batch []zdbclient.ScanEntry
		var next []byte
		err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
			batch, next, err = cl.Scan(ctx, cursor)
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		cursor = next
	}
}

// adopt applies one copy found by Recover to the local store, under the
// key's commit lock: o (nil for a tombstone stamped when) wins when it is
// newer than the local record. A local record that cannot be decoded
// loses to any copy.
func (c *Client) adopt(ctx context.Context, key string, o *meta.Object, when time.Time) (bool, error) {
	unlock := c.lockKey(key)
	defer unlock()
	cur, err := c.store.Get(ctx, key)
	switch {
	case errors.Is(err, meta.ErrCorrupt):
		c.log.Warn("recover: replacing a corrupt local record", "key", key, "err", err)
		cur, err = nil, meta.ErrNotFound
	case err != nil && !errors.Is(err, meta.ErrNotFound):
		return false, err
	}
	if o == nil {
		if err == nil && !cur.Modified.After(when) {
			if _, err := c.store.Delete(ctx, key); err != nil && !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, meta.ErrCorrupt) {
				return false, err
			}
		}
		return false, nil
	}
	if err == nil && !o.Modified.After(cur.Modified) {
		return false, nil
	}
	if _, err := c.store.Put(ctx, o); err != nil && !errors.Is(err, meta.ErrCorrupt) {
		return false, err
	}
	return true, nil
}
