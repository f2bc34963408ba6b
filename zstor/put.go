package zstor

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/placement"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// shardKey is a shard's key on a user-mode backend: a tag, the version,
// the block and the shard index. The orphan sweep recognises its keys by
// the tag and length.
func shardKey(v meta.VersionID, block int, shard int) []byte {
	k := make([]byte, 0, shardKeyLen)
	k = append(k, shardTag...)
	k = append(k, v[:]...)
	k = binary.BigEndian.AppendUint32(k, uint32(block))
	return append(k, byte(shard))
}

const (
	shardTag    = "zs"
	shardKeyLen = 2 + 16 + 4 + 1
)

// stored is a shard that landed, for cleanup when the object fails.
type stored struct {
	b   *backend
	key []byte
}

// writer is one Put in progress.
type writer struct {
	c   *Client
	o   *meta.Object
	dk  codec.Key
	cdc *codec.Codec

	mu      sync.Mutex
	bidx    map[*backend]int32
	written []stored
	seqKeys []string // landed sequential-mode shards, in the active set
	blocks  map[int]meta.Block
}

// Put stores r under key. The new version becomes visible only once every
// block has its write quorum and the metadata is committed; until then a
// previous version stays readable, and on failure every shard written is
// deleted again.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error) {
	if err := notReserved(key); err != nil {
		return ObjectInfo{}, err
	}
	return c.put(ctx, key, r, opts, nil)
}

// put stores r under key; with expect set only if key's current version
// is still that one when the new version commits.
func (c *Client) put(ctx context.Context, key string, r io.Reader, opts PutOptions, expect *meta.Object) (ObjectInfo, error) {
	if err := c.check(); err != nil {
		return ObjectInfo{}, err
	}
	if err := validKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if n := userMetaSize(opts.UserMeta); n > meta.MaxUserMeta {
		return ObjectInfo{}, fmt.Errorf("%w: user metadata of %d bytes exceeds %d", ErrInvalid, n, meta.MaxUserMeta)
	}
	o, dk, err := c.newObject(key, opts.UserMeta)
	if err != nil {
		return ObjectInfo{}, err
	}
	cdc, err := c.codec(o.Params)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer c.foreground()()
	w := &writer{c: c, o: o, dk: dk, cdc: cdc, bidx: map[*backend]int32{}, blocks: map[int]meta.Block{}}
	c.setActive(o.Version, 1)
	defer c.setActive(o.Version, -1)
	defer func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, k := range w.seqKeys {
			c.setActiveSeq(k, -1)
		}
	}()
	if err := w.run(ctx, r, opts.Progress); err != nil {
		w.cleanup()
		return ObjectInfo{}, fmt.Errorf("zstor: put %q: %w", key, err)
	}
	if opts.FinalMeta != nil {
		if err := finalMeta(o, opts.FinalMeta); err != nil {
			w.cleanup()
			return ObjectInfo{}, fmt.Errorf("zstor: put %q: %w", key, err)
		}
	}
	if err := c.commit(ctx, o, expect); err != nil {
		w.cleanup()
		return ObjectInfo{}, fmt.Errorf("zstor: put %q: %w", key, err)
	}
	if n := missingShards(o); n > 0 {
		// Stragglers: the write met its quorum without them.
		c.enqueue(ctx, key, fmt.Sprintf("write: %d shards missing", n), false)
	}
	return info(o), nil
}

// missingShards counts the shards of o that never landed.
func missingShards(o *meta.Object) int {
	n := 0
	for bi := range o.Blocks {
		for _, s := range o.Blocks[bi].Shards {
			if s.Backend < 0 || int(s.Backend) >= len(o.Backends) {
				n++
			}
		}
	}
	return n
}

// finalMeta merges the entries of PutOptions.FinalMeta into o.
func finalMeta(o *meta.Object, fn func() (map[string]string, error)) error {
	extra, err := fn()
	if err != nil {
		return err
	}
	um := maps.Clone(o.UserMeta)
	if um == nil {
		um = make(map[string]string, len(extra))
	}
	maps.Copy(um, extra)
	if n := userMetaSize(um); n > meta.MaxUserMeta {
		return fmt.Errorf("%w: user metadata of %d bytes exceeds %d", ErrInvalid, n, meta.MaxUserMeta)
	}
	o.UserMeta = um
	return nil
}

func userMetaSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

func (c *Client) newObject(key string, um map[string]string) (*meta.Object, codec.Key, error) {
	dk, err := codec.NewDataKey()
	if err != nil {
		return nil, dk, err
	}
	wrapped, err := codec.WrapKey(c.master, dk)
	if err != nil {
		return nil, dk, err
	}
	o := &meta.Object{Key: key, UserMeta: um, Params: c.top().params, BlockSize: c.top().blockSize, WrappedKey: wrapped, KeyID: c.keyID}
	var salt [4]byte
	if _, err := rand.Read(o.Version[:]); err != nil {
		return nil, dk, err
	}
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, dk, err
	}
	o.Salt = binary.LittleEndian.Uint32(salt[:])
	return o, dk, nil
}

// commit seals the object's record: Merkle root, copies on the backends,
// then the local store. The previous version's shards are deleted after.
//
// With expect set (Rebuild), the commit happens only while the key's
// current version is still *expect; prev is then the caller's record of it.
func (c *Client) commit(ctx context.Context, o *meta.Object, expect *meta.Object) error {
	o.Root = objectRoot(o)
	// Commits of one key are serialised, so the copies on the backends
	// and the local store see them in the same order.
	unlock := c.lockKey(o.Key)
	defer unlock()
	o.Modified = time.Now().UTC()
	if expect != nil {
		if cur, err := c.store.Get(ctx, o.Key); err != nil || cur.Version != expect.Version {
			return fmt.Errorf("%w: %q changed while it was being rebuilt", ErrConflict, o.Key)
		}
	}
	if err := c.putMetaCopies(ctx, o.Key, o); err != nil {
		// Some copies may have landed: put back what the store holds.
		c.restoreMetaCopies(o.Key)
		return err
	}
	var prev *meta.Object
	var err error
	if expect != nil {
		if err = c.store.CompareAndPut(ctx, o, expect.Version); err == nil {
			prev = expect
		}
	} else {
		prev, err = c.store.Put(ctx, o)
	}
	switch {
	case err != nil && errors.Is(err, meta.ErrCorrupt) && expect == nil:
		// Stored; only the record it replaced could not be decoded, so
		// its shards are unknown: the sweep collects them.
		c.log.Warn("replaced a corrupt metadata record", "key", o.Key, "err", err)
		prev = nil
	case err != nil:
		// The copies on the backends now describe a version that is not
		// committed: put back what the store still holds.
		c.restoreMetaCopies(o.Key)
		return fmt.Errorf("commit metadata: %w", err)
	}
	// prev can be this very version when Recover adopted its copy first.
	if prev != nil && prev.Version != o.Version {
		c.deleteShardsLater(prev)
	}
	op := commitStore
	if expect != nil {
		op = commitRotate
	}
	c.logCommit(op, o)
	return nil
}

// lockKey serialises commits of one key (striped: keys share 256 locks).
func (c *Client) lockKey(key string) func() {
	h := blake3.Sum256([]byte(key))
	mu := &c.keyLocks[h[0]]
	mu.Lock()
	return mu.Unlock
}

// run reads r block by block into a bounded pipeline: each block is
// encoded and its shards written while the next ones are read.
func (w *writer) run(ctx context.Context, r io.Reader, progress func(int64)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := w.c
	sem := make(chan struct{}, c.opts.Parallel)
	// own is this Put's one block that needs no shared slot: a Put
	// always progresses, however many others hold the shared ones.
	own := make(chan struct{}, 1)
	var wg sync.WaitGroup
	sum := blake3.New()
	var size, done int64
	var doneMu sync.Mutex
	nblocks := 0
	var readErr error
	for idx := 0; ; idx++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		var slot chan struct{}
		select {
		case own <- struct{}{}:
			slot = own
		case c.shared <- struct{}{}:
			slot = c.shared
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			<-sem
			break
		}
		release := func() { <-slot; <-sem }
		bp := c.bufs.Get().(*[]byte)
		n, err := io.ReadFull(r, *bp)
		if n == 0 {
			c.bufs.Put(bp)
			release()
			if err != nil && err != io.EOF {
				readErr = fmt.Errorf("read input: %w", err)
			}
			break
		}
		if idx >= meta.MaxBlocks {
			c.bufs.Put(bp)
			release()
			readErr = fmt.Errorf("%w: object exceeds %d blocks", ErrInvalid, meta.MaxBlocks)
			break
		}
		if idx == 0 && err != nil && n <= c.top().smallSize {
			// The whole object is this one short block.
			if serr := w.small(); serr != nil {
				c.bufs.Put(bp)
				release()
				readErr = serr
				break
			}
		}
		plain := (*bp)[:n]
		sum.Write(plain)
		size += int64(n)
		nblocks++
		wg.Add(1)
		go func(idx int) {
			defer wg.Done()
			defer release()
			blk, err := w.block(ctx, idx, plain, bp)
			if err != nil {
				cancel(fmt.Errorf("block %d: %w", idx, err))
				return
			}
			w.mu.Lock()
			w.blocks[idx] = blk
			w.mu.Unlock()
			if progress != nil {
				doneMu.Lock()
				done += int64(blk.PlainLen)
				progress(done)
				doneMu.Unlock()
			}
		}(idx)
		if err != nil { // short final block or end of input
			if err != io.ErrUnexpectedEOF {
				readErr = fmt.Errorf("read input: %w", err)
			}
			break
		}
	}
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	w.o.Size = size
	sum.Sum(w.o.Checksum[:0])
	w.o.Blocks = make([]meta.Block, nblocks)
	for i := range nblocks {
		w.o.Blocks[i] = w.blocks[i]
	}
	return nil
}

// small switches the object to 1+m: a small object as k slivers of a
// few hundred bytes costs k requests to read and k+m to write, for
// nothing; as copies it costs one read and m+1 writes, and m backends may
// still be lost.
func (w *writer) small() error {
	if w.o.Params.K == 1 {
		return nil
	}
	p := w.o.Params
	p.K = 1
	cdc, err := w.c.codec(p)
	if err != nil {
		return err
	}
	w.o.Params, w.cdc = p, cdc
	return nil
}

// block encodes one block and writes its shards.
func (w *writer) block(ctx context.Context, idx int, plain []byte, bp *[]byte) (meta.Block, error) {
	shards, bm, err := w.cdc.Encode(w.dk, w.o.Salt, uint64(idx), plain)
	w.c.bufs.Put(bp)
	if err != nil {
		return meta.Block{}, err
	}
	return w.storeShards(ctx, idx, shards, bm)
}

// minGrace is the least a straggling shard write is waited for once the
// block has its quorum.
const minGrace = 250 * time.Millisecond

// storeShards writes one block's shards to placed backends under the
// write rule: done once quorum shards are acknowledged and stragglers had
// their grace; failed as soon as the quorum is out of reach.
func (w *writer) storeShards(ctx context.Context, idx int, shards [][]byte, bm codec.BlockMeta) (meta.Block, error) {
	c := w.c
	n := len(shards)
	blk := meta.Block{BlockMeta: bm, Shards: make([]meta.Shard, n)}
	for i := range blk.Shards {
		blk.Shards[i].Backend = meta.NoBackend
	}
	targets, err := c.place(w.o.Params.K, n)
	if err != nil {
		return blk, err
	}
	quorum := w.quorum(n)
	type result struct {
		i   int
		key []byte
		err error
	}
	results := make(chan result, n)
	bctx, bcancel := context.WithTimeout(ctx, c.opts.ShardTimeout)
	defer bcancel()
	// Down backends are written too (placement only picks them when it
	// must): that is how a backend that came back is noticed.
	for i, b := range targets {
		var key []byte
		if !b.seq.Load() {
			key = shardKey(w.o.Version, idx, i)
		}
		go func() {
			var got []byte
			err := b.call(bctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
				got, err = cl.Set(ctx, key, shards[i])
				return err
			})
			results <- result{i, got, err}
		}()
	}
	start := time.Now()
	var grace <-chan time.Time
	ok, failed := 0, 0
	var errs []string
	pending := make([]bool, n)
	for i := range pending {
		pending[i] = true
	}
collect:
	for ok+failed < n {
		select {
		case r := <-results:
			pending[r.i] = false
			if r.err != nil {
				failed++
				errs = append(errs, fmt.Sprintf("shard %d on %s: %v", r.i, targets[r.i].id, r.err))
				if n-failed < quorum {
					return blk, fmt.Errorf("%w: %d of %d shards stored, need %d: %s", ErrUnavailable, ok, n, quorum, strings.Join(errs, "; "))
				}
				continue
			}
			ok++
			targets[r.i].stored()
			key := r.key
			if !targets[r.i].seq.Load() {
				key = nil // derived from the version
			}
			blk.Shards[r.i] = meta.Shard{Backend: w.index(targets[r.i], r.key), Key: key}
			if ok >= quorum && grace == nil && ok+failed < n {
				// Stragglers get three times what the quorum took, at
				// least minGrace: on a healthy cluster every shard lands.
				g := max(3*time.Since(start), minGrace)
				grace = time.After(min(g, c.opts.StragglerGrace))
			}
		case <-grace:
			for i, p := range pending {
				if p {
					targets[i].observeAtLeast(time.Since(start))
					c.log.Debug("write straggler left for repair", "block", idx, "shard", i, "backend", targets[i].id)
				}
			}
			break collect
		case <-ctx.Done():
			return blk, context.Cause(ctx)
		}
	}
	if len(errs) > 0 {
		c.log.Warn("shards not stored, left for repair", "key", w.o.Key, "block", idx, "errors", strings.Join(errs, "; "))
	}
	return blk, nil
}

func (w *writer) quorum(n int) int {
	t := w.c.top()
	q := t.quorum
	if q <= 0 {
		q = w.o.Params.K + 1
		if w.o.Params.M == 0 {
			q = w.o.Params.K
		}
	} else {
		// write_quorum is for the config's k: keep its margin over k for
		// objects of another k (small ones).
		q = max(q-t.params.K+w.o.Params.K, w.o.Params.K)
	}
	return min(q, n)
}

// index records that a shard landed on b and returns b's index in the
// object's backend table.
func (w *writer) index(b *backend, key []byte) int32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written = append(w.written, stored{b, key})
	if b.seq.Load() {
		// Sequential keys cannot be told apart by version: the sweep
		// spares them by this set until the write is over.
		w.c.setActiveSeq(b.id+"\x00"+string(key), 1)
		w.seqKeys = append(w.seqKeys, b.id+"\x00"+string(key))
	}
	i, ok := w.bidx[b]
	if !ok {
		i = int32(len(w.o.Backends))
		w.o.Backends = append(w.o.Backends, b.id)
		w.bidx[b] = i
	}
	return i
}

// cleanup deletes the shards of a failed Put. What it cannot delete (and
// shards that land after it ran) the orphan sweep removes later.
func (w *writer) cleanup() {
	w.mu.Lock()
	written := w.written
	w.written = nil
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.c.deleteShards(ctx, written)
}

// deleteShards deletes shards concurrently, a few per backend at a time.
func (c *Client) deleteShards(ctx context.Context, shards []stored) {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, s := range shards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := s.b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) error { return cl.Delete(ctx, s.key) })
			if err != nil && !errors.Is(err, zdbclient.ErrNotFound) {
				c.log.Debug("shard delete failed, left for the sweep", "backend", s.b.id, "err", err)
			}
		}()
	}
	wg.Wait()
}

// shardAt resolves where shard si of block bi is stored: the backend (nil
// when the shard never landed or its backend is no longer configured),
// the backend's id ("" when never landed) and the shard's key.
func (c *Client) shardAt(o *meta.Object, bi, si int) (b *backend, id string, key []byte) {
	s := o.Blocks[bi].Shards[si]
	if s.Backend < 0 || int(s.Backend) >= len(o.Backends) {
		return nil, "", nil
	}
	id = o.Backends[s.Backend]
	if key = s.Key; key == nil {
		key = shardKey(o.Version, bi, si)
	}
	return c.top().byID[id], id, key
}

// objectRoot is the Merkle root over an object's blocks.
func objectRoot(o *meta.Object) codec.Hash {
	leaves := make([]codec.Hash, len(o.Blocks))
	for i := range o.Blocks {
		leaves[i] = o.Blocks[i].Leaf()
	}
	return codec.MerkleRoot(leaves)
}

// objectShards lists where an object's shards are.
func (c *Client) objectShards(o *meta.Object) []stored {
	var out []stored
	for bi := range o.Blocks {
		for si := range o.Blocks[bi].Shards {
			if b, _, key := c.shardAt(o, bi, si); b != nil {
				out = append(out, stored{b, key})
			}
		}
	}
	return out
}

// readHold bounds how long a replaced or deleted version's shards are kept
// for a reader that neither finishes nor closes.
const readHold = 10 * time.Minute

// deleteShardsLater deletes a replaced or deleted version's shards in the
// background, once the reads of it in progress are done; Close waits for
// it.
func (c *Client) deleteShardsLater(o *meta.Object) {
	shards := c.objectShards(o)
	wait := c.readersDone(o.Version)
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		if wait != nil {
			// Reads in progress of this version finish first (a reader
			// left open is not waited for longer than readHold).
			t := time.NewTimer(readHold)
			select {
			case <-wait:
			case <-c.closing:
			case <-t.C:
			}
			t.Stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		c.deleteShards(ctx, shards)
	}()
}

// place picks n backends for one block's shards. When the policy cannot be
// met with the healthy backends, down ones are included, and then full
// ones: their shards are recorded missing and repaired later, which beats
// failing the write.
func (c *Client) place(k, n int) ([]*backend, error) {
	t := c.top()
	cands, p := c.candidatesNow(t)
	p.K, p.N = k, n
	c.rndMu.Lock()
	defer c.rndMu.Unlock()
	idx, err := placement.Select(p, cands, c.rnd)
	for relax := 0; errors.Is(err, placement.ErrUnplaceable) && relax < 2; relax++ {
		for i := range cands {
			if relax == 0 {
				cands[i].Down = false
			} else {
				cands[i].Full = false
			}
		}
		var err2 error
		if idx, err2 = placement.Select(p, cands, c.rnd); err2 == nil {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: placement: %w", ErrUnavailable, err)
	}
	out := make([]*backend, len(idx))
	for i, j := range idx {
		out[i] = t.backends[j]
	}
	return out, nil
}

// setActive counts a version in or out of the set of writes in progress.
func (c *Client) setActive(v meta.VersionID, d int) {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	if c.active[v] += d; c.active[v] <= 0 {
		delete(c.active, v)
	}
}

func (c *Client) isActive(v meta.VersionID) bool {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	return c.active[v] > 0
}

// activeVersions returns the versions being written now.
func (c *Client) activeVersions() map[meta.VersionID]bool {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	out := make(map[meta.VersionID]bool, len(c.active))
	for v := range c.active {
		out[v] = true
	}
	return out
}

// setActiveSeq counts a landed sequential-mode shard (backend id + NUL +
// key) in or out of the set of writes in progress.
func (c *Client) setActiveSeq(k string, d int) {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	if c.activeSeq[k] += d; c.activeSeq[k] <= 0 {
		delete(c.activeSeq, k)
	}
}

func (c *Client) isActiveSeq(k string) bool {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	return c.activeSeq[k] > 0
}

func (c *Client) activeSeqKeys() map[string]bool {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	out := make(map[string]bool, len(c.activeSeq))
	for k := range c.activeSeq {
		out[k] = true
	}
	return out
}

// candidatesNow describes every data backend for placement, as zstor
// sees it now (in t's order), and t's policy with draining backends
// excluded.
func (c *Client) candidatesNow(t *topology) ([]placement.Backend, placement.Policy) {
	p := t.policy
	now := time.Now()
	ta := c.terminalAfter()
	cands := make([]placement.Backend, len(t.backends))
	p.Exclude = slices.Clip(p.Exclude)
	for i, b := range t.backends {
		ewma, _ := b.latency()
		group, labels := b.place()
		st := b.state(now, ta)
		if st == StateDegraded {
			// Chosen only when the healthy ones do not suffice.
			ewma = max(ewma, time.Millisecond) * 4
		}
		cands[i] = placement.Backend{ID: b.id, Group: group, Labels: labels, Down: b.down() || st == StateTerminal, Full: b.isFull(), Latency: ewma, Load: b.inflight.Load()}
		if cands[i].Full {
			b.recheckFull()
		}
		if b.draining.Load() {
			p.Exclude = append(p.Exclude, placement.Selector{Key: "id", Value: b.id})
		}
	}
	return cands, p
}
