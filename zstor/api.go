// Package zstor is the store's public Go API: objects of any size put,
// read (whole or by range), listed and checked over dispersed, encrypted,
// erasure-coded shards on zdb backends. Front ends (the CLI, the S3
// gateway, the filesystem, the KV store) use this package only.
package zstor

import (
	"errors"
	"time"
)

// Errors, for errors.Is.
var (
	ErrNotFound    = errors.New("zstor: object not found")
	ErrBadKey      = errors.New("zstor: wrong master key or tampered data")
	ErrCorrupt     = errors.New("zstor: corrupt data")
	ErrUnavailable = errors.New("zstor: not enough backends")
	ErrClosed      = errors.New("zstor: closed")
	ErrInvalid     = errors.New("zstor: invalid argument")
	ErrConflict    = errors.New("zstor: object changed concurrently")
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
	Checksum string            // hex BLAKE3-256 of the content
	Version  string            // hex id of this version
	UserMeta map[string]string // front-end attributes given at Put
	K, M     int               // data and parity shards
	Blocks   int
}

// PutOptions tune one Put.
type PutOptions struct {
	UserMeta map[string]string
	// Progress, when set, is called with the plaintext bytes stored so far.
	Progress func(done int64)
	// FinalMeta, when set, is called once the whole stream has been read
	// and before the version commits; its entries are added to UserMeta.
	// Front ends use it for attributes known only at the end (an S3 ETag
	// is the MD5 of the content). An error aborts the Put.
	FinalMeta func() (map[string]string, error)
}

// GetOptions select a byte range: Offset and Length (-1 or 0 with
// Offset 0 means to the end).
type GetOptions struct {
	Offset, Length int64
	Progress       func(done int64)
}

// ShardState is what Check found for one shard.
type ShardState uint8

// Shard states.
const (
	ShardOK          ShardState = iota
	ShardMissing                // never landed, backend gone or key not found
	ShardCorrupt                // hash mismatch or backend reports damage
	ShardUnreachable            // backend did not answer
)

// CheckReport is the result of Check: every shard of every block verified.
type CheckReport struct {
	Info        ObjectInfo
	Blocks      int
	Shards      int // k+m per block
	OK          int // shards verified
	Missing     int
	Corrupt     int
	Unreachable int
	// MinGood is the fewest verified shards of any block: the object is
	// readable while MinGood >= K and fully redundant when it is K+M.
	MinGood  int
	Problems []ShardProblem
}

// ShardProblem names one shard that is not OK.
type ShardProblem struct {
	Block, Shard int
	Backend      string
	State        ShardState
	Err          string
}

// BackendStatus is one backend's state as zstor sees it.
type BackendStatus struct {
	ID        string // address/namespace
	Group     string
	Reachable bool
	Latency   time.Duration // EWMA of recent calls
	P95       time.Duration
	Entries   int64
	DataSize  int64
	DataLimit int64 // 0: no limit
	Errors    int64
	Mode      string // userkey or sequential
	LastError string

	State    BackendState
	Draining bool // its shards are being moved elsewhere (Drain, or it failed an audit)
	// ErrorRate is the share of recent calls that failed (an EWMA).
	ErrorRate float64
	Calls     int64 // calls made since the client opened
	// Audits and AuditFailures count proof-of-storage audits and the
	// wrong answers among them.
	Audits, AuditFailures int64
	DownSince             time.Time // zero unless down
	Shards                int64     // shards the metadata places on it (as of the last count)
}

// SweepReport is what the orphan collector did.
type SweepReport struct {
	Scanned int // keys examined on the backends
	Deleted int // unreferenced shards removed
	Errors  int
}
