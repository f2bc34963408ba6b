package zdbclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerostor/zerostor/internal/resp"
)

// A muxConn pipelines the requests of many callers on one connection: a
// writer goroutine sends whatever requests are waiting in one write, and
// a reader goroutine hands the replies back in order. Under concurrency
// this turns many round trips into a few system calls, which is what
// small objects (k+m tiny shards each) need.
type muxConn struct {
	nc      net.Conn
	br      *bufio.Reader
	timeout time.Duration
	reqs    chan *request
	pending chan *request
	dead    chan struct{}
	once    sync.Once
	err     error
	load    atomic.Int64 // requests queued or in flight
}

type request struct {
	args [][]byte
	done chan struct{}
	v    resp.Value
	err  error
}

// Process-wide pipelining counters, for benchmarks: how many requests
// went out in how many writes.
var muxWrites, muxRequests atomic.Int64

// PipelineStats returns the requests sent and the writes that carried
// them, over every client of the process.
func PipelineStats() (requests, writes int64) { return muxRequests.Load(), muxWrites.Load() }

// errConnLost wraps the transport error that broke a pipelined connection.
var errConnLost = errors.New("connection lost")

const (
	linger     = time.Millisecond
	maxBatch   = 128     // requests per write
	maxPending = 1 << 12 // requests awaiting replies on one connection
)

func newMux(nc net.Conn, br *bufio.Reader, timeout time.Duration) *muxConn {
	m := &muxConn{
		nc: nc, br: br, timeout: timeout,
		reqs:    make(chan *request, maxBatch),
		pending: make(chan *request, maxPending),
		dead:    make(chan struct{}),
	}
	go m.writeLoop()
	go m.readLoop()
	return m
}

// fail breaks the connection: every queued and future request gets err.
func (m *muxConn) fail(err error) {
	m.once.Do(func() {
		m.err = fmt.Errorf("%w: %w", errConnLost, err)
		close(m.dead)
		m.nc.Close()
	})
}

func (m *muxConn) alive() bool {
	select {
	case <-m.dead:
		return false
	default:
		return true
	}
}

func (m *muxConn) writeLoop() {
	var buf []byte
	var batch []*request
	for {
		batch = batch[:0]
		select {
		case r := <-m.reqs:
			batch = append(batch, r)
		case <-m.dead:
			m.drain()
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-m.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		// Other callers are waiting on this connection: they are likely
		// about to send too (k+m shards of concurrent small objects go out
		// together). Give them a moment to join this write: one system
		// call on each side instead of one per request.
		if m.load.Load() > int64(len(batch)) && len(batch) < maxBatch {
			t := time.NewTimer(linger)
		wait:
			for len(batch) < maxBatch {
				select {
				case r := <-m.reqs:
					batch = append(batch, r)
				case <-t.C:
					break wait
				}
			}
			t.Stop()
		}
		var out net.Buffers
		buf, out = encode(buf[:0], batch)
		muxWrites.Add(1)
		muxRequests.Add(int64(len(batch)))
		// Replies come back in this order: queue the requests for the
		// reader before their bytes leave.
		for _, r := range batch {
			select {
			case m.pending <- r:
			case <-m.dead:
				r.finish(resp.Value{}, m.err)
			}
		}
		m.nc.SetWriteDeadline(time.Now().Add(m.timeout))
		if _, err := out.WriteTo(m.nc); err != nil {
			m.fail(err)
		}
	}
}

// drain fails the requests still queued for writing.
func (m *muxConn) drain() {
	for {
		select {
		case r := <-m.reqs:
			r.finish(resp.Value{}, m.err)
		default:
			return
		}
	}
}

func (m *muxConn) readLoop() {
	for {
		var r *request
		select {
		case r = <-m.pending:
		case <-m.dead:
			for {
				select {
				case r := <-m.pending:
					r.finish(resp.Value{}, m.err)
				default:
					return
				}
			}
		}
		m.nc.SetReadDeadline(time.Now().Add(m.timeout))
		v, err := resp.ReadReply(m.br)
		if err != nil {
			m.fail(err)
			r.finish(resp.Value{}, m.err)
			continue
		}
		if v.Kind == '-' {
			r.finish(v, &ReplyError{Msg: string(v.Str)})
			continue
		}
		r.finish(v, nil)
	}
}

func (r *request) finish(v resp.Value, err error) {
	r.v, r.err = v, err
	close(r.done)
}

// largeArg is the size from which an argument is written from its own
// memory instead of being copied into the write buffer.
const largeArg = 32 << 10

// encode appends a batch of commands to buf; arguments of largeArg bytes
// or more are not copied but written from their own memory.
func encode(buf []byte, batch []*request) ([]byte, net.Buffers) {
	var out net.Buffers
	mark := 0
	for _, r := range batch {
		buf = resp.AppendArrayHeader(buf, len(r.args))
		for _, a := range r.args {
			if len(a) < largeArg {
				buf = resp.AppendBulk(buf, a)
				continue
			}
			buf = append(strconv.AppendInt(append(buf, '$'), int64(len(a)), 10), '\r', '\n')
			out = append(out, buf[mark:len(buf):len(buf)], a)
			buf = append(buf, '\r', '\n')
			mark = len(buf) - 2
		}
	}
	return buf, append(out, buf[mark:])
}

// do queues one request and waits for its reply or the context.
func (m *muxConn) do(ctx context.Context, args [][]byte) (resp.Value, error) {
	r := &request{args: args, done: make(chan struct{})}
	m.load.Add(1)
	defer m.load.Add(-1)
	select {
	case m.reqs <- r:
	case <-m.dead:
		return resp.Value{}, m.err
	case <-ctx.Done():
		return resp.Value{}, ctx.Err()
	}
	select {
	case <-r.done:
		return r.v, r.err
	case <-m.dead:
		// The request may have been queued after the loops drained their
		// queues: nothing will finish it.
		select {
		case <-r.done:
			return r.v, r.err
		default:
			return resp.Value{}, m.err
		}
	case <-ctx.Done():
		// The reply, when it comes, is read and dropped.
		return resp.Value{}, ctx.Err()
	}
}
