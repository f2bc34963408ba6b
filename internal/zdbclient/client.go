// Package zdbclient is a small client for zdb and 0-db backends: the
// commands zstor needs (SET, GET, DEL, HASH, PROOF, NSINFO) over a pool of RESP
// connections, each bound to one namespace. Every call takes a context,
// and every error names the backend (address and namespace) and the key.
package zdbclient

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zerostor/zerostor/internal/resp"
	"github.com/zerostor/zerostor/internal/shardtree"
)

// Errors, for errors.Is.
var (
	ErrNotFound = errors.New("zdbclient: key not found")
	ErrCorrupt  = errors.New("zdbclient: backend reports corrupt data")
	ErrClosed   = errors.New("zdbclient: client closed")
	// ErrLeafIndex: PROOF of a leaf the stored value does not have. With
	// an index drawn from the recorded shard length, the backend holds a
	// value shorter than the shard: as good as corrupt.
	ErrLeafIndex = errors.New("zdbclient: leaf index out of range")
)

// Config says where a backend is.
type Config struct {
	Address   string        // host:port, or a unix socket path starting with "/"
	Namespace string        // default "default"
	Password  string        // namespace password, if any
	Timeout   time.Duration // per call when the context has no deadline; default 10s
	PoolSize  int           // idle connections kept; default 4
}

// Client talks to one namespace of one backend. It is safe for concurrent
// use: concurrent calls share a few pipelined connections.
type Client struct {
	cfg  Config
	mu   sync.Mutex
	muxs []*muxConn // PoolSize slots; nil or dead ones are redialled
	dial []bool     // a slot being dialled
	done chan struct{}
}

// conn is a new connection, before it becomes a pipelined muxConn.
type conn struct {
	nc net.Conn
	br *bufio.Reader
}

// ReplyError is an error reply of the backend.
type ReplyError struct{ Msg string }

func (e *ReplyError) Error() string { return "backend replied: " + e.Msg }

// New returns a client; connections are made on first use.
func New(cfg Config) *Client {
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 2
	}
	return &Client{cfg: cfg, muxs: make([]*muxConn, cfg.PoolSize), dial: make([]bool, cfg.PoolSize), done: make(chan struct{})}
}

// String names the backend in errors and logs (never the password).
func (c *Client) String() string { return c.cfg.Address + "/" + c.cfg.Namespace }

// Close closes the connections; calls in flight fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return nil
	default:
	}
	close(c.done)
	for _, m := range c.muxs {
		if m != nil {
			m.fail(ErrClosed)
		}
	}
	return nil
}

func (c *Client) dialConn(ctx context.Context) (*conn, error) {
	network := "tcp"
	if strings.HasPrefix(c.cfg.Address, "/") {
		network = "unix"
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, c.cfg.Address)
	if err != nil {
		return nil, err
	}
	cn := &conn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	args := []string{"SELECT", c.cfg.Namespace}
	if c.cfg.Password != "" {
		args = append(args, c.cfg.Password)
	}
	if _, err := cn.do(ctx, c.cfg.Timeout, toBytes(args)...); err != nil {
		nc.Close()
		return nil, fmt.Errorf("select namespace: %w", err)
	}
	return cn, nil
}

func toBytes(s []string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// do sends one command and reads its reply, on a connection not yet
// pipelined (the SELECT of a new connection).
func (cn *conn) do(ctx context.Context, timeout time.Duration, args ...[]byte) (resp.Value, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(timeout)
	}
	cn.nc.SetDeadline(deadline)
	// A context cancelled mid-call interrupts the I/O.
	stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_, out := encode(nil, []*request{{args: args}})
	if _, err := out.WriteTo(cn.nc); err != nil {
		return resp.Value{}, ctxErr(ctx, err)
	}
	v, err := resp.ReadReply(cn.br)
	if err != nil {
		return resp.Value{}, ctxErr(ctx, err)
	}
	if v.Kind == '-' {
		return v, &ReplyError{Msg: string(v.Str)}
	}
	return v, nil
}

// ctxErr reports an I/O error caused by the context as the context's
// error. The socket deadline equals the context's, so the read can time
// out an instant before the context itself notices its deadline.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

// conn returns a live pipelined connection: an idle one if there is one,
// else a new one while slots are free, else the least loaded. fresh says
// it was dialled for this call.
func (c *Client) conn(ctx context.Context) (m *muxConn, fresh bool, err error) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil, false, ErrClosed
	default:
	}
	var best *muxConn
	free := -1
	for i, x := range c.muxs {
		switch {
		case x != nil && x.alive():
			if best == nil || x.load.Load() < best.load.Load() {
				best = x
			}
		case !c.dial[i] && free < 0:
			free = i
		}
	}
	if best != nil && (best.load.Load() == 0 || free < 0) {
		c.mu.Unlock()
		return best, false, nil
	}
	if free < 0 {
		// Every slot is being dialled: wait for one.
		c.mu.Unlock()
		select {
		case <-time.After(time.Millisecond):
			return c.conn(ctx)
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	c.dial[free] = true
	c.mu.Unlock()
	cn, err := c.dialConn(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dial[free] = false
	if err != nil {
		if best != nil {
			return best, false, nil
		}
		return nil, false, err
	}
	m = newMux(cn.nc, cn.br, c.cfg.Timeout)
	select {
	case <-c.done:
		m.fail(ErrClosed)
		return nil, false, ErrClosed
	default:
	}
	c.muxs[free] = m
	return m, true, nil
}

// call runs one command. A call that finds its connection closed by the
// backend meanwhile (it restarted, or dropped an idle connection) is
// retried once on a new one.
func (c *Client) call(ctx context.Context, args ...[]byte) (resp.Value, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		m, fresh, err := c.conn(ctx)
		if err != nil {
			return resp.Value{}, ctxErr(ctx, err)
		}
		v, err := m.do(ctx, args)
		if err != nil && attempt == 0 && !fresh && ctx.Err() == nil && errors.Is(err, errConnLost) && staleConn(err) {
			continue
		}
		if errors.Is(err, ErrClosed) {
			return v, ErrClosed
		}
		return v, ctxErr(ctx, err)
	}
}

// wrap names the backend and key in an error.
func (c *Client) wrap(op string, key []byte, err error) error {
	return fmt.Errorf("%s %s key %s: %w", op, c, hex.EncodeToString(key), err)
}

// Set stores value under key and returns the key the backend reports: the
// same key, or in a sequential namespace (empty key) the new id.
func (c *Client) Set(ctx context.Context, key, value []byte) ([]byte, error) {
	v, err := c.call(ctx, []byte("SET"), key, value)
	if err != nil {
		return nil, c.wrap("SET", key, err)
	}
	switch {
	case v.Kind == '$' && v.Null:
		return key, nil // unchanged: the value was already stored
	case v.Kind == '$':
		return v.Str, nil
	}
	return nil, c.wrap("SET", key, fmt.Errorf("unexpected reply %s", v))
}

// Get returns the value of key, or ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte) ([]byte, error) {
	v, err := c.call(ctx, []byte("GET"), key)
	switch {
	case err != nil:
		return nil, c.wrap("GET", key, classify(err))
	case v.Kind == '$' && v.Null:
		return nil, c.wrap("GET", key, ErrNotFound)
	case v.Kind == '$':
		return v.Str, nil
	}
	return nil, c.wrap("GET", key, fmt.Errorf("unexpected reply %s", v))
}

// Delete removes key; a missing key is ErrNotFound.
func (c *Client) Delete(ctx context.Context, key []byte) error {
	_, err := c.call(ctx, []byte("DEL"), key)
	if err != nil {
		return c.wrap("DEL", key, classify(err))
	}
	return nil
}

// Hash asks the backend for the BLAKE3-256 of key's value (zdb's HASH), so
// the value need not be downloaded. 0-db lacks the command: the error then
// wraps a *ReplyError and the caller reads the value instead.
func (c *Client) Hash(ctx context.Context, key []byte) ([32]byte, error) {
	var sum [32]byte
	v, err := c.call(ctx, []byte("HASH"), key)
	switch {
	case err != nil:
		return sum, c.wrap("HASH", key, classify(err))
	case v.Kind == '$' && v.Null:
		return sum, c.wrap("HASH", key, ErrNotFound)
	case v.Kind == '$' && len(v.Str) == 64:
		if _, err := hex.Decode(sum[:], v.Str); err == nil {
			return sum, nil
		}
	}
	return sum, c.wrap("HASH", key, fmt.Errorf("unexpected reply %s", v))
}

// Proof asks the backend for leaf index of key's value with its Merkle
// path (zdb's PROOF), for shardtree.Verify against the root the caller
// keeps: the backend never sees the root and sends one leaf, not the value.
// A missing key is ErrNotFound, a damaged value ErrCorrupt, an index past
// the value's leaves ErrLeafIndex (with the *ReplyError); 0-db lacks the
// command: the error then wraps a *ReplyError. The reply's shape is
// checked, not its hashes: that is Verify's work.
func (c *Client) Proof(ctx context.Context, key []byte, index int) (shardtree.Proof, error) {
	v, err := c.call(ctx, []byte("PROOF"), key, strconv.AppendInt(nil, int64(index), 10))
	var re *ReplyError
	switch {
	case errors.As(err, &re) && re.Msg == "Invalid leaf index":
		return shardtree.Proof{}, c.wrap("PROOF", key, fmt.Errorf("%w: leaf %d: %w", ErrLeafIndex, index, err))
	case err != nil:
		return shardtree.Proof{}, c.wrap("PROOF", key, classify(err))
	case v.Kind == '$' && v.Null:
		return shardtree.Proof{}, c.wrap("PROOF", key, ErrNotFound)
	}
	p, err := parseProof(v, index)
	if err != nil {
		return shardtree.Proof{}, c.wrap("PROOF", key, err)
	}
	return p, nil
}

// maxProofPath bounds a reply's path: a zdb value (8 MiB) has at most 1024
// leaves, a depth of 10; anything much longer is not a proof.
const maxProofPath = 64

// parseProof checks a PROOF reply's shape: an array of bulk strings, the
// leaf (at most one leaf long) then 32-byte hashes.
func parseProof(v resp.Value, index int) (shardtree.Proof, error) {
	if v.Kind != '*' || v.Null || len(v.Array) == 0 {
		return shardtree.Proof{}, fmt.Errorf("malformed PROOF reply: %s, want an array of the leaf and its path", brief(v))
	}
	if len(v.Array)-1 > maxProofPath {
		return shardtree.Proof{}, fmt.Errorf("malformed PROOF reply: path of %d hashes, at most %d expected", len(v.Array)-1, maxProofPath)
	}
	leaf := v.Array[0]
	if leaf.Kind != '$' || leaf.Null || len(leaf.Str) > shardtree.LeafSize {
		return shardtree.Proof{}, fmt.Errorf("malformed PROOF reply: leaf %s, want a bulk string of at most %d bytes", brief(leaf), shardtree.LeafSize)
	}
	p := shardtree.Proof{Index: index, Leaf: leaf.Str, Path: make([][32]byte, len(v.Array)-1)}
	for i, h := range v.Array[1:] {
		if h.Kind != '$' || h.Null || len(h.Str) != 32 {
			return shardtree.Proof{}, fmt.Errorf("malformed PROOF reply: path hash %d is %s, want a 32-byte bulk string", i, brief(h))
		}
		p.Path[i] = [32]byte(h.Str)
	}
	return p, nil
}

// brief describes a reply element for an error without its (up to 8 KiB)
// contents.
func brief(v resp.Value) string {
	switch {
	case v.Null:
		return "nil"
	case v.Kind == '$':
		return fmt.Sprintf("a %d-byte bulk string", len(v.Str))
	case v.Kind == '*':
		return fmt.Sprintf("an array of %d", len(v.Array))
	}
	s := v.String()
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// NSInfo returns the namespace's NSINFO fields.
func (c *Client) NSInfo(ctx context.Context) (map[string]string, error) {
	v, err := c.call(ctx, []byte("NSINFO"), []byte(c.cfg.Namespace))
	if err != nil {
		return nil, fmt.Errorf("NSINFO %s: %w", c, err)
	}
	if v.Kind != '$' || v.Null {
		return nil, fmt.Errorf("NSINFO %s: unexpected reply %s", c, v)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(v.Str), "\n") {
		if k, val, ok := strings.Cut(line, ": "); ok {
			out[k] = val
		}
	}
	return out, nil
}

// classify turns the backend's error texts into sentinel errors.
func classify(err error) error {
	var re *ReplyError
	if errors.As(err, &re) {
		switch re.Msg {
		case "Key not found":
			return fmt.Errorf("%w (%v)", ErrNotFound, err)
		case "Data corrupted":
			return fmt.Errorf("%w (%v)", ErrCorrupt, err)
		}
	}
	return err
}

// ScanEntry is one key a SCAN batch returned.
type ScanEntry struct {
	Key       []byte
	Size      int64
	Timestamp time.Time
}

// Scan returns the next batch of live keys after cursor (nil: from the
// start) in write order, and the cursor to continue from. The end of the
// namespace is an empty batch with a nil cursor.
func (c *Client) Scan(ctx context.Context, cursor []byte) ([]ScanEntry, []byte, error) {
	args := [][]byte{[]byte("SCAN")}
	if cursor != nil {
		args = append(args, cursor)
	}
	v, err := c.call(ctx, args...)
	var re *ReplyError
	if errors.As(err, &re) && re.Msg == "No more data" {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("SCAN %s: %w", c, err)
	}
	bad := func() ([]ScanEntry, []byte, error) {
		return nil, nil, fmt.Errorf("SCAN %s: unexpected reply %s", c, v)
	}
	if v.Kind != '*' || len(v.Array) != 2 || v.Array[0].Kind != '$' || v.Array[1].Kind != '*' {
		return bad()
	}
	items := v.Array[1].Array
	out := make([]ScanEntry, 0, len(items))
	for _, it := range items {
		if it.Kind != '*' || len(it.Array) != 3 || it.Array[0].Kind != '$' {
			return bad()
		}
		out = append(out, ScanEntry{Key: it.Array[0].Str, Size: it.Array[1].Int, Timestamp: time.Unix(it.Array[2].Int, 0)})
	}
	if len(out) == 0 {
		return nil, nil, nil
	}
	return out, v.Array[0].Str, nil
}

// staleConn reports errors that mean the peer had closed the connection
// before the request: safe to retry on a new connection.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}
