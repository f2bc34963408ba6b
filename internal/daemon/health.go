package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// DefaultHealthTTL is how long the daemon reuses a health picture for
// its metrics and its health check: Health walks the whole metadata
// store, too much work for every scrape of every Prometheus server.
const DefaultHealthTTL = 10 * time.Second

// healthTimeout bounds one Health walk.
const healthTimeout = 30 * time.Second

// HealthCache reads a store's Health at most once per TTL and shares it:
// the metrics and GET /health use one. It is also the handler of GET
// /health (ServeHTTP).
type HealthCache struct {
	st        Store
	ttl       time.Duration
	minShards func() int

	mu  sync.Mutex // held during a read, so that callers wait for one walk rather than start their own
	at  time.Time
	h   zstor.Health
	err error
}

// NewHealthCache returns a cache of st's Health, kept ttl (0: always read
// afresh). minShards gives k, the backends the store needs up to read: the
// configuration's, which a reload may change.
func NewHealthCache(st Store, ttl time.Duration, minShards func() int) *HealthCache {
	return &HealthCache{st: st, ttl: ttl, minShards: minShards}
}

// Health returns the cached picture, reading it when it is older than the
// TTL. Backends are not refreshed: the daemon's prober keeps them current.
func (c *HealthCache) Health(ctx context.Context) (zstor.Health, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		return c.h, c.err
	}
	// The walk is not tied to one caller: it is shared, and a scrape that
	// gives up must not leave a canceled result for the next.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthTimeout)
	defer cancel()
	c.h, c.err = c.st.Health(wctx, false)
	c.at = time.Now()
	return c.h, c.err
}

// HealthSummaryJSON is the reply of GET /health.
type HealthSummaryJSON struct {
	// Status is "ok" when the store serves (the store is open, at least k
	// backends are up and no object is unreadable), else "failing".
	Status string `json:"status"`
	// Reason says why it is failing: the problems, joined.
	Reason      string   `json:"reason,omitempty"`
	Problems    []string `json:"problems,omitempty"`
	Backends    int      `json:"backends"`
	BackendsUp  int      `json:"backends_up"`
	MinShards   int      `json:"min_shards"`
	Objects     int64    `json:"objects"`
	Degraded    int64    `json:"degraded"`
	Unreadable  int64    `json:"unreadable"`
	RepairQueue int      `json:"repair_queue"`
	Healing     bool     `json:"healing"`
}

// Health check statuses.
const (
	HealthOK      = "ok"
	HealthFailing = "failing"
)

// OK reports whether the summary says the store serves.
func (s HealthSummaryJSON) OK() bool { return s.Status == HealthOK }

// Summarize judges a health picture (and the error reading it): the store
// serves when it could be read, at least k backends are up (healthy or
// degraded: down and terminal ones are not) and no object is unreadable.
// Degraded objects are not a failure: the repair takes care of them.
func Summarize(h zstor.Health, err error, k int) HealthSummaryJSON {
	s := HealthSummaryJSON{Backends: len(h.Backends), MinShards: k, Objects: h.Objects, Degraded: h.Degraded,
		Unreadable: h.Unreadable, RepairQueue: h.Repair.Queue, Healing: h.Healing}
	for _, b := range h.Backends {
		if b.State < zstor.StateDown {
			s.BackendsUp++
		}
	}
	switch {
	case errors.Is(err, zstor.ErrClosed):
		s.Problems = append(s.Problems, "the store is closed")
	case err != nil:
		s.Problems = append(s.Problems, "cannot read the store's health: "+err.Error())
	default:
		if s.BackendsUp < k {
			s.Problems = append(s.Problems, fmt.Sprintf("%d of %d backends up, %d needed to read", s.BackendsUp, s.Backends, k))
		}
		if h.Unreadable > 0 {
			s.Problems = append(s.Problems, fmt.Sprintf("%d objects unreadable (fewer than k shards available)", h.Unreadable))
		}
	}
	s.Status = HealthOK
	if len(s.Problems) > 0 {
		s.Status, s.Reason = HealthFailing, strings.Join(s.Problems, "; ")
	}
	return s
}

// ServeHTTP answers the health check: 200 and the summary while the store
// serves, 503 and the summary with its reasons when it does not.
func (c *HealthCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h, err := c.Health(r.Context())
	s := Summarize(h, err, c.minShards())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !s.OK() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(s)
}
