package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/zerostor/zerostor/zstor"
)

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
	resp, err := c.send(ctx, http.MethodGet, "/v1/objects/"+escapeKey(key), q)
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
