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
	"strconv"
	"sync"
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

// call does a request without a body and decodes a JSON reply into out.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
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

// Put implements Store. The body is streamed; opts.Progress counts the
// bytes sent.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, opts zstor.PutOptions) (zstor.ObjectInfo, error) {
	body := &putBody{r: r, progress: opts.Progress}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url("/v1/objects/"+escapeKey(key), nil), body)
	if err != nil {
		return zstor.ObjectInfo{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	setMeta(req.Header, opts.UserMeta)
	resp, err := c.do(req)
	rerr := body.stop()
	if err != nil {
		if rerr != nil {
			return zstor.ObjectInfo{}, fmt.Errorf("zstor: put %q: %w", key, rerr)
		}
		return zstor.ObjectInfo{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return zstor.ObjectInfo{}, errorFrom(resp)
	}
	var o ObjectJSON
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		return zstor.ObjectInfo{}, fmt.Errorf("zstor daemon at %s: bad reply to put: %w", c.socket, err)
	}
	return o.Info(), nil
}

// putBody feeds a request body from the caller's reader, counting, and
// stops reading it once Put has returned (the transport may close a body
// late).
type putBody struct {
	mu       sync.Mutex
	r        io.Reader
	n        int64
	err      error // the reader's error, other than io.EOF
	stopped  bool
	progress func(int64)
}

func (b *putBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	stopped := b.stopped
	b.mu.Unlock()
	if stopped {
		return 0, errors.New("put finished")
	}
	n, err := b.r.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	if n > 0 && b.progress != nil {
		b.progress(b.n)
	}
	return n, err
}

func (b *putBody) stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	return b.err
}

// Get implements Store: the body streams; the reader fails rather than
// end early if the daemon could not read the object to its end.
func (c *Client) Get(ctx context.Context, key string, opts zstor.GetOptions) (ObjectReader, error) {
	q := url.Values{}
	if opts.Offset != 0 {
		q.Set("offset", strconv.FormatInt(opts.Offset, 10))
	}
	if opts.Length != 0 {
		q.Set("length", strconv.FormatInt(opts.Length, 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/objects/"+escapeKey(key), q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, errorFrom(resp)
	}
	info, err := getInfo(resp.Header, key)
	if err == nil {
		var n int64
		if n, err = strconv.ParseInt(resp.Header.Get(hdrLength), 10, 64); err == nil {
			return &remoteReader{key: key, resp: resp, info: info, want: n, progress: opts.Progress}, nil
		}
	}
	resp.Body.Close()
	return nil, fmt.Errorf("zstor daemon at %s: bad reply to get: %w", c.socket, err)
}

type remoteReader struct {
	key      string
	resp     *http.Response
	info     zstor.ObjectInfo
	want     int64
	done     int64
	progress func(int64)
	err      error
}

func (r *remoteReader) Info() zstor.ObjectInfo { return r.info }

func (r *remoteReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.resp.Body.Read(p)
	r.done += int64(n)
	if n > 0 && r.progress != nil {
		r.progress(r.done)
	}
	switch {
	case err == io.EOF:
		if re, ok := decodeErrorHeader(r.resp.Trailer.Get(hdrError)); ok {
			err = re
		} else if r.done != r.want {
			err = fmt.Errorf("zstor: get %q: the daemon sent %d bytes of %d", r.key, r.done, r.want)
		}
	case err != nil:
		err = fmt.Errorf("zstor: get %q: reading from the daemon: %w", r.key, err)
	}
	r.err = err
	return n, err
}

func (r *remoteReader) Close() error {
	if r.err == nil {
		r.err = errors.New("zstor: reader closed")
	}
	return r.resp.Body.Close()
}

// Stat implements Store.
func (c *Client) Stat(ctx context.Context, key string) (zstor.ObjectInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url("/v1/objects/"+escapeKey(key), nil), nil)
	if err != nil {
		return zstor.ObjectInfo{}, err
	}
	resp, err := c.do(req)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.url("/v1/objects/"+escapeKey(key), nil), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
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
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/list", q), nil)
		if err != nil {
			yield(zstor.ObjectInfo{}, err)
			return
		}
		resp, err := c.do(req)
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
