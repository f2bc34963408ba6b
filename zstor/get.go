package zstor

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
)

// Reader streams an object or a range of it. Blocks are fetched ahead in
// parallel, a bounded number at a time. It is not safe for concurrent use.
type Reader struct {
	info    ObjectInfo
	release func() // the version is no longer read
	relOnce sync.Once
	ctx     context.Context
	cancel  context.CancelFunc
	nblock  int // blocks the range spans
	got     int // blocks handed to Read so far
	blocks  chan *pending
	slots   chan struct{}
	cur     []byte
	err     error
	done    int64
	prog    func(int64)
	wg      sync.WaitGroup
	once    sync.Once
}

type pending struct {
	ready chan struct{}
	data  []byte
	err   error
}

// open loads and authenticates an object's record: the Merkle root over
// its blocks and the master key that wrapped its data key.
func (c *Client) open(ctx context.Context, key string) (*meta.Object, codec.Key, error) {
	var dk codec.Key
	if err := c.check(); err != nil {
		return nil, dk, err
	}
	if err := validKey(key); err != nil {
		return nil, dk, err
	}
	o, err := c.store.Get(ctx, key)
	if err != nil {
		return nil, dk, translate(err)
	}
	if err := verifyRoot(o); err != nil {
		return nil, dk, err
	}
	if o.KeyID != c.keyID {
		return nil, dk, fmt.Errorf("%w: %q was stored under master key %s, this config has %s", ErrBadKey, key, hex.EncodeToString(o.KeyID[:]), hex.EncodeToString(c.keyID[:]))
	}
	dk, err = codec.UnwrapKey(c.master, o.WrappedKey)
	if err != nil {
		return nil, dk, fmt.Errorf("%w: %q: %w", ErrBadKey, key, err)
	}
	return o, dk, nil
}

func verifyRoot(o *meta.Object) error {
	if objectRoot(o) != o.Root {
		return fmt.Errorf("%w: metadata of %q does not match its Merkle root", ErrCorrupt, o.Key)
	}
	return nil
}

// Get opens key for reading, the whole object or opts' range. Only the
// blocks that overlap the range are fetched; every block is verified
// (shard hashes, GCM tag) before its bytes are returned.
func (c *Client) Get(ctx context.Context, key string, opts GetOptions) (*Reader, error) {
	c.loadMu.RLock()
	o, dk, err := c.open(ctx, key)
	if err != nil {
		c.loadMu.RUnlock()
		return nil, err
	}
	stopReading, fgDone := c.startReading(o.Version), c.foreground()
	release := func() { stopReading(); fgDone() }
	c.loadMu.RUnlock()
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	off, end := opts.Offset, o.Size
	if off < 0 || off > o.Size || (off == o.Size && o.Size > 0 && opts.Length > 0) {
		return nil, fmt.Errorf("%w: range offset %d outside object %q of %d bytes", ErrInvalid, off, key, o.Size)
	}
	if opts.Length > 0 && opts.Length < o.Size-off { // no off+Length: it can overflow
		end = off + opts.Length
	}
	cdc, err := c.codec(o.Params)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ok = true
	r := &Reader{info: info(o), release: release, ctx: ctx, cancel: cancel, blocks: make(chan *pending, c.opts.Parallel), slots: make(chan struct{}, c.opts.Parallel), prog: opts.Progress}
	if off == end {
		close(r.blocks)
		r.finished()
		return r, nil
	}
	bs := int64(o.BlockSize)
	first, last := int(off/bs), int((end-1)/bs)
	r.nblock = last - first + 1
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(r.blocks)
		// A slot is taken per block from its fetch until Read has
		// consumed it: at most Parallel blocks are in memory.
		sem := r.slots
		for bi := first; bi <= last; bi++ {
			p := &pending{ready: make(chan struct{})}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case r.blocks <- p:
			case <-ctx.Done():
				return
			}
			r.wg.Add(1)
			go func(bi int) {
				defer r.wg.Done()
				data, err := c.fetchBlock(ctx, o, bi, cdc, dk)
				if err == nil {
					lo, hi := int64(0), int64(len(data))
					start := int64(bi) * bs
					if start < off {
						lo = off - start
					}
					if start+hi > end {
						hi = end - start
					}
					if lo > hi || hi > int64(len(data)) {
						err = fmt.Errorf("%w: block %d of %q is %d bytes, metadata says more", ErrCorrupt, bi, key, len(data))
					} else {
						data = data[lo:hi]
					}
				}
				p.data, p.err = data, translate(err)
				if p.err != nil {
					p.err = fmt.Errorf("zstor: get %q: %w", key, p.err)
				}
				close(p.ready)
			}(bi)
		}
	}()
	return r, nil
}

// readers counts the open readers of one version; done is closed when
// the last one finishes.
type readers struct {
	n    int
	done chan struct{}
}

// startReading registers a reader of version v and returns the function
// that unregisters it.
func (c *Client) startReading(v meta.VersionID) func() {
	c.readingMu.Lock()
	defer c.readingMu.Unlock()
	rs := c.reading[v]
	if rs == nil {
		rs = &readers{done: make(chan struct{})}
		c.reading[v] = rs
	}
	rs.n++
	return func() {
		c.readingMu.Lock()
		defer c.readingMu.Unlock()
		if rs.n--; rs.n == 0 {
			close(rs.done)
			delete(c.reading, v)
		}
	}
}

// readersDone returns a channel closed once version v has no reader: nil
// when it has none now. Readers that loaded v's record before the call
// are counted.
func (c *Client) readersDone(v meta.VersionID) <-chan struct{} {
	// A barrier: Gets hold loadMu (read-locked) from loading a record to
	// registering as its reader, so once Lock returns every Get that saw
	// v's record is counted.
	c.loadMu.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier
	c.loadMu.Unlock()
	c.readingMu.Lock()
	defer c.readingMu.Unlock()
	if rs := c.reading[v]; rs != nil {
		return rs.done
	}
	return nil
}

// Info describes the object being read.
func (r *Reader) Info() ObjectInfo { return r.info }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		// Once cancelled (or closed), no further block is handed out,
		// even one fetched already: the fetcher stops queueing blocks,
		// and a stream that ends early must not look complete.
		if r.got < r.nblock && r.ctx.Err() != nil {
			r.err = r.cut()
			r.Close()
			return 0, r.err
		}
		b, ok := <-r.blocks
		if !ok {
			r.finished()
			if r.got < r.nblock {
				r.err = r.cut()
				return 0, r.err
			}
			r.err = io.EOF
			return 0, io.EOF
		}
		<-b.ready
		<-r.slots
		r.got++
		if b.err != nil {
			r.err = b.err
			r.Close()
			return 0, r.err
		}
		r.cur = b.data
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	r.done += int64(n)
	if r.prog != nil {
		r.prog(r.done)
	}
	return n, nil
}

// cut is the error of a read stopped before its last block.
func (r *Reader) cut() error {
	err := context.Cause(r.ctx)
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("zstor: get %q: %w", r.info.Key, err)
}

// WriteTo streams the rest of the object to w without an extra copy.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.cur) == 0 {
			if _, err := r.Read(nil); err != nil {
				if err == io.EOF {
					return total, nil
				}
				return total, err
			}
			continue
		}
		n, err := w.Write(r.cur)
		total += int64(n)
		r.cur = r.cur[n:]
		r.done += int64(n)
		if r.prog != nil {
			r.prog(r.done)
		}
		if err != nil {
			return total, err
		}
	}
}

// finished says the reader will fetch no more: the version it reads may go.
func (r *Reader) finished() { r.relOnce.Do(r.release) }

// Close stops fetching and releases the reader. It is safe to call twice.
func (r *Reader) Close() error {
	r.finished()
	r.once.Do(func() {
		r.cancel()
		go func() {
			for range r.blocks {
			}
		}()
	})
	return nil
}

var (
	_ io.ReadCloser = (*Reader)(nil)
	_ io.WriterTo   = (*Reader)(nil)
)

func info(o *meta.Object) ObjectInfo {
	return ObjectInfo{
		Key: o.Key, Size: o.Size, Modified: o.Modified, Checksum: hex.EncodeToString(o.Checksum[:]),
		Version: o.Version.String(), UserMeta: o.UserMeta, K: o.Params.K, M: o.Params.M, Blocks: len(o.Blocks),
	}
}
