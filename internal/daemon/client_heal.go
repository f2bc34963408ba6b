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

	"github.com/zerostor/zerostor/zstor"
)

// Health implements Store.
func (c *Client) Health(ctx context.Context, refresh bool) (zstor.Health, error) {
	var h HealthJSON
	q := url.Values{}
	if refresh {
		q.Set("refresh", "true")
	}
	if err := c.call(ctx, http.MethodGet, "/v1/health", q, &h); err != nil {
		return zstor.Health{}, err
	}
	return h.Health(), nil
}

// HealthCheck asks the daemon's health check (GET /health): the summary,
// whose OK says whether the store serves. It is an error only when the
// daemon did not answer with a summary.
func (c *Client) HealthCheck(ctx context.Context) (HealthSummaryJSON, error) {
	var s HealthSummaryJSON
	resp, err := c.send(ctx, http.MethodGet, "/health", nil)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return s, errorFrom(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Status == "" {
		return s, fmt.Errorf("zstor daemon at %s: bad reply to the health check (%s): %v", c.socket, resp.Status, err)
	}
	return s, nil
}

// RepairQueue implements Store.
func (c *Client) RepairQueue(ctx context.Context, limit int) ([]zstor.QueuedRepair, int, error) {
	var q QueueJSON
	if err := c.call(ctx, http.MethodGet, "/v1/queue", url.Values{"limit": {strconv.Itoa(limit)}}, &q); err != nil {
		return nil, 0, err
	}
	entries, total := q.Queue()
	return entries, total, nil
}

// RepairAll implements Store; progress is called as the daemon reports
// each object.
func (c *Client) RepairAll(ctx context.Context, progress func(key string, rep zstor.RepairReport, err error)) (zstor.RepairAllReport, error) {
	q := url.Values{}
	var onLine func(RepairJSON)
	if progress != nil {
		q.Set("progress", "true")
		onLine = func(p RepairJSON) { progress(p.Repair()) }
	}
	out, err := streamCall[RepairJSON, RepairAllJSON](ctx, c, "/v1/repair-all", q, onLine)
	if err != nil {
		return zstor.RepairAllReport{}, err
	}
	return out.Report()
}

// Scrub implements Store; opts.Progress is called a few times a second at
// most.
func (c *Client) Scrub(ctx context.Context, opts zstor.ScrubOptions) (zstor.ScrubReport, error) {
	q := url.Values{}
	if opts.Rate > 0 {
		q.Set("rate", strconv.FormatInt(opts.Rate, 10))
	}
	if opts.After != "" {
		q.Set("after", opts.After)
	}
	var onLine func(ScrubJSON)
	if opts.Progress != nil {
		q.Set("progress", "true")
		onLine = func(p ScrubJSON) {
			rep, _ := p.Report()
			opts.Progress(rep)
		}
	}
	out, err := streamCall[ScrubJSON, ScrubJSON](ctx, c, "/v1/scrub", q, onLine)
	if err != nil {
		return zstor.ScrubReport{}, err
	}
	return out.Report()
}

// streamCall does a POST whose reply is a stream of JSON lines (see
// streamLine): progress lines go to onProgress, and the final line's
// report is returned. A stream that ends without its report is an error,
// never a report of work half done.
func streamCall[P, R any](ctx context.Context, c *Client, path string, q url.Values, onProgress func(P)) (R, error) {
	var zero R
	resp, err := c.send(ctx, http.MethodPost, path, q)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return zero, errorFrom(resp)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var line streamLine[P, R]
		if err := dec.Decode(&line); err != nil {
			if ctx.Err() != nil {
				return zero, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return zero, fmt.Errorf("zstor daemon at %s: %s: the reply ended before the report: %w", c.socket, path, err)
		}
		if line.Report != nil {
			return *line.Report, nil
		}
		if line.Progress != nil && onProgress != nil {
			onProgress(*line.Progress)
		}
	}
}

// Audit implements Store.
func (c *Client) Audit(ctx context.Context) (zstor.AuditResult, error) {
	var a AuditJSON
	if err := c.call(ctx, http.MethodPost, "/v1/audit", nil, &a); err != nil {
		return zstor.AuditResult{}, err
	}
	return a.Result(), nil
}

// Drain implements Store.
func (c *Client) Drain(ctx context.Context, id string) (int, error) {
	var d DrainJSON
	if err := c.call(ctx, http.MethodPost, "/v1/backends/"+escapeKey(id)+"/drain", nil, &d); err != nil {
		return 0, err
	}
	return d.Queued, nil
}

// Undrain implements Store.
func (c *Client) Undrain(ctx context.Context, id string) error {
	var d DrainJSON
	return c.call(ctx, http.MethodPost, "/v1/backends/"+escapeKey(id)+"/undrain", nil, &d)
}

// Reload implements Store: the daemon re-reads its configuration file.
func (c *Client) Reload(ctx context.Context) (zstor.ReloadReport, error) {
	var r ReloadJSON
	if err := c.call(ctx, http.MethodPost, "/v1/reload", nil, &r); err != nil {
		return zstor.ReloadReport{}, err
	}
	return r.Report(), nil
}

// VerifyLog implements Store.
func (c *Client) VerifyLog(ctx context.Context) (zstor.LogReport, error) {
	var l LogJSON
	if err := c.call(ctx, http.MethodPost, "/v1/log/verify", nil, &l); err != nil {
		return zstor.LogReport{}, err
	}
	return l.Report()
}
