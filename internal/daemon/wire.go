package daemon

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zerostor/zerostor/zstor"
)

// Headers describing an object (GET, HEAD, PUT). User metadata travels as
// one header per entry, X-Zstor-Meta-<name>, name and value escaped so
// that any string survives (see escapeMetaName).
const (
	hdrSize     = "X-Zstor-Size"
	hdrModified = "X-Zstor-Modified"
	hdrChecksum = "X-Zstor-Checksum"
	hdrVersion  = "X-Zstor-Version"
	hdrK        = "X-Zstor-K"
	hdrM        = "X-Zstor-M"
	hdrBlocks   = "X-Zstor-Blocks"
	hdrLength   = "X-Zstor-Length" // bytes in this body (the range)
	hdrError    = "X-Zstor-Error"  // trailer: why a body ended early
	hdrMeta     = "X-Zstor-Meta-"
)

// escapeKey percent-encodes every byte of key but ASCII letters, digits,
// '-', '_' and '~', so that a key is one path segment whatever it holds
// ("/", "..", bytes that are not UTF-8).
func escapeKey(key string) string {
	return escapeExcept(key, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~'
	})
}

func escapeExcept(s string, keep func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unescapeKey(s string) (string, error) { return url.PathUnescape(s) }

// escapeMetaName keeps lower-case letters, digits and '-' and
// percent-encodes every other byte, upper-case letters included: header
// names are case-insensitive and Go rewrites their case, so decoding
// lower-cases the name before it unescapes it.
func escapeMetaName(name string) string {
	return escapeExcept(name, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	})
}

func unescapeMetaName(h string) (string, error) {
	return url.PathUnescape(strings.ToLower(h))
}

// escapeMetaValue keeps printable ASCII but '%'.
func escapeMetaValue(v string) string {
	return escapeExcept(v, func(c byte) bool { return c > ' ' && c < 0x7f && c != '%' })
}

func setMeta(h http.Header, m map[string]string) {
	for k, v := range m {
		h.Set(hdrMeta+escapeMetaName(k), escapeMetaValue(v))
	}
}

func getMeta(h http.Header) (map[string]string, error) {
	var m map[string]string
	for name, vs := range h {
		if len(name) <= len(hdrMeta) || !strings.EqualFold(name[:len(hdrMeta)], hdrMeta) || len(vs) == 0 {
			continue
		}
		k, err := unescapeMetaName(name[len(hdrMeta):])
		if err != nil {
			return nil, fmt.Errorf("%w: user metadata name %q: %v", zstor.ErrInvalid, name, err)
		}
		v, err := url.PathUnescape(vs[0])
		if err != nil {
			return nil, fmt.Errorf("%w: user metadata %q: %v", zstor.ErrInvalid, k, err)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	return m, nil
}

func setInfo(h http.Header, i zstor.ObjectInfo) {
	h.Set(hdrSize, strconv.FormatInt(i.Size, 10))
	h.Set(hdrModified, i.Modified.UTC().Format(time.RFC3339Nano))
	h.Set(hdrChecksum, i.Checksum)
	h.Set(hdrVersion, i.Version)
	h.Set(hdrK, strconv.Itoa(i.K))
	h.Set(hdrM, strconv.Itoa(i.M))
	h.Set(hdrBlocks, strconv.Itoa(i.Blocks))
	setMeta(h, i.UserMeta)
}

func getInfo(h http.Header, key string) (zstor.ObjectInfo, error) {
	i := zstor.ObjectInfo{Key: key, Checksum: h.Get(hdrChecksum), Version: h.Get(hdrVersion)}
	var err error
	if i.Size, err = strconv.ParseInt(h.Get(hdrSize), 10, 64); err != nil {
		return i, fmt.Errorf("daemon reply: bad %s: %w", hdrSize, err)
	}
	if i.Modified, err = time.Parse(time.RFC3339Nano, h.Get(hdrModified)); err != nil {
		return i, fmt.Errorf("daemon reply: bad %s: %w", hdrModified, err)
	}
	i.K, _ = strconv.Atoi(h.Get(hdrK))
	i.M, _ = strconv.Atoi(h.Get(hdrM))
	i.Blocks, _ = strconv.Atoi(h.Get(hdrBlocks))
	if i.UserMeta, err = getMeta(h); err != nil {
		return i, err
	}
	return i, nil
}

// ObjectJSON is an object's description in JSON: the daemon's replies and
// the command line's --json output.
type ObjectJSON struct {
	Key string `json:"key"`
	// KeyRaw holds the key's bytes when they are not valid UTF-8 (JSON
	// strings cannot carry them; Key then has replacement characters).
	KeyRaw   []byte            `json:"key_raw,omitempty"`
	Size     int64             `json:"size"`
	Modified time.Time         `json:"modified"`
	Checksum string            `json:"checksum"`
	Version  string            `json:"version,omitempty"`
	UserMeta map[string]string `json:"user_meta,omitempty"`
	K        int               `json:"k,omitempty"`
	M        int               `json:"m,omitempty"`
	Blocks   int               `json:"blocks,omitempty"`
}

// ObjectToJSON converts an ObjectInfo.
func ObjectToJSON(i zstor.ObjectInfo) ObjectJSON {
	o := ObjectJSON{Key: i.Key, Size: i.Size, Modified: i.Modified.UTC(), Checksum: i.Checksum, Version: i.Version,
		UserMeta: i.UserMeta, K: i.K, M: i.M, Blocks: i.Blocks}
	if !utf8.ValidString(i.Key) {
		o.KeyRaw = []byte(i.Key)
	}
	return o
}

// Info converts back.
func (o ObjectJSON) Info() zstor.ObjectInfo {
	key := o.Key
	if o.KeyRaw != nil {
		key = string(o.KeyRaw)
	}
	return zstor.ObjectInfo{Key: key, Size: o.Size, Modified: o.Modified, Checksum: o.Checksum, Version: o.Version,
		UserMeta: o.UserMeta, K: o.K, M: o.M, Blocks: o.Blocks}
}

// CheckJSON is a CheckReport in JSON. Readable and Healthy are derived:
// every block has at least K verified shards, or all K+M.
type CheckJSON struct {
	Object      ObjectJSON         `json:"object"`
	Readable    bool               `json:"readable"`
	Healthy     bool               `json:"healthy"`
	Blocks      int                `json:"blocks"`
	Shards      int                `json:"shards"`
	OK          int                `json:"ok"`
	Missing     int                `json:"missing"`
	Corrupt     int                `json:"corrupt"`
	Unreachable int                `json:"unreachable"`
	MinGood     int                `json:"min_good"`
	Problems    []ShardProblemJSON `json:"problems,omitempty"`
}

// ShardProblemJSON is one shard that is not OK.
type ShardProblemJSON struct {
	Block   int    `json:"block"`
	Shard   int    `json:"shard"`
	Backend string `json:"backend"`
	State   string `json:"state"`
	Err     string `json:"error,omitempty"`
}

var shardStates = []string{zstor.ShardOK: "ok", zstor.ShardMissing: "missing", zstor.ShardCorrupt: "corrupt", zstor.ShardUnreachable: "unreachable"}

// ShardStateName is the JSON name of a shard state.
func ShardStateName(s zstor.ShardState) string {
	if int(s) < len(shardStates) {
		return shardStates[s]
	}
	return "state-" + strconv.Itoa(int(s))
}

func shardState(name string) zstor.ShardState {
	for i, n := range shardStates {
		if n == name {
			return zstor.ShardState(i)
		}
	}
	return zstor.ShardUnreachable
}

// Readable reports whether a checked object can be read: every block has
// K verified shards.
func Readable(r zstor.CheckReport) bool { return r.Blocks == 0 || r.MinGood >= r.Info.K }

// Healthy reports whether every shard of a checked object verified.
func Healthy(r zstor.CheckReport) bool { return r.Blocks == 0 || r.MinGood >= r.Shards }

// CheckToJSON converts a CheckReport.
func CheckToJSON(r zstor.CheckReport) CheckJSON {
	c := CheckJSON{Object: ObjectToJSON(r.Info), Readable: Readable(r), Healthy: Healthy(r), Blocks: r.Blocks, Shards: r.Shards,
		OK: r.OK, Missing: r.Missing, Corrupt: r.Corrupt, Unreachable: r.Unreachable, MinGood: r.MinGood}
	for _, p := range r.Problems {
		c.Problems = append(c.Problems, ShardProblemJSON{p.Block, p.Shard, p.Backend, ShardStateName(p.State), p.Err})
	}
	return c
}

// Report converts back.
func (c CheckJSON) Report() zstor.CheckReport {
	r := zstor.CheckReport{Info: c.Object.Info(), Blocks: c.Blocks, Shards: c.Shards, OK: c.OK, Missing: c.Missing,
		Corrupt: c.Corrupt, Unreachable: c.Unreachable, MinGood: c.MinGood}
	for _, p := range c.Problems {
		r.Problems = append(r.Problems, zstor.ShardProblem{Block: p.Block, Shard: p.Shard, Backend: p.Backend, State: shardState(p.State), Err: p.Err})
	}
	return r
}

// BackendJSON is a BackendStatus in JSON.
type BackendJSON struct {
	ID        string `json:"id"`
	Group     string `json:"group"`
	Reachable bool   `json:"reachable"`
	LatencyNs int64  `json:"latency_ns"`
	P95Ns     int64  `json:"p95_ns"`
	Entries   int64  `json:"entries"`
	DataSize  int64  `json:"data_size"`
	DataLimit int64  `json:"data_limit"`
	Errors    int64  `json:"errors"`
	Mode      string `json:"mode,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// State is healthy, degraded, down or terminal.
	State         zstor.BackendState `json:"state"`
	Draining      bool               `json:"draining"`
	ErrorRate     float64            `json:"error_rate"`
	Calls         int64              `json:"calls"`
	Audits        int64              `json:"audits"`
	AuditFailures int64              `json:"audit_failures"`
	DownSince     time.Time          `json:"down_since,omitzero"`
	Shards        int64              `json:"shards"`
}

// BackendToJSON converts a BackendStatus.
func BackendToJSON(b zstor.BackendStatus) BackendJSON {
	return BackendJSON{ID: b.ID, Group: b.Group, Reachable: b.Reachable, LatencyNs: int64(b.Latency), P95Ns: int64(b.P95),
		Entries: b.Entries, DataSize: b.DataSize, DataLimit: b.DataLimit, Errors: b.Errors, Mode: b.Mode, LastError: b.LastError,
		State: b.State, Draining: b.Draining, ErrorRate: b.ErrorRate, Calls: b.Calls, Audits: b.Audits,
		AuditFailures: b.AuditFailures, DownSince: b.DownSince.UTC(), Shards: b.Shards}
}

// Status converts back.
func (b BackendJSON) Status() zstor.BackendStatus {
	return zstor.BackendStatus{ID: b.ID, Group: b.Group, Reachable: b.Reachable, Latency: time.Duration(b.LatencyNs), P95: time.Duration(b.P95Ns),
		Entries: b.Entries, DataSize: b.DataSize, DataLimit: b.DataLimit, Errors: b.Errors, Mode: b.Mode, LastError: b.LastError,
		State: b.State, Draining: b.Draining, ErrorRate: b.ErrorRate, Calls: b.Calls, Audits: b.Audits,
		AuditFailures: b.AuditFailures, DownSince: b.DownSince, Shards: b.Shards}
}

// SweepJSON is a SweepReport in JSON.
type SweepJSON struct {
	Scanned int `json:"scanned"`
	Deleted int `json:"deleted"`
	Errors  int `json:"errors"`
	// Error and Kind describe the sweep's error, when it had one (the
	// counts are still valid).
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

// RecoverJSON is the reply of POST /v1/recover.
type RecoverJSON struct {
	Restored int `json:"restored"`
}

// PingJSON is the reply of GET /v1/ping.
type PingJSON struct {
	Service string `json:"service"` // "zstor"
	Version string `json:"version"`
	Pid     int    `json:"pid"`
}
