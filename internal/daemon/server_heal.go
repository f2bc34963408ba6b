package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// The self-healing endpoints (see the package documentation).

// serveHeal routes the self-healing endpoints; it reports whether p was
// one of them.
func (s *Server) serveHeal(w http.ResponseWriter, r *http.Request, p string) bool {
	switch {
	case p == "/health":
		if method(w, r, http.MethodGet) {
			s.health(w, r)
		}
	case p == "/v1/health":
		if method(w, r, http.MethodGet) {
			refresh, _ := strconv.ParseBool(r.URL.Query().Get("refresh"))
			h, err := s.st.Health(r.Context(), refresh)
			reply(w, HealthToJSON(h), err)
		}
	case p == "/v1/queue":
		if method(w, r, http.MethodGet) {
			s.queue(w, r)
		}
	case p == "/v1/repair-all":
		if method(w, r, http.MethodPost) {
			s.repairAll(w, r)
		}
	case p == "/v1/scrub":
		if method(w, r, http.MethodPost) {
			s.scrub(w, r)
		}
	case p == "/v1/audit":
		if method(w, r, http.MethodPost) {
			res, err := s.st.Audit(r.Context())
			reply(w, AuditToJSON(res), err)
		}
	case strings.HasPrefix(p, "/v1/backends/"):
		if method(w, r, http.MethodPost) {
			s.backend(w, r, p[len("/v1/backends/"):])
		}
	case p == "/v1/reload":
		if method(w, r, http.MethodPost) {
			rep, err := s.st.Reload(r.Context())
			reply(w, ReloadToJSON(rep), err)
		}
	case p == "/v1/log/verify":
		if method(w, r, http.MethodPost) {
			rep, err := s.st.VerifyLog(r.Context())
			writeJSON(w, LogToJSON(rep, err))
		}
	default:
		return false
	}
	return true
}

// health answers GET /health: 200 and a summary while the store serves,
// 503 and the reasons when it does not.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.opts.Health == nil {
		writeErrorStatus(w, http.StatusNotFound, errorBody{Error: "daemon: no health check configured", Kind: KindInvalid})
		return
	}
	s.opts.Health.ServeHTTP(w, r)
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, fmt.Errorf("%w: limit=%q is not a count", zstor.ErrInvalid, v))
			return
		}
		limit = n
	}
	q, total, err := s.st.RepairQueue(r.Context(), limit)
	reply(w, QueueToJSON(q, total), err)
}

// backend answers POST /v1/backends/ID/drain and .../undrain; rest is
// the escaped id, a slash and the action.
func (s *Server) backend(w http.ResponseWriter, r *http.Request, rest string) {
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		writeError(w, fmt.Errorf("%w: want /v1/backends/ID/drain or /v1/backends/ID/undrain", zstor.ErrInvalid))
		return
	}
	id, err := unescapeKey(rest[:i])
	if err == nil && id == "" {
		err = errors.New("empty")
	}
	if err != nil {
		writeError(w, fmt.Errorf("%w: backend id %q: %v", zstor.ErrInvalid, rest[:i], err))
		return
	}
	switch rest[i+1:] {
	case "drain":
		n, err := s.st.Drain(r.Context(), id)
		reply(w, DrainJSON{Backend: id, Queued: n}, err)
	case "undrain":
		err := s.st.Undrain(r.Context(), id)
		reply(w, DrainJSON{Backend: id}, err)
	default:
		writeError(w, fmt.Errorf("%w: unknown backend action %q (want drain or undrain)", zstor.ErrInvalid, rest[i+1:]))
	}
}

// streamLine is one line of a streamed reply (repair-all, scrub): progress
// lines while the work runs (when the request asked for them with
// progress=1), then one final line with the report, which carries the
// error if there was one.
type streamLine[P, R any] struct {
	Progress *P `json:"progress,omitempty"`
	Report   *R `json:"report,omitempty"`
}

// lineStream writes a streamed reply: JSON lines, flushed at most every
// flushEvery so that a fast pass does not cost a write per object, and
// safe for concurrent use (RepairAll reports from its workers).
type lineStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	flusher http.Flusher
	flushed time.Time
	gone    bool // the client went away: stop writing
}

const flushEvery = 100 * time.Millisecond

func newLineStream(w http.ResponseWriter) *lineStream {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &lineStream{w: w, enc: json.NewEncoder(w), flusher: f, flushed: time.Now()}
}

func (l *lineStream) send(v any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return
	}
	if l.enc.Encode(v) != nil {
		l.gone = true
		return
	}
	if l.flusher != nil && time.Since(l.flushed) >= flushEvery {
		l.flusher.Flush()
		l.flushed = time.Now()
	}
}

func (s *Server) repairAll(w http.ResponseWriter, r *http.Request) {
	want, _ := strconv.ParseBool(r.URL.Query().Get("progress"))
	ls := newLineStream(w)
	var progress func(string, zstor.RepairReport, error)
	if want {
		progress = func(key string, rep zstor.RepairReport, err error) {
			p := RepairToJSON(key, rep, err)
			ls.send(streamLine[RepairJSON, RepairAllJSON]{Progress: &p})
		}
	}
	rep, err := s.st.RepairAll(r.Context(), progress)
	out := RepairAllToJSON(rep, err)
	ls.send(streamLine[RepairJSON, RepairAllJSON]{Report: &out})
}

// scrubProgressEvery spaces scrub progress lines: the scrubber reports
// after every object, a display needs a few updates a second.
const scrubProgressEvery = 250 * time.Millisecond

func (s *Server) scrub(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := zstor.ScrubOptions{After: q.Get("after")}
	if v := q.Get("rate"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, fmt.Errorf("%w: rate=%q is not a byte rate", zstor.ErrInvalid, v))
			return
		}
		opts.Rate = n
	}
	want, _ := strconv.ParseBool(q.Get("progress"))
	ls := newLineStream(w)
	if want {
		var last time.Time
		opts.Progress = func(rep zstor.ScrubReport) {
			if time.Since(last) < scrubProgressEvery {
				return
			}
			last = time.Now()
			p := ScrubToJSON(rep, nil)
			ls.send(streamLine[ScrubJSON, ScrubJSON]{Progress: &p})
		}
	}
	rep, err := s.st.Scrub(r.Context(), opts)
	out := ScrubToJSON(rep, err)
	ls.send(streamLine[ScrubJSON, ScrubJSON]{Report: &out})
}
