package server

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/zerostor/zerostor/internal/resp"
)

// waits holds the connections blocked in WAIT.
type waits struct {
	mu   sync.Mutex
	list map[*waiter]struct{}
}

type waiter struct {
	c   *conn
	ns  *namespace
	cmd string // command name, or "*" for any
	ch  chan string
}

// notify wakes the waiters of ns that watch name, except from itself.
func (w *waits) notify(from *conn, ns *namespace, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for x := range w.list {
		if x.ns == ns && x.c != from && (x.cmd == "*" || x.cmd == name) {
			x.ch <- name // buffered, one send per waiter
			delete(w.list, x)
			ns.waiters.Add(-1)
		}
	}
}

func (w *waits) cancelAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for x := range w.list {
		close(x.ch)
		delete(w.list, x)
		x.ns.waiters.Add(-1)
	}
}

// cmdWait: WAIT <command|*> [timeout-ms] blocks until another client of the
// same namespace runs that command.
func cmdWait(c *conn, args [][]byte) {
	if len(args) != 2 && len(args) != 3 {
		c.replyErr("Invalid arguments")
		return
	}
	name := "*"
	if string(args[1]) != "*" {
		cmd := lookupCommand(args[1])
		if cmd == nil {
			c.replyErr("Unknown command to watch")
			return
		}
		name = cmd.name
		if name == "SETX" {
			name = "SET"
		}
	}
	timeout := 5 * time.Second
	if len(args) == 3 {
		ms, err := strconv.Atoi(string(args[2]))
		if len(args[2]) > 16 || err != nil || ms < 100 || ms > 1800000 {
			c.replyErr("Invalid timeout")
			return
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	// Answer everything before blocking.
	if c.flush() != nil {
		return
	}
	x := &waiter{c: c, ns: c.ns, cmd: name, ch: make(chan string, 1)}
	w := &c.srv.waits
	w.mu.Lock()
	if w.list == nil {
		w.list = make(map[*waiter]struct{})
	}
	w.list[x] = struct{}{}
	c.ns.waiters.Add(1)
	w.mu.Unlock()
	gone := c.watchDisconnect()
	defer c.stopWatch()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-gone:
		// The client left: do not hold its slot until the timeout.
		w.mu.Lock()
		if _, still := w.list[x]; still {
			delete(w.list, x)
			c.ns.waiters.Add(-1)
		}
		w.mu.Unlock()
		c.closing = true
	case got, ok := <-x.ch:
		if !ok {
			c.closing = true
			return
		}
		c.out = resp.AppendSimple(c.out, got)
	case <-t.C:
		w.mu.Lock()
		_, still := w.list[x]
		if still {
			delete(w.list, x)
			c.ns.waiters.Add(-1)
		}
		w.mu.Unlock()
		if !still {
			// Notified at the same moment as the timer fired.
			if got, ok := <-x.ch; ok {
				c.out = resp.AppendSimple(c.out, got)
				return
			}
		}
		c.replyErr("Timeout")
	}
}

// watchDisconnect reads from the client while it is blocked in WAIT; the
// returned channel is closed if the connection ends. A byte that arrives
// meanwhile (a pipelined command) is kept for the RESP reader, and the
// watch stops there. stopWatch must be called before reading again.
func (c *conn) watchDisconnect() <-chan struct{} {
	gone := make(chan struct{})
	c.watchDone = nil
	if c.r.Buffered() > 0 || len(c.peeked) > 0 {
		return gone // more input is already here: nothing to watch
	}
	done := make(chan struct{})
	c.watchDone = done
	c.nc.SetReadDeadline(time.Time{})
	go func() {
		defer close(done)
		var b [1]byte
		n, err := c.nc.Read(b[:])
		if n > 0 {
			c.peeked = append(c.peeked, b[0])
			return
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			close(gone)
		}
	}()
	return gone
}

// stopWatch ends the watch started by watchDisconnect and waits for it.
func (c *conn) stopWatch() {
	if c.watchDone == nil {
		return
	}
	c.nc.SetReadDeadline(time.Now()) // wakes the watch's Read
	<-c.watchDone
	c.watchDone = nil
}
