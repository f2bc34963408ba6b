package zstor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/placement"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// Options tune Open beyond the config file.
type Options struct {
	Logger *slog.Logger
	// MetaDir overrides the config's meta_dir.
	MetaDir string
	// Parallel bounds the blocks one Put or Get has in flight; default
	// GOMAXPROCS+2, at most 8. Memory per transfer is about Parallel ×
	// 2.5 × block size.
	Parallel int
	// StragglerGrace bounds how long a block write waits for slow shards
	// once its write quorum is met; default 5s.
	StragglerGrace time.Duration
	// ShardTimeout bounds one shard write or read; default 30s.
	ShardTimeout time.Duration
}

// Client is an open store. It is safe for concurrent use.
type Client struct {
	cfg     *config.Config
	log     *slog.Logger
	opts    Options
	master  codec.Key
	keyID   [8]byte
	metaKey codec.Key

	backends   []*backend
	byID       map[string]*backend
	metaCopies []*backend // candidates for the encrypted metadata copies
	metaPrefix string

	store     meta.Store
	policy    placement.Policy
	params    codec.Params
	blockSize int
	quorum    int

	codecs sync.Map // codec.Params -> *codec.Codec
	bufs   sync.Pool

	rndMu sync.Mutex
	rnd   *mrand.Rand

	bg     sync.WaitGroup
	closed atomic.Bool

	keyLocks [256]sync.Mutex // commit order per key (lockKey)

	activeMu  sync.Mutex
	active    map[meta.VersionID]int // versions being written: the sweep leaves them alone
	activeSeq map[string]int         // their landed sequential-mode shards (backend id NUL key)

	// Versions being read: a replaced or deleted version's shards are
	// deleted only once its readers are done. Get holds loadMu shared
	// from loading a record until its version is registered.
	loadMu    sync.RWMutex
	readingMu sync.Mutex
	reading   map[meta.VersionID]*readers
	closing   chan struct{} // closed by Close: stop waiting for readers
}

// Open connects to the configured backends and opens the metadata store.
// Backends that do not answer now are not an error: writes and reads work
// around them.
func Open(ctx context.Context, cfg *config.Config, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Parallel <= 0 {
		opts.Parallel = min(runtime.GOMAXPROCS(0)+2, 8)
	}
	if opts.StragglerGrace <= 0 {
		opts.StragglerGrace = 5 * time.Second
	}
	if opts.ShardTimeout <= 0 {
		opts.ShardTimeout = 30 * time.Second
	}
	c := &Client{cfg: cfg, log: opts.Logger, opts: opts, byID: map[string]*backend{}, active: map[meta.VersionID]int{}, activeSeq: map[string]int{}, reading: map[meta.VersionID]*readers{}, closing: make(chan struct{})}
	var err error
	if c.master, err = cfg.MasterKey(); err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	if c.metaKey, err = cfg.MetaKey(); err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	c.keyID = keyID(c.master)
	comp, err := codec.ParseCompression(cfg.Compression.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	c.params = codec.Params{K: cfg.K(), M: cfg.M(), Compression: comp}
	if _, err := c.codec(c.params); err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	c.blockSize = int(cfg.BlockSize)
	c.quorum = cfg.WriteQuorum
	c.bufs.New = func() any { b := make([]byte, c.blockSize); return &b }
	var seed [32]byte
	rand.Read(seed[:])
	c.rnd = mrand.New(mrand.NewChaCha8(seed))

	c.policy = placement.Policy{K: cfg.K(), N: cfg.ExpectedShards, RedundantGroups: cfg.RedundantGroups, RedundantNodes: cfg.RedundantNodes}
	for _, s := range cfg.Placement.Pin {
		sel, err := placement.ParseSelector(s)
		if err != nil {
			return nil, fmt.Errorf("zstor: placement pin: %w", err)
		}
		c.policy.Pin = append(c.policy.Pin, sel)
	}
	for _, s := range cfg.Placement.Exclude {
		sel, err := placement.ParseSelector(s)
		if err != nil {
			return nil, fmt.Errorf("zstor: placement exclude: %w", err)
		}
		c.policy.Exclude = append(c.policy.Exclude, sel)
	}
	if err := c.policy.Validate(); err != nil {
		// Reads still work; every write will fail with this error.
		c.log.Warn("the redundancy policy cannot be met: writes will fail", "err", err)
	}
	pool := 1
	for _, g := range cfg.Groups {
		for _, be := range g.Backends {
			labels := map[string]string{}
			for k, v := range g.Labels {
				labels[k] = v
			}
			for k, v := range be.Labels {
				labels[k] = v
			}
			b := &backend{id: cfg.BackendID(be), group: g.Name, labels: labels, cl: zdbclient.New(zdbclient.Config{
				Address: be.Address, Namespace: be.Namespace, Password: be.Password, Timeout: opts.ShardTimeout, PoolSize: pool,
			})}
			c.backends = append(c.backends, b)
			c.byID[b.id] = b
		}
	}
	c.metaPrefix = "zstor"
	if cfg.Meta.Config.Prefix != "" {
		c.metaPrefix = cfg.Meta.Config.Prefix
	}
	for _, be := range cfg.Meta.Config.Backends {
		c.metaCopies = append(c.metaCopies, &backend{id: cfg.BackendID(be), group: "meta", cl: zdbclient.New(zdbclient.Config{
			Address: be.Address, Namespace: be.Namespace, Password: be.Password, Timeout: opts.ShardTimeout, PoolSize: 4,
		})})
	}
	c.refreshAll(ctx)
	if len(c.metaCopies) == 0 {
		// No [meta] backends: the copies go to the user-mode data
		// backends (sequential ones cannot hold named keys).
		for _, b := range c.backends {
			if !b.seq.Load() {
				c.metaCopies = append(c.metaCopies, b)
			}
		}
		if len(c.metaCopies) == 0 {
			c.log.Warn("no user-mode backend for metadata copies: `zstor recover` will not be possible")
		}
	}
	dir := cfg.MetaDir
	if opts.MetaDir != "" {
		dir = opts.MetaDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.closeBackends()
		return nil, fmt.Errorf("zstor: metadata dir: %w", err)
	}
	st, err := meta.OpenBolt(filepath.Join(dir, "meta.db"), meta.BoltOptions{})
	if err != nil {
		c.closeBackends()
		return nil, fmt.Errorf("zstor: %w", err)
	}
	c.store = st
	return c, nil
}

// refreshAll reads every backend's NSINFO concurrently, bounded in time.
func (c *Client) refreshAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	seen := map[*backend]bool{}
	for _, b := range append(append([]*backend(nil), c.backends...), c.metaCopies...) {
		if seen[b] {
			continue
		}
		seen[b] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.refresh(ctx); err != nil {
				c.log.Warn("backend unreachable", "backend", b.id, "err", err)
			}
		}()
	}
	wg.Wait()
}

func keyID(master codec.Key) [8]byte {
	h := blake3.New()
	h.Write([]byte("zstor master key id v1"))
	h.Write(master[:])
	var id [8]byte
	copy(id[:], h.Sum(nil))
	return id
}

// codec returns the codec for p (objects keep the parameters they were
// written with, whatever the config says now).
func (c *Client) codec(p codec.Params) (*codec.Codec, error) {
	if v, ok := c.codecs.Load(p); ok {
		return v.(*codec.Codec), nil
	}
	cd, err := codec.New(p)
	if err != nil {
		return nil, err
	}
	v, _ := c.codecs.LoadOrStore(p, cd)
	return v.(*codec.Codec), nil
}

func (c *Client) closeBackends() {
	for _, b := range c.backends {
		b.cl.Close()
	}
	for _, b := range c.metaCopies {
		b.cl.Close()
	}
}

// Close waits for background deletions and closes everything.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	close(c.closing)
	c.bg.Wait()
	c.closeBackends()
	return c.store.Close()
}

func (c *Client) check() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Status reports every data backend, refreshing their NSINFO first.
func (c *Client) Status(ctx context.Context) []BackendStatus {
	c.refreshAll(ctx)
	out := make([]BackendStatus, len(c.backends))
	for i, b := range c.backends {
		out[i] = b.status()
	}
	return out
}

// Config returns the configuration the client was opened with.
func (c *Client) Config() *config.Config { return c.cfg }

func validKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case len(key) > meta.MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalid, len(key), meta.MaxKeyLen)
	}
	return nil
}

// translate maps internal errors to the public sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, meta.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, codec.ErrBadKey):
		return fmt.Errorf("%w: %w", ErrBadKey, err)
	case errors.Is(err, codec.ErrCorrupt), errors.Is(err, meta.ErrCorrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case errors.Is(err, codec.ErrNotEnough):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
