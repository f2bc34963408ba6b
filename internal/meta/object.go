// Package meta holds zstor's object metadata: the record that says how an
// object was coded and where its shards are, its binary encoding, and the
// Store that keeps records (bbolt by default; the interface is what a
// distributed engine such as etcd implements later).
//
// A record never holds a key in clear: the object's data key is wrapped by
// the master key, and backend passwords live only in the config.
package meta

import (
	"encoding/hex"
	"time"

	"github.com/zerostor/zerostor/internal/codec"
)

// VersionID names one stored version of an object. Shard keys on user-mode
// backends are derived from it, so two versions never share a shard.
type VersionID [16]byte

// Object is the metadata record of one object version.
type Object struct {
	Key      string
	Version  VersionID
	Size     int64     // plaintext bytes
	Modified time.Time // when this version was committed
	// Checksum is the BLAKE3-256 of the whole plaintext, computed while
	// storing (what `zstor check` prints).
	Checksum codec.Hash
	// UserMeta carries front-end attributes (content type, ETag, S3
	// x-amz-meta-*). Bounded by MaxUserMeta bytes in total.
	UserMeta map[string]string

	Params     codec.Params // k, m and the configured compression
	BlockSize  int          // plaintext bytes per block (the last may be shorter)
	WrappedKey []byte       // data key sealed by the master key (codec.WrapKey)
	KeyID      [8]byte      // fingerprint of the master key that wrapped it
	Salt       uint32       // per-object nonce salt
	Root       codec.Hash   // Merkle root over the blocks' leaves

	// Backends lists the backends this version's shards live on, by their
	// stable id ("address/namespace"); shards refer to them by index.
	Backends []string
	Blocks   []Block
	// LegacySums marks a record of format 1, whose shard hashes are plain
	// BLAKE3 of the shard rather than its tree root; every block's
	// LegacySum equals it.
	LegacySums bool
}

// Block is one coded block and where each of its k+m shards is.
type Block struct {
	codec.BlockMeta
	Shards []Shard // k+m entries, in shard order
}

// NoBackend marks a shard that did not land (write straggler, lost
// backend): repair completes it.
const NoBackend = -1

// Shard is where one shard is stored.
type Shard struct {
	Backend int32 // index into Object.Backends, or NoBackend
	// Key is the key the backend returned for the shard. Nil means the key
	// is derived from the version, block and shard index (user-mode
	// backends); sequential-mode backends assign their own keys.
	Key []byte
}

// Info is what listing shows of an object: decodable from a record without
// its block list.
type Info struct {
	Key      string
	Version  VersionID
	Size     int64
	Modified time.Time
	Checksum codec.Hash
	UserMeta map[string]string
}

// Info returns the object's summary.
func (o *Object) Info() Info {
	return Info{Key: o.Key, Version: o.Version, Size: o.Size, Modified: o.Modified, Checksum: o.Checksum, UserMeta: o.UserMeta}
}

// Limits on decoded records, against hostile or damaged input.
const (
	MaxKeyLen   = 4096
	MaxUserMeta = 16 << 10
	MaxBlocks   = 1 << 24
)

// Version returns the version's id in hex, for logs and listings.
func (v VersionID) String() string { return hex.EncodeToString(v[:]) }
