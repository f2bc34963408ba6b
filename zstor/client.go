package zstor

import (
	"context"
	"crypto/ed25519"
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
	"github.com/zerostor/zerostor/internal/commitlog"
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
	// SharedBlocks bounds the read-ahead blocks of all Puts together
	// (default 2 × Parallel): each Put always has one block of its own
	// in flight, and takes more from this shared pool, so many
	// concurrent uploads neither starve one another nor multiply memory.
	SharedBlocks int
	// StragglerGrace bounds how long a block write waits for slow shards
	// once its write quorum is met; default 5s.
	StragglerGrace time.Duration
	// ShardTimeout bounds one shard write or read; default 30s.
	ShardTimeout time.Duration
	// DisableCommitLog turns the signed commit log off (benchmarks of
	// the data path, tests that count backend keys).
	DisableCommitLog bool
}

// Client is an open store. It is safe for concurrent use.
type Client struct {
	log     *slog.Logger
	opts    Options
	master  codec.Key
	keyID   [8]byte
	metaKey codec.Key

	topo       atomic.Pointer[topology]
	metaPrefix string
	retiredMu  sync.Mutex
	retired    []*backend // dropped by Reload: closed by Close

	store  meta.Store
	queue  *meta.Table // the durable repair queue (queue.go)
	state  *meta.Table // the background loops' progress
	drains *meta.Table // draining backends (lifecycle.go)

	reloadMu    sync.Mutex
	healing     atomic.Bool
	healStop    context.CancelFunc
	healWG      sync.WaitGroup
	stats       healStats
	fgActive    atomic.Int64 // stores and retrieves running
	fgLast      atomic.Int64 // unix ns of the last one's end
	repairPacer pacer
	repairWake  chan struct{}
	scrubMu     sync.Mutex
	scrub       ScrubStatus

	logMu      sync.Mutex
	clog       *commitlog.Log
	logPending []commitlog.Entry // appended before the log opened
	logDropped int
	logPub     ed25519.PublicKey
	logCancel  context.CancelFunc
	logOpened  chan struct{}

	codecs sync.Map // codec.Params -> *codec.Codec
	bufs   sync.Pool
	// shared holds the read-ahead slots of Puts (Options.SharedBlocks).
	shared chan struct{}

	rndMu sync.Mutex
	rnd   *mrand.Rand

	bg           sync.WaitGroup
	closeStarted atomic.Bool
	closed       atomic.Bool

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
	if opts.SharedBlocks <= 0 {
		opts.SharedBlocks = 2 * opts.Parallel
	}
	if opts.StragglerGrace <= 0 {
		opts.StragglerGrace = 5 * time.Second
	}
	if opts.ShardTimeout <= 0 {
		opts.ShardTimeout = 30 * time.Second
	}
	c := &Client{log: opts.Logger, opts: opts, active: map[meta.VersionID]int{}, activeSeq: map[string]int{}, reading: map[meta.VersionID]*readers{}, closing: make(chan struct{}), repairWake: make(chan struct{}, 1)}
	var err error
	if c.master, err = cfg.MasterKey(); err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	if c.metaKey, err = cfg.MetaKey(); err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	c.keyID = keyID(c.master)
	c.metaPrefix = "zstor"
	if cfg.Meta.Config.Prefix != "" {
		c.metaPrefix = cfg.Meta.Config.Prefix
	}
	var seed [32]byte
	rand.Read(seed[:])
	c.rnd = mrand.New(mrand.NewChaCha8(seed))
	t, err := c.buildTopology(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	c.topo.Store(t)
	c.shared = make(chan struct{}, opts.SharedBlocks)
	c.bufs.New = func() any { b := make([]byte, c.top().blockSize); return &b }
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
	c.queue, c.state, c.drains = st.Table(repairTable), st.Table(stateTable), st.Table(drainTable)
	if err := c.applyDrains(ctx, c.top()); err != nil {
		c.closeBackends()
		st.Close()
		return nil, err
	}
	if err := c.openCommitLog(dir); err != nil {
		c.closeBackends()
		st.Close()
		return nil, err
	}
	return c, nil
}

// topology is what the config says about the backends and the coding of
// new objects. Reload swaps it whole; an operation reads it once or
// several times, and either is safe: objects carry their own parameters
// and backend ids.
type topology struct {
	cfg        *config.Config
	backends   []*backend
	byID       map[string]*backend
	metaCopies []*backend // candidates for the encrypted metadata copies
	policy     placement.Policy
	params     codec.Params
	blockSize  int
	quorum     int
	smallSize  int // objects up to this size are stored with k=1
}

func (c *Client) top() *topology { return c.topo.Load() }

// buildTopology connects to cfg's backends. Backends of old that cfg
// still names with the same address and password are kept as they are,
// with what was learned of them.
func (c *Client) buildTopology(ctx context.Context, cfg *config.Config, old *topology) (*topology, error) {
	comp, err := codec.ParseCompression(cfg.Compression.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	t := &topology{cfg: cfg, byID: map[string]*backend{}}
	t.params = codec.Params{K: cfg.K(), M: cfg.M(), Compression: comp}
	if _, err := c.codec(t.params); err != nil {
		return nil, fmt.Errorf("zstor: %w", err)
	}
	t.blockSize = int(cfg.BlockSize)
	t.smallSize = int(cfg.SmallObjectSize)
	t.quorum = cfg.WriteQuorum
	t.policy = placement.Policy{K: cfg.K(), N: cfg.ExpectedShards, RedundantGroups: cfg.RedundantGroups, RedundantNodes: cfg.RedundantNodes}
	for _, s := range cfg.Placement.Pin {
		sel, err := placement.ParseSelector(s)
		if err != nil {
			return nil, fmt.Errorf("zstor: placement pin: %w", err)
		}
		t.policy.Pin = append(t.policy.Pin, sel)
	}
	for _, s := range cfg.Placement.Exclude {
		sel, err := placement.ParseSelector(s)
		if err != nil {
			return nil, fmt.Errorf("zstor: placement exclude: %w", err)
		}
		t.policy.Exclude = append(t.policy.Exclude, sel)
	}
	if err := t.policy.Validate(); err != nil {
		// Reads still work; every write will fail with this error.
		c.log.Warn("the redundancy policy cannot be met: writes will fail", "err", err)
	}
	reuse := func(id string, be config.Backend) *backend {
		if old == nil {
			return nil
		}
		ob := old.byID[id]
		if ob == nil {
			for _, m := range old.metaCopies {
				if m.id == id {
					ob = m
				}
			}
		}
		if ob != nil && ob.password == be.Password {
			return ob
		}
		return nil
	}
	var fresh []*backend
	for _, g := range cfg.Groups {
		for _, be := range g.Backends {
			labels := map[string]string{}
			for k, v := range g.Labels {
				labels[k] = v
			}
			for k, v := range be.Labels {
				labels[k] = v
			}
			id := cfg.BackendID(be)
			b := reuse(id, be)
			if b == nil {
				b = &backend{id: id, password: be.Password, cl: zdbclient.New(zdbclient.Config{
					Address: be.Address, Namespace: be.Namespace, Password: be.Password, Timeout: c.opts.ShardTimeout, PoolSize: 1,
				})}
				fresh = append(fresh, b)
			}
			b.setPlace(g.Name, labels)
			t.backends = append(t.backends, b)
			t.byID[id] = b
		}
	}
	for _, be := range cfg.Meta.Config.Backends {
		id := cfg.BackendID(be)
		b := reuse(id, be)
		if b == nil {
			b = &backend{id: id, password: be.Password, cl: zdbclient.New(zdbclient.Config{
				Address: be.Address, Namespace: be.Namespace, Password: be.Password, Timeout: c.opts.ShardTimeout, PoolSize: 4,
			})}
			b.setPlace("meta", nil)
			fresh = append(fresh, b)
		}
		t.metaCopies = append(t.metaCopies, b)
	}
	c.refreshAll(ctx, fresh)
	if len(t.metaCopies) == 0 {
		// No [meta] backends: the copies go to the user-mode data
		// backends (sequential ones cannot hold named keys).
		for _, b := range t.backends {
			if !b.seq.Load() {
				t.metaCopies = append(t.metaCopies, b)
			}
		}
		if len(t.metaCopies) == 0 {
			c.log.Warn("no user-mode backend for metadata copies: `zstor recover` will not be possible")
		}
	}
	return t, nil
}

// refreshAll reads every backend's NSINFO concurrently, bounded in time.
func (c *Client) refreshAll(ctx context.Context, bs []*backend) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	seen := map[*backend]bool{}
	for _, b := range bs {
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

// all lists every backend of t once: data and metadata.
func (t *topology) all() []*backend {
	seen := map[*backend]bool{}
	var out []*backend
	for _, b := range append(append([]*backend(nil), t.backends...), t.metaCopies...) {
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	return out
}

func (c *Client) closeBackends() {
	c.retiredMu.Lock()
	defer c.retiredMu.Unlock()
	for _, b := range append(c.top().all(), c.retired...) {
		b.cl.Close()
	}
}

// Close waits for background deletions and closes everything.
func (c *Client) Close() error {
	if c.closeStarted.Swap(true) {
		return nil
	}
	// The log's last batch is an object: written while the client still
	// works.
	c.stopHealing()
	c.closeCommitLog()
	c.closed.Store(true)
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
	t := c.top()
	c.refreshAll(ctx, t.all())
	out := make([]BackendStatus, len(t.backends))
	ta := c.terminalAfter()
	for i, b := range t.backends {
		out[i] = b.status(ta)
	}
	return out
}

// Config returns the configuration the client was opened with.
func (c *Client) Config() *config.Config { return c.top().cfg }

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
