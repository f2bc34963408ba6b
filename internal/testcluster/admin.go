package testcluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zerostor/zerostor/internal/resp"
)

// adminTimeout bounds an admin exchange whose context has no deadline.
const adminTimeout = 5 * time.Second

// adminConn is a connection straight to a daemon (never through the
// proxy, so that admin work is not slowed or swallowed by injected faults),
// authenticated with the admin password.
type adminConn struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte
}

// replyError is an error reply of the daemon.
type replyError string

func (e replyError) Error() string { return "zdb replied: " + string(e) }

func dialAdmin(ctx context.Context, addr, password string) (*adminConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	a := &adminConn{nc: nc, br: bufio.NewReader(nc)}
	if password != "" {
		if _, err := a.do(ctx, "AUTH", password); err != nil {
			nc.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return a, nil
}

func (a *adminConn) Close() error { return a.nc.Close() }

// do sends one command and returns its reply; an error reply is an error.
func (a *adminConn) do(ctx context.Context, args ...string) (resp.Value, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(adminTimeout)
	}
	a.nc.SetDeadline(deadline)
	a.buf = resp.AppendArrayHeader(a.buf[:0], len(args))
	for _, s := range args {
		a.buf = resp.AppendBulkString(a.buf, s)
	}
	if _, err := a.nc.Write(a.buf); err != nil {
		return resp.Value{}, err
	}
	v, err := resp.ReadReply(a.br)
	if err != nil {
		return resp.Value{}, err
	}
	if v.Kind == '-' {
		return v, replyError(v.Str)
	}
	return v, nil
}

// nsInfo runs NSINFO name and returns its "key: value" lines as a map.
func (a *adminConn) nsInfo(ctx context.Context, name string) (map[string]string, error) {
	v, err := a.do(ctx, "NSINFO", name)
	if err != nil {
		return nil, fmt.Errorf("NSINFO %s: %w", name, err)
	}
	m := make(map[string]string)
	for _, l := range strings.Split(string(v.Str), "\n") {
		if k, val, ok := strings.Cut(l, ": "); ok {
			m[k] = val
		}
	}
	return m, nil
}

// nsInfoInt returns one numeric NSINFO field.
func (a *adminConn) nsInfoInt(ctx context.Context, name, field string) (int64, error) {
	m, err := a.nsInfo(ctx, name)
	if err != nil {
		return 0, err
	}
	s, ok := m[field]
	if !ok {
		return 0, fmt.Errorf("NSINFO %s has no %q", name, field)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("NSINFO %s: %s = %q: %w", name, field, s, err)
	}
	return n, nil
}

// ping sends PING on a fresh connection and expects PONG.
func ping(ctx context.Context, addr string) error {
	a, err := dialAdmin(ctx, addr, "")
	if err != nil {
		return err
	}
	defer a.Close()
	v, err := a.do(ctx, "PING")
	if err != nil {
		return err
	}
	if string(v.Str) != "PONG" {
		return fmt.Errorf("PING answered %s", v)
	}
	return nil
}
