package testcluster

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxyDialTimeout bounds the proxy's connection to its backend.
const proxyDialTimeout = 2 * time.Second

// Proxy is a TCP forwarder on a loopback port in front of one backend. Its
// faults are changed atomically while connections are open: a delay added
// before every chunk sent from client to server, and a black hole that
// accepts connections and silently discards everything in both directions.
//
// The connection to the backend is made when the first bytes are
// forwarded, so a blackholed proxy accepts clients even when the backend
// is down. When the backend closes, the client's connection is closed.
type Proxy struct {
	ln     net.Listener
	target string
	delay  atomic.Int64 // time.Duration
	drop   atomic.Bool

	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	closed    bool
	conns     map[*proxyConn]struct{}
	wg        sync.WaitGroup
}

// proxyConn is one client connection and, once dialed, its backend
// connection.
type proxyConn struct {
	client  net.Conn
	dropped atomic.Bool // some bytes were discarded: the streams are out of step

	mu      sync.Mutex
	server  net.Conn
	done    chan struct{}
	closing bool
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, done: make(chan struct{}), conns: make(map[*proxyConn]struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay makes every later chunk from client to server wait d before it
// is forwarded; 0 forwards at once.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(max(d, 0))) }

// SetBlackhole turns the black hole on or off. Turning it off closes the
// connections that lost bytes meanwhile (a request or reply went missing,
// so the protocol stream cannot be trusted); the others carry on.
func (p *Proxy) SetBlackhole(on bool) {
	p.drop.Store(on)
	if on {
		return
	}
	for _, pc := range p.snapshot() {
		if pc.dropped.Load() {
			pc.close()
		}
	}
}

// CloseConns closes every open client connection (the listener stays) and
// returns how many there were.
func (p *Proxy) CloseConns() int {
	all := p.snapshot()
	for _, pc := range all {
		pc.close()
	}
	return len(all)
}

// Close stops listening, closes every connection and waits for the
// forwarding goroutines. It is idempotent.
func (p *Proxy) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.done)
		err = p.ln.Close()
		p.mu.Lock()
		p.closed = true
		all := make([]*proxyConn, 0, len(p.conns))
		for pc := range p.conns {
			all = append(all, pc)
		}
		p.mu.Unlock()
		for _, pc := range all {
			pc.close()
		}
		p.wg.Wait()
	})
	return err
}

func (p *Proxy) snapshot() []*proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := make([]*proxyConn, 0, len(p.conns))
	for pc := range p.conns {
		all = append(all, pc)
	}
	return all
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off and go on.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		pc := &proxyConn{client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns[pc] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.clientToServer(pc)
	}
}

// clientToServer forwards the client's bytes and owns the connection: it
// closes both sides when either ends.
func (p *Proxy) clientToServer(pc *proxyConn) {
	defer p.wg.Done()
	defer func() {
		pc.close()
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := pc.client.Read(buf)
		if n > 0 && !p.forward(pc, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward sends one chunk to the backend, after the delay, unless the black
// hole swallows it. It reports whether the connection lives on.
func (p *Proxy) forward(pc *proxyConn, b []byte) bool {
	if p.drop.Load() {
		pc.dropped.Store(true)
		return true
	}
	if d := time.Duration(p.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-pc.done:
			t.Stop()
			return false
		}
		if p.drop.Load() {
			pc.dropped.Store(true)
			return true
		}
	}
	srv, err := p.server(pc)
	if err != nil {
		return false
	}
	_, err = srv.Write(b)
	return err == nil
}

// server returns the connection's backend side, dialing it on first use.
func (p *Proxy) server(pc *proxyConn) (net.Conn, error) {
	pc.mu.Lock()
	srv, closing := pc.server, pc.closing
	pc.mu.Unlock()
	if closing {
		return nil, net.ErrClosed
	}
	if srv != nil {
		return srv, nil
	}
	srv, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		return nil, err
	}
	pc.mu.Lock()
	if pc.closing {
		pc.mu.Unlock()
		srv.Close()
		return nil, net.ErrClosed
	}
	pc.server = srv
	pc.mu.Unlock()
	p.wg.Add(1)
	go p.serverToClient(pc, srv)
	return srv, nil
}

func (p *Proxy) serverToClient(pc *proxyConn, srv net.Conn) {
	defer p.wg.Done()
	defer pc.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := srv.Read(buf)
		if n > 0 {
			if p.drop.Load() {
				pc.dropped.Store(true)
			} else if _, werr := pc.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// close closes both sides; it is idempotent.
func (pc *proxyConn) close() {
	pc.mu.Lock()
	if pc.closing {
		pc.mu.Unlock()
		return
	}
	pc.closing = true
	srv := pc.server
	close(pc.done)
	pc.mu.Unlock()
	pc.client.Close()
	if srv != nil {
		srv.Close()
	}
}
