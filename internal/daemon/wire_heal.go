package daemon

import (
	"time"
	"unicode/utf8"

	"github.com/zerostor/zerostor/zstor"
)

// JSON forms of the self-healing API (health, repair, scrub, audits,
// drains, reload, commit log). Each has a conversion from the zstor type
// and back, so that the Client returns exactly what a store opened
// in-process returns.

// rawKey returns the bytes of key when JSON cannot carry it (not valid
// UTF-8), else nil: JSON strings would replace those bytes.
func rawKey(key string) []byte {
	if utf8.ValidString(key) {
		return nil
	}
	return []byte(key)
}

// keyFrom is the key a (key, key_raw) pair stands for.
func keyFrom(key string, raw []byte) string {
	if raw != nil {
		return string(raw)
	}
	return key
}

// HealthJSON is a zstor.Health in JSON (GET /v1/health, status --json).
type HealthJSON struct {
	Backends []BackendJSON `json:"backends"`
	Objects  int64         `json:"objects"`
	Bytes    int64         `json:"bytes"`
	// Redundancy counts objects by the shards available for their worst
	// block (the JSON object's keys are the shard counts).
	Redundancy    map[int]int64   `json:"redundancy"`
	Degraded      int64           `json:"degraded"`
	Unreadable    int64           `json:"unreadable"`
	Healing       bool            `json:"healing"`
	Repair        RepairStatsJSON `json:"repair"`
	Scrub         ScrubStatusJSON `json:"scrub"`
	Audits        int64           `json:"audits"`
	AuditFailures int64           `json:"audit_failures"`
}

// RepairStatsJSON is a zstor.RepairStats in JSON.
type RepairStatsJSON struct {
	Queue         int   `json:"queue"`
	Queued        int64 `json:"queued"`
	Repaired      int64 `json:"repaired"`
	Failed        int64 `json:"failed"`
	RebuiltShards int64 `json:"rebuilt_shards"`
	Bytes         int64 `json:"bytes"`
}

// ScrubStatusJSON is a zstor.ScrubStatus in JSON.
type ScrubStatusJSON struct {
	Running   bool      `json:"running"`
	PassStart time.Time `json:"pass_start,omitzero"`
	LastPass  time.Time `json:"last_pass,omitzero"`
	Cursor    string    `json:"cursor,omitempty"`
	CursorRaw []byte    `json:"cursor_raw,omitempty"`
	Objects   int64     `json:"objects"`
}

// HealthToJSON converts a Health.
func HealthToJSON(h zstor.Health) HealthJSON {
	out := HealthJSON{
		Backends: make([]BackendJSON, len(h.Backends)), Objects: h.Objects, Bytes: h.Bytes, Redundancy: h.Redundancy,
		Degraded: h.Degraded, Unreadable: h.Unreadable, Healing: h.Healing,
		Repair: RepairStatsJSON{Queue: h.Repair.Queue, Queued: h.Repair.Queued, Repaired: h.Repair.Repaired,
			Failed: h.Repair.Failed, RebuiltShards: h.Repair.RebuiltShards, Bytes: h.Repair.Bytes},
		Scrub: ScrubStatusJSON{Running: h.Scrub.Running, PassStart: h.Scrub.PassStart.UTC(), LastPass: h.Scrub.LastPass.UTC(),
			Cursor: h.Scrub.Cursor, CursorRaw: rawKey(h.Scrub.Cursor), Objects: h.Scrub.Objects},
		Audits: h.Audits, AuditFailures: h.AuditFailures,
	}
	if out.Redundancy == nil {
		out.Redundancy = map[int]int64{}
	}
	for i, b := range h.Backends {
		out.Backends[i] = BackendToJSON(b)
	}
	return out
}

// Health converts back.
func (h HealthJSON) Health() zstor.Health {
	out := zstor.Health{
		Objects: h.Objects, Bytes: h.Bytes, Redundancy: h.Redundancy, Degraded: h.Degraded, Unreadable: h.Unreadable, Healing: h.Healing,
		Repair: zstor.RepairStats{Queue: h.Repair.Queue, Queued: h.Repair.Queued, Repaired: h.Repair.Repaired,
			Failed: h.Repair.Failed, RebuiltShards: h.Repair.RebuiltShards, Bytes: h.Repair.Bytes},
		Scrub: zstor.ScrubStatus{Running: h.Scrub.Running, PassStart: h.Scrub.PassStart, LastPass: h.Scrub.LastPass,
			Cursor: keyFrom(h.Scrub.Cursor, h.Scrub.CursorRaw), Objects: h.Scrub.Objects},
		Audits: h.Audits, AuditFailures: h.AuditFailures,
	}
	if out.Redundancy == nil {
		out.Redundancy = map[int]int64{}
	}
	if len(h.Backends) > 0 {
		out.Backends = make([]zstor.BackendStatus, len(h.Backends))
		for i, b := range h.Backends {
			out.Backends[i] = b.Status()
		}
	}
	return out
}

// QueueJSON is the reply of GET /v1/queue: the first entries of the
// repair queue and how many there are.
type QueueJSON struct {
	Total   int                `json:"total"`
	Entries []QueuedRepairJSON `json:"entries"`
}

// QueuedRepairJSON is a zstor.QueuedRepair in JSON.
type QueuedRepairJSON struct {
	Key       string    `json:"key"`
	KeyRaw    []byte    `json:"key_raw,omitempty"`
	Since     time.Time `json:"since"`
	NotBefore time.Time `json:"not_before"`
	Attempts  int       `json:"attempts"`
	Reason    string    `json:"reason,omitempty"`
}

// QueueToJSON converts a repair queue listing.
func QueueToJSON(q []zstor.QueuedRepair, total int) QueueJSON {
	out := QueueJSON{Total: total, Entries: make([]QueuedRepairJSON, len(q))}
	for i, e := range q {
		out.Entries[i] = QueuedRepairJSON{Key: e.Key, KeyRaw: rawKey(e.Key), Since: e.Since.UTC(), NotBefore: e.NotBefore.UTC(),
			Attempts: e.Attempts, Reason: e.Reason}
	}
	return out
}

// Queue converts back.
func (q QueueJSON) Queue() ([]zstor.QueuedRepair, int) {
	var out []zstor.QueuedRepair
	for _, e := range q.Entries {
		out = append(out, zstor.QueuedRepair{Key: keyFrom(e.Key, e.KeyRaw), Since: e.Since, NotBefore: e.NotBefore,
			Attempts: e.Attempts, Reason: e.Reason})
	}
	return out, q.Total
}

// RepairJSON is what the repair of one object did (a progress line of
// POST /v1/repair-all, and rebuild --all's output), with its error.
type RepairJSON struct {
	Key      string `json:"key"`
	KeyRaw   []byte `json:"key_raw,omitempty"`
	Blocks   int    `json:"blocks"`
	Damaged  int    `json:"damaged"`
	Rebuilt  int    `json:"rebuilt"`
	Unplaced int    `json:"unplaced,omitempty"`
	Degraded bool   `json:"degraded,omitempty"`
	Moved    int    `json:"moved,omitempty"`
	Pending  int    `json:"pending,omitempty"`
	Bytes    int64  `json:"bytes"`
	Error    string `json:"error,omitempty"`
	Kind     string `json:"kind,omitempty"`
}

// RepairToJSON converts the outcome of one object's repair.
func RepairToJSON(key string, r zstor.RepairReport, err error) RepairJSON {
	out := RepairJSON{Key: key, KeyRaw: rawKey(key), Blocks: r.Blocks, Damaged: r.Damaged, Rebuilt: r.Rebuilt,
		Unplaced: r.Unplaced, Degraded: r.Degraded, Moved: r.Moved, Pending: r.Pending, Bytes: r.Bytes}
	if err != nil {
		out.Error, out.Kind = err.Error(), Kind(err)
	}
	return out
}

// Repair converts back.
func (r RepairJSON) Repair() (string, zstor.RepairReport, error) {
	rep := zstor.RepairReport{Blocks: r.Blocks, Damaged: r.Damaged, Rebuilt: r.Rebuilt, Unplaced: r.Unplaced,
		Degraded: r.Degraded, Moved: r.Moved, Pending: r.Pending, Bytes: r.Bytes}
	return keyFrom(r.Key, r.KeyRaw), rep, remoteErr(r.Error, r.Kind)
}

// RepairAllJSON is a zstor.RepairAllReport in JSON.
type RepairAllJSON struct {
	Objects  int      `json:"objects"`
	Repaired int      `json:"repaired"`
	Rebuilt  int      `json:"rebuilt"`
	Moved    int      `json:"moved"`
	Failed   int      `json:"failed"`
	Bytes    int64    `json:"bytes"`
	Errors   []string `json:"errors,omitempty"`
	// Error and Kind describe RepairAll's error, when it had one (the
	// counts are still valid).
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

// RepairAllToJSON converts a RepairAllReport and its error.
func RepairAllToJSON(r zstor.RepairAllReport, err error) RepairAllJSON {
	out := RepairAllJSON{Objects: r.Objects, Repaired: r.Repaired, Rebuilt: r.Rebuilt, Moved: r.Moved, Failed: r.Failed,
		Bytes: r.Bytes, Errors: r.Errors}
	if err != nil {
		out.Error, out.Kind = err.Error(), Kind(err)
	}
	return out
}

// Report converts back.
func (r RepairAllJSON) Report() (zstor.RepairAllReport, error) {
	return zstor.RepairAllReport{Objects: r.Objects, Repaired: r.Repaired, Rebuilt: r.Rebuilt, Moved: r.Moved,
		Failed: r.Failed, Bytes: r.Bytes, Errors: r.Errors}, remoteErr(r.Error, r.Kind)
}

// ScrubJSON is a zstor.ScrubReport in JSON.
type ScrubJSON struct {
	Objects     int64  `json:"objects"`
	Shards      int64  `json:"shards"`
	Bytes       int64  `json:"bytes"`
	OK          int64  `json:"ok"`
	Missing     int64  `json:"missing"`
	Corrupt     int64  `json:"corrupt"`
	Unreachable int64  `json:"unreachable"`
	Queued      int64  `json:"queued"`
	Last        string `json:"last,omitempty"`
	LastRaw     []byte `json:"last_raw,omitempty"`
	DurationNs  int64  `json:"duration_ns"`
	Error       string `json:"error,omitempty"`
	Kind        string `json:"kind,omitempty"`
}

// ScrubToJSON converts a ScrubReport and its error.
func ScrubToJSON(r zstor.ScrubReport, err error) ScrubJSON {
	out := ScrubJSON{Objects: r.Objects, Shards: r.Shards, Bytes: r.Bytes, OK: r.OK, Missing: r.Missing, Corrupt: r.Corrupt,
		Unreachable: r.Unreachable, Queued: r.Queued, Last: r.Last, LastRaw: rawKey(r.Last), DurationNs: int64(r.Duration)}
	if err != nil {
		out.Error, out.Kind = err.Error(), Kind(err)
	}
	return out
}

// Report converts back.
func (s ScrubJSON) Report() (zstor.ScrubReport, error) {
	return zstor.ScrubReport{Objects: s.Objects, Shards: s.Shards, Bytes: s.Bytes, OK: s.OK, Missing: s.Missing,
		Corrupt: s.Corrupt, Unreachable: s.Unreachable, Queued: s.Queued, Last: keyFrom(s.Last, s.LastRaw),
		Duration: time.Duration(s.DurationNs)}, remoteErr(s.Error, s.Kind)
}

// Problems is the count of shards a scrub found not OK.
func (s ScrubJSON) Problems() int64 { return s.Missing + s.Corrupt + s.Unreachable }

// AuditJSON is a zstor.AuditResult in JSON. Problem is the audit's
// finding (a shard missing, damaged, unreachable or wrong), not an error
// of the call.
type AuditJSON struct {
	Key     string `json:"key"`
	KeyRaw  []byte `json:"key_raw,omitempty"`
	Block   int    `json:"block"`
	Shard   int    `json:"shard"`
	Backend string `json:"backend"`
	Leaf    int    `json:"leaf"`
	Full    bool   `json:"full,omitempty"`
	State   string `json:"state"`
	Lied    bool   `json:"lied,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// AuditToJSON converts an AuditResult.
func AuditToJSON(a zstor.AuditResult) AuditJSON {
	return AuditJSON{Key: a.Key, KeyRaw: rawKey(a.Key), Block: a.Block, Shard: a.Shard, Backend: a.Backend, Leaf: a.Leaf,
		Full: a.Full, State: ShardStateName(a.State), Lied: a.Lied, Problem: a.Err}
}

// Result converts back.
func (a AuditJSON) Result() zstor.AuditResult {
	return zstor.AuditResult{Key: keyFrom(a.Key, a.KeyRaw), Block: a.Block, Shard: a.Shard, Backend: a.Backend, Leaf: a.Leaf,
		Full: a.Full, State: shardState(a.State), Lied: a.Lied, Err: a.Problem}
}

// DrainJSON is the reply of POST /v1/backends/ID/drain.
type DrainJSON struct {
	Backend string `json:"backend"`
	Queued  int    `json:"queued"`
}

// ReloadJSON is a zstor.ReloadReport in JSON (POST /v1/reload).
type ReloadJSON struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Queued  int      `json:"queued"`
}

// ReloadToJSON converts a ReloadReport; empty lists stay lists.
func ReloadToJSON(r zstor.ReloadReport) ReloadJSON {
	out := ReloadJSON{Added: r.Added, Removed: r.Removed, Queued: r.Queued}
	if out.Added == nil {
		out.Added = []string{}
	}
	if out.Removed == nil {
		out.Removed = []string{}
	}
	return out
}

// Report converts back.
func (r ReloadJSON) Report() zstor.ReloadReport {
	out := zstor.ReloadReport{Queued: r.Queued}
	if len(r.Added) > 0 {
		out.Added = r.Added
	}
	if len(r.Removed) > 0 {
		out.Removed = r.Removed
	}
	return out
}

// LogJSON is a zstor.LogReport in JSON (POST /v1/log/verify), with the
// verification's error when it failed.
type LogJSON struct {
	Batches   uint64 `json:"batches"`
	Entries   uint64 `json:"entries"`
	LastSeq   uint64 `json:"last_seq"`
	Head      string `json:"head,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
	Pending   int    `json:"pending"`
	Error     string `json:"error,omitempty"`
	Kind      string `json:"kind,omitempty"`
}

// LogToJSON converts a LogReport and its error.
func LogToJSON(r zstor.LogReport, err error) LogJSON {
	out := LogJSON{Batches: r.Batches, Entries: r.Entries, LastSeq: r.LastSeq, Head: r.Head, PublicKey: r.PublicKey, Pending: r.Pending}
	if err != nil {
		out.Error, out.Kind = err.Error(), Kind(err)
	}
	return out
}

// Report converts back.
func (l LogJSON) Report() (zstor.LogReport, error) {
	return zstor.LogReport{Batches: l.Batches, Entries: l.Entries, LastSeq: l.LastSeq, Head: l.Head, PublicKey: l.PublicKey,
		Pending: l.Pending}, remoteErr(l.Error, l.Kind)
}

// remoteErr is the error a reply describes, nil when msg is empty.
func remoteErr(msg, kind string) error {
	if msg == "" {
		return nil
	}
	return &RemoteError{Kind: kind, Msg: msg}
}
