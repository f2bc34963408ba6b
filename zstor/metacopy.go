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
	s := make([]scored, len(c.metaCopies))
	for i, b := range c.metaCopies {
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
	if len(c.metaCopies) == 0 {
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
	if err != nil {
		cur = nil
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
	if len(c.metaCopies) == 0 {
		return 0, errors.New("zstor: recover: no backend holds metadata copies (all are sequential-mode and no [meta] backends are configured)")
	}
	type found struct {
		when time.Time
		o    *meta.Object // nil: deleted
		key  string
	}
	newest := map[string]found{}
	prefix := []byte("/" + c.metaPrefix + "/meta/")
	reached := 0
	var lastErr error
	for _, b := range c.metaCopies {
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
				c.log.Warn("recover: unreadable copy", "backend", b.id, "err", err)
				return nil
			}
			plain, err := c.unseal(val)
			if err != nil || len(plain) < 1 {
				c.log.Warn("recover: copy does not open with the metadata key", "backend", b.id)
				return nil
			}
			var f found
			switch plain[0] {
			case kindObject:
				o, err := meta.Unmarshal(plain[1:])
				if err != nil || verifyRoot(o) != nil {
					c.log.Warn("recover: corrupt copy", "backend", b.id, "err", err)
					return nil
				}
				f = found{o.Modified, o, o.Key}
			case kindDeleted:
				if len(plain) < 9 {
					return nil
				}
				f = found{time.Unix(0, int64(binary.LittleEndian.Uint64(plain[1:9]))), nil, string(plain[9:])}
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
			lastErr = err
			c.log.Warn("recover: backend not scanned", "backend", b.id, "err", err)
			continue
		}
		reached++
	}
	if reached == 0 {
		return 0, fmt.Errorf("zstor: recover: no metadata backend could be scanned: %w", lastErr)
	}
	n := 0
	for _, f := range newest {
		cur, err := c.store.Get(ctx, f.key)
		switch {
		case err != nil && !errors.Is(err, meta.ErrNotFound):
			return n, fmt.Errorf("zstor: recover: %w", err)
		case f.o == nil:
			if err == nil && !cur.Modified.After(f.when) {
				if _, err := c.store.Delete(ctx, f.key); err != nil && !errors.Is(err, meta.ErrNotFound) {
					return n, fmt.Errorf("zstor: recover: %w", err)
				}
			}
		case err != nil || f.o.Modified.After(cur.Modified):
			if _, err := c.store.Put(ctx, f.o); err != nil {
				return n, fmt.Errorf("zstor: recover: %w", err)
			}
			n++
		}
	}
	return n, nil
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
