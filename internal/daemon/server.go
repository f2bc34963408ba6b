package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// ServerOptions tune a Server. The zero value is the default.
type ServerOptions struct {
	Logger *slog.Logger
	// ShutdownTimeout bounds how long Serve lets requests in flight finish
	// once its context is done before it cuts them; default 5 minutes.
	ShutdownTimeout time.Duration
	// Version is reported by GET /v1/ping.
	Version string
	// Health answers GET /health (the daemon's health check, also served
	// on the metrics address); without it /health is 404.
	Health http.Handler
}

// Server serves a Store over HTTP/1.1, normally on a unix socket made by
// Listen. The API is described in the package documentation.
type Server struct {
	st   Store
	log  *slog.Logger
	opts ServerOptions
}

// NewServer returns a server of st. It does not close st.
func NewServer(st Store, opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Minute
	}
	return &Server{st: st, log: opts.Logger, opts: opts}
}

// Serve accepts requests on ln until ctx is done, then stops accepting
// and waits for the requests in flight (at most ShutdownTimeout). It
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		ln.Close()
		return fmt.Errorf("daemon: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		s.log.Warn("requests still running at shutdown timeout: cut", "timeout", s.opts.ShutdownTimeout)
		hs.Close()
	}
	<-errc
	ln.Close()
	return nil
}

// ServeHTTP routes one request. Object keys are one escaped path segment
// (see escapeKey), so the path is read escaped and nothing is cleaned.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	start := time.Now()
	defer func() { s.log.Debug("request", "method", r.Method, "path", p, "took", time.Since(start)) }()
	route := func(prefix string) (string, bool) {
		if !strings.HasPrefix(p, prefix) {
			return "", false
		}
		key, err := unescapeKey(p[len(prefix):])
		if err != nil {
			writeError(w, fmt.Errorf("%w: bad key escape in %q", zstor.ErrInvalid, p))
			return "", false
		}
		return key, true
	}
	switch {
	case p == "/v1/ping":
		if method(w, r, http.MethodGet) {
			writeJSON(w, PingJSON{Service: "zstor", Version: s.opts.Version, Pid: os.Getpid()})
		}
	case strings.HasPrefix(p, "/v1/objects/"):
		key, ok := route("/v1/objects/")
		if !ok {
			return
		}
		switch r.Method {
		case http.MethodPut:
			s.put(w, r, key)
		case http.MethodGet:
			s.get(w, r, key)
		case http.MethodHead:
			s.stat(w, r, key)
		case http.MethodDelete:
			if err := s.st.Delete(r.Context(), key); err != nil {
				writeError(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			method(w, r, "PUT, GET, HEAD, DELETE")
		}
	case p == "/v1/list":
		if method(w, r, http.MethodGet) {
			s.list(w, r)
		}
	case strings.HasPrefix(p, "/v1/check/"):
		if key, ok := route("/v1/check/"); ok && method(w, r, http.MethodPost) {
			rep, err := s.st.Check(r.Context(), key)
			reply(w, CheckToJSON(rep), err)
		}
	case strings.HasPrefix(p, "/v1/rebuild/"):
		if key, ok := route("/v1/rebuild/"); ok && method(w, r, http.MethodPost) {
			info, err := s.st.Rebuild(r.Context(), key)
			reply(w, ObjectToJSON(info), err)
		}
	case p == "/v1/status":
		if method(w, r, http.MethodGet) {
			st, err := s.st.Status(r.Context())
			out := make([]BackendJSON, len(st))
			for i, b := range st {
				out[i] = BackendToJSON(b)
			}
			reply(w, out, err)
		}
	case p == "/v1/recover":
		if method(w, r, http.MethodPost) {
			n, err := s.st.Recover(r.Context())
			reply(w, RecoverJSON{Restored: n}, err)
		}
	case p == "/v1/sweep":
		if method(w, r, http.MethodPost) {
			s.sweep(w, r)
		}
	case s.serveHeal(w, r, p):
	default:
		writeErrorStatus(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("daemon: no endpoint %s %s", r.Method, p), Kind: KindInvalid})
	}
}

// method reports whether r has the wanted method, answering 405 if not.
func method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want {
		return true
	}
	w.Header().Set("Allow", want)
	writeErrorStatus(w, http.StatusMethodNotAllowed, errorBody{Error: fmt.Sprintf("daemon: method %s not allowed on %s (want %s)", r.Method, r.URL.Path, want), Kind: KindInvalid})
	return false
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, key string) {
	um, err := getMeta(r.Header)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := s.st.Put(r.Context(), key, r.Body, zstor.PutOptions{UserMeta: um})
	reply(w, ObjectToJSON(info), err)
}

func (s *Server) stat(w http.ResponseWriter, r *http.Request, key string) {
	info, err := s.st.Stat(r.Context(), key)
	if err != nil {
		writeError(w, err)
		return
	}
	setInfo(w.Header(), info)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	var opts zstor.GetOptions
	for _, f := range []struct {
		name string
		v    *int64
	}{{"offset", &opts.Offset}, {"length", &opts.Length}} {
		if v := q.Get(f.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				writeError(w, fmt.Errorf("%w: %s=%q is not a number", zstor.ErrInvalid, f.name, v))
				return
			}
			*f.v = n
		}
	}
	rd, err := s.st.Get(r.Context(), key, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	defer rd.Close()
	info := rd.Info()
	end := info.Size
	if opts.Length > 0 && opts.Length < info.Size-opts.Offset { // Offset+Length can overflow
		end = opts.Offset + opts.Length
	}
	h := w.Header()
	setInfo(h, info)
	h.Set(hdrLength, strconv.FormatInt(max(end-opts.Offset, 0), 10))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Trailer", hdrError)
	w.WriteHeader(http.StatusOK)
	cw := &checkedWriter{w: w}
	if _, err := io.Copy(cw, rd); err != nil {
		if cw.err != nil {
			s.log.Debug("get: client went away", "key", key, "err", cw.err)
			return
		}
		s.log.Warn("get failed mid-stream", "key", key, "err", err)
		h.Set(hdrError, encodeErrorHeader(err))
	}
}

// checkedWriter remembers whether a write failed, to tell a client gone
// from a failed read.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	started := false
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	n := 0
	for info, err := range s.st.List(r.Context(), q.Get("prefix"), q.Get("after")) {
		if err != nil {
			if !started {
				writeError(w, err)
				return
			}
			enc.Encode(errorBody{Error: err.Error(), Kind: Kind(err)})
			return
		}
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			started = true
		}
		if enc.Encode(ObjectToJSON(info)) != nil {
			return // the client went away
		}
		if n++; n%256 == 0 && flusher != nil {
			flusher.Flush()
		}
	}
	if !started {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) sweep(w http.ResponseWriter, r *http.Request) {
	grace := time.Hour
	if v := r.URL.Query().Get("grace"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, fmt.Errorf("%w: grace=%q is not a duration", zstor.ErrInvalid, v))
			return
		}
		grace = d
	}
	rep, err := s.st.Sweep(r.Context(), grace)
	out := SweepJSON{Scanned: rep.Scanned, Deleted: rep.Deleted, Errors: rep.Errors}
	if err != nil {
		out.Error, out.Kind = err.Error(), Kind(err)
	}
	writeJSON(w, out)
}

// reply writes v, or err when it is not nil.
func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	k := Kind(err)
	writeErrorStatus(w, statusOf(k), errorBody{Error: err.Error(), Kind: k})
}

func writeErrorStatus(w http.ResponseWriter, status int, e errorBody) {
	h := w.Header()
	b, _ := json.Marshal(e)
	h.Set(hdrError, escapeMetaValue(string(b))) // HEAD replies have no body
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func encodeErrorHeader(err error) string {
	b, _ := json.Marshal(errorBody{Error: err.Error(), Kind: Kind(err)})
	return escapeMetaValue(string(b))
}

// decodeErrorHeader reads an X-Zstor-Error value; ok is false when v is
// empty or not one.
func decodeErrorHeader(v string) (*RemoteError, bool) {
	if v == "" {
		return nil, false
	}
	s, err := url.PathUnescape(v)
	if err != nil {
		return nil, false
	}
	var e errorBody
	if json.Unmarshal([]byte(s), &e) != nil || e.Error == "" {
		return nil, false
	}
	return &RemoteError{Kind: e.Kind, Msg: e.Error}, true
}
