package server

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zerostor/zerostor/internal/resp"
	"github.com/zerostor/zerostor/internal/zdb/record"
	"github.com/zerostor/zerostor/internal/zdb/store"
)

// Output is flushed to the socket once this much is pending, so a reply
// made of many large values (MGET) never sits whole in memory.
const flushThreshold = 1 << 20

// conn is one client connection. It is served by one goroutine.
type conn struct {
	srv *Server
	nc  net.Conn
	r   *resp.Reader
	out []byte

	ns        *namespace
	writable  bool
	admin     bool
	nonce     string
	closing   bool          // close once replies are flushed
	peeked    []byte        // input read by WAIT's disconnect watch, not yet parsed
	watchDone chan struct{} // closed when that watch has ended

	// Consecutive SETs are gathered and written with one write(2): their
	// keys and values are copied to arena (the reader reuses its buffer).
	batch  []pendingSet
	arena  []byte
	queued int // writes ever queued (dispatch tells refusals apart)
	ops    []store.Op
	res    []store.Result
}

type pendingSet struct {
	direct                         bool // key and val below are the reader's, not in arena
	key, val                       []byte
	keyOff, keyLen, valOff, valLen int
	worm                           bool
	time                           int64
	del                            bool
	ns                             *namespace
	start                          time.Time
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, admin: s.cfg.Admin == "", writable: !s.cfg.Protect}
	c.ns = s.ns.get("default")
	c.r = resp.NewReader(countingReader{c, &s.netRx}, resp.Limits{
		MaxArgs: 1024,
		MaxBulk: record.MaxValueSize,
		// 0-db has no inline commands: the reader rejects any inline
		// line longer than one byte, and readFailed words it as 0-db.
		MaxInline: 1,
	})
	c.r.BeforeFill = c.beforeFill
	return c
}

// Read feeds the RESP reader: first what WAIT's watch read, then the socket.
func (c *conn) Read(p []byte) (int, error) {
	if len(c.peeked) > 0 {
		n := copy(p, c.peeked)
		c.peeked = c.peeked[n:]
		return n, nil
	}
	return c.nc.Read(p)
}

type countingReader struct {
	r io.Reader
	n interface{ Add(int64) int64 }
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n.Add(int64(n))
	return n, err
}

// beforeFill runs before every blocking read: everything answered so far
// goes out, and the read deadline is set by whether a command has started.
func (c *conn) beforeFill() error {
	c.commitBatch()
	if err := c.flush(); err != nil {
		return err
	}
	if c.closing {
		return io.EOF
	}
	var d time.Duration
	if c.r.Buffered() > 0 {
		d = c.srv.cfg.ClientTimeout // a command is half-received
	} else if c.srv.cfg.IdleTimeout > 0 {
		d = c.srv.cfg.IdleTimeout
	}
	if d > 0 {
		c.nc.SetReadDeadline(time.Now().Add(d))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
	return nil
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer func() {
		if p := recover(); p != nil {
			// A bug in one command must not take the daemon down: drop
			// the client, keep the stack.
			c.srv.log.Error("panic serving client", "remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			c.srv.metrics.panics.Inc()
		}
	}()
	for {
		args, err := c.r.ReadCommand()
		if err == resp.ErrEmptyCommand {
			c.commitBatch()
			c.replyErr(msgMissingArgs)
			continue
		}
		if err != nil {
			c.readFailed(err)
			return
		}
		c.dispatch(args)
		if c.closing {
			c.commitBatch()
			c.flush()
			return
		}
		if len(c.out) >= flushThreshold {
			if c.flush() != nil {
				return
			}
		}
	}
}

func (c *conn) readFailed(err error) {
	var pe *resp.ProtocolError
	switch {
	case errors.As(err, &pe):
		c.commitBatch()
		msg := pe.Error()
		switch {
		case pe.Msg == "bulk too large":
			msg = msgPayloadTooBig
		case pe.Msg == "inline command too long":
			msg = "Malformed request, array expected"
		case pe.Msg == "too many arguments":
			msg = "Too many arguments"
		case strings.HasPrefix(pe.Msg, "expected '$'"):
			msg = "Malformed query string"
		}
		c.out = resp.AppendError(c.out, msg)
		c.flush()
		c.srv.metrics.protocolErrors.Inc()
	case errors.Is(err, io.EOF):
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.srv.metrics.timeouts.Inc()
		}
	}
}

// flush writes pending replies.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.ClientTimeout))
	n, err := c.nc.Write(c.out)
	c.srv.netTx.Add(int64(n))
	if cap(c.out) > 4*flushThreshold {
		c.out = nil // let a burst's big buffer go
	} else {
		c.out = c.out[:0]
	}
	if err != nil {
		c.closing = true
	}
	return err
}

func (c *conn) replyErr(msg string) { c.out = resp.AppendError(c.out, msg) }
func (c *conn) replyOK()            { c.out = resp.AppendSimple(c.out, "OK") }
func (c *conn) replyNull()          { c.out = resp.AppendNull(c.out) }
func (c *conn) replyInt(n int64)    { c.out = resp.AppendInt(c.out, n) }
func (c *conn) replyBulk(b []byte)  { c.out = resp.AppendBulk(c.out, b) }
func (c *conn) replyStr(s string)   { c.out = resp.AppendBulkString(c.out, s) }

// queueWrite adds a SET or DEL to the batch; its reply is produced by
// commitBatch, which always runs before any later command.
func (c *conn) queueWrite(key, val []byte, del, worm bool, t int64) {
	c.queued++
	p := pendingSet{keyOff: len(c.arena), keyLen: len(key), worm: worm, time: t, del: del, ns: c.ns, start: time.Now()}
	if len(c.batch) == 0 && c.r.Buffered() == 0 {
		// A lone write (nothing pipelined behind it): apply it straight
		// from the reader's buffer, which stays valid until the next read,
		// instead of copying a value of up to 8 MiB.
		p.direct, p.key, p.val, p.valLen = true, key, val, len(val)
		c.batch = append(c.batch, p)
		c.commitBatch()
		return
	}
	c.arena = append(c.arena, key...)
	p.valOff = len(c.arena)
	p.valLen = len(val)
	c.arena = append(c.arena, val...)
	c.batch = append(c.batch, p)
	if len(c.arena) >= flushThreshold {
		c.commitBatch()
	}
}

// commitBatch applies the gathered writes and appends their replies.
func (c *conn) commitBatch() {
	if len(c.batch) == 0 {
		return
	}
	ns := c.batch[0].ns
	c.ops = c.ops[:0]
	for _, p := range c.batch {
		key, val := p.key, p.val
		if !p.direct {
			key, val = c.arena[p.keyOff:p.keyOff+p.keyLen], c.arena[p.valOff:p.valOff+p.valLen]
		}
		c.ops = append(c.ops, store.Op{
			Key:    key,
			Value:  val,
			Delete: p.del,
			Worm:   p.worm,
			Time:   p.time,
		})
	}
	if cap(c.res) < len(c.ops) {
		c.res = make([]store.Result, len(c.ops))
	}
	res := c.res[:len(c.ops)]
	ns.mu.RLock()
	err := ns.st.Apply(c.ops, res)
	seq := ns.st.Mode() == store.ModeSeq // st may be replaced once unlocked
	ns.mu.RUnlock()
	if err != nil {
		c.srv.dataWriteFailed.Add(1)
		c.srv.log.Error("write failed", "namespace", ns.name, "err", err)
	}
	var written int64
	var sets, dels bool
	for i, r := range res {
		p := c.batch[i]
		name := "SET"
		if p.del {
			name = "DEL"
			dels = true
		} else {
			sets = true
		}
		switch {
		case r.Err != nil:
			c.replyErr(writeErrMsg(r.Err, p.del, seq))
			c.srv.cmdsFailed.Add(1)
			c.srv.metrics.errors(name)
		case p.del:
			c.replyOK()
		case r.Unchanged:
			c.replyNull()
		case seq:
			var id [8]byte
			binary.LittleEndian.PutUint64(id[:], r.ID)
			c.replyBulk(id[:])
		default:
			c.replyBulk(c.ops[i].Key)
		}
		if r.Err == nil && !r.Unchanged {
			written += int64(p.valLen)
		}
		c.srv.metrics.observe(name, p.start)
	}
	c.srv.dataWriteBytes.Add(written)
	clear(c.batch) // drop references to the reader's buffer
	c.batch, c.arena = c.batch[:0], c.arena[:0]
	if cap(c.arena) > 4*flushThreshold {
		c.arena = nil
	}
	clear(c.ops) // drop references to the arena
	if ns.waiters.Load() > 0 {
		if sets {
			c.srv.waits.notify(c, ns, "SET")
		}
		if dels {
			c.srv.waits.notify(c, ns, "DEL")
		}
	}
}

func writeErrMsg(err error, del, seq bool) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return msgKeyNotFound
	case errors.Is(err, store.ErrExists) && del:
		return msgWormDelete
	case errors.Is(err, store.ErrExists):
		return msgWormOverwrite
	case errors.Is(err, store.ErrNoSpace):
		return msgNoSpace
	case errors.Is(err, store.ErrBadKey) && seq:
		return msgSeqUpdateOnly
	case errors.Is(err, store.ErrBadKey):
		return msgKeyNeeded
	case errors.Is(err, store.ErrTooLarge):
		return msgPayloadTooBig
	}
	return msgWriteFailed
}
