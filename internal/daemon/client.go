package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// ErrNoDaemon is returned by Dial when no daemon listens on the socket
// (no socket file, or a stale one).
var ErrNoDaemon = errors.New("daemon: no daemon on the socket")

// Client talks to a daemon over its unix socket. It implements Store, so
// the command line runs the same code with or without a daemon. It is
// safe for concurrent use.
type Client struct {
	socket string
	tr     *http.Transport
	hc     *http.Client
}

// New returns a client of the daemon at socket without contacting it.
func New(socket string) *Client {
	d := net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     time.Minute,
	}
	return &Client{socket: socket, tr: tr, hc: &http.Client{Transport: tr}}
}

// Dial returns a client of the daemon at socket once it has answered a
// ping. When nothing listens there the error wraps ErrNoDaemon.
func Dial(ctx context.Context, socket string) (*Client, error) {
	c := New(socket)
	if _, err := c.Ping(ctx); err != nil {
		c.Close()
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: %s", ErrNoDaemon, socket)
		}
		return nil, err
	}
	return c, nil
}

// Socket is the daemon's socket path.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// Ping asks the daemon who it is.
func (c *Client) Ping(ctx context.Context) (PingJSON, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var p PingJSON
	err := c.call(ctx, http.MethodGet, "/v1/ping", nil, &p)
	if err == nil && p.Service != "zstor" {
		err = fmt.Errorf("daemon: %s is not a zstor daemon", c.socket)
	}
	return p, err
}

func (c *Client) url(path string, q url.Values) string {
	u := "http://zstor" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("zstor daemon at %s: %w", c.socket, err)
	}
	return resp, nil
}

// send does a request without a body.
func (c *Client) send(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), nil)
	if err != nil {
		return nil, err
	}
	return c.do(req)
}

// call does a request without a body and decodes a JSON reply into out.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, out any) error {
	resp, err := c.send(ctx, method, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errorFrom(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("zstor daemon at %s: bad reply to %s %s: %w", c.socket, method, path, err)
	}
	return nil
}

// errorFrom turns an error reply into a *RemoteError.
func errorFrom(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return &RemoteError{Kind: e.Kind, Msg: e.Error}
	}
	if re, ok := decodeErrorHeader(resp.Header.Get(hdrError)); ok {
		return re
	}
	return &RemoteError{Kind: KindInternal, Msg: fmt.Sprintf("zstor daemon: %s", resp.Status)}
}

// Stat implements Store.
func (c *Client) Stat(ctx context.Context, key string) (zstor.ObjectInfo, error) {
	resp, err := c.send(ctx, http.MethodHead, "/v1/objects/"+escapeKey(key), nil)
	if err != nil {
		return zstor.ObjectInfo{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return zstor.ObjectInfo{}, errorFrom(resp)
	}
	return getInfo(resp.Header, key)
}

// Delete implements Store.
func (c *Client) Delete(ctx context.Context, key string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v1/objects/"+escapeKey(key), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return errorFrom(resp)
	}
	return nil
}

// List implements Store; the listing streams.
func (c *Client) List(ctx context.Context, prefix, after string) iter.Seq2[zstor.ObjectInfo, error] {
	return func(yield func(zstor.ObjectInfo, error) bool) {
		q := url.Values{}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if after != "" {
			q.Set("after", after)
		}
		resp, err := c.send(ctx, http.MethodGet, "/v1/list", q)
		if err != nil {
			yield(zstor.ObjectInfo{}, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			yield(zstor.ObjectInfo{}, errorFrom(resp))
			return
		}
		dec := json.NewDecoder(resp.Body)
		for {
			var line struct {
				ObjectJSON
				Error string `json:"error"`
				Kind  string `json:"kind"`
			}
			err := dec.Decode(&line)
			switch {
			case err == io.EOF:
				return
			case err != nil:
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(zstor.ObjectInfo{}, fmt.Errorf("zstor: list %q: reading from the daemon: %w", prefix, err))
				return
			case line.Error != "":
				yield(zstor.ObjectInfo{}, &RemoteError{Kind: line.Kind, Msg: line.Error})
				return
			}
			if !yield(line.Info(), nil) {
				return
			}
		}
	}
}

// Check implements Store.
func (c *Client) Check(ctx context.Context, key string) (zstor.CheckReport, error) {
	var r CheckJSON
	if err := c.call(ctx, http.MethodPost, "/v1/check/"+escapeKey(key), nil, &r); err != nil {
		return zstor.CheckReport{}, err
	}
	return r.Report(), nil
}

// Rebuild implements Store.
func (c *Client) Rebuild(ctx context.Context, key string) (zstor.ObjectInfo, error) {
	var o ObjectJSON
	if err := c.call(ctx, http.MethodPost, "/v1/rebuild/"+escapeKey(key), nil, &o); err != nil {
		return zstor.ObjectInfo{}, err
	}
	return o.Info(), nil
}

// Status implements Store.
func (c *Client) Status(ctx context.Context) ([]zstor.BackendStatus, error) {
	var bs []BackendJSON
	if err := c.call(ctx, http.MethodGet, "/v1/status", nil, &bs); err != nil {
		return nil, err
	}
	out := make([]zstor.BackendStatus, len(bs))
	for i, b := range bs {
		out[i] = b.Status()
	}
	return out, nil
}

// Recover implements Store.
func (c *Client) Recover(ctx context.Context) (int, error) {
	var r RecoverJSON
	if err := c.call(ctx, http.MethodPost, "/v1/recover", nil, &r); err != nil {
		return 0, err
	}
	return r.Restored, nil
}

// Sweep implements Store.
func (c *Client) Sweep(ctx context.Context, grace time.Duration) (zstor.SweepReport, error) {
	var r SweepJSON
	if err := c.call(ctx, http.MethodPost, "/v1/sweep", url.Values{"grace": {grace.String()}}, &r); err != nil {
		return zstor.SweepReport{}, err
	}
	rep := zstor.SweepReport{Scanned: r.Scanned, Deleted: r.Deleted, Errors: r.Errors}
	if r.Error != "" {
		return rep, &RemoteError{Kind: r.Kind, Msg: r.Error}
	}
	return rep, nil
}
