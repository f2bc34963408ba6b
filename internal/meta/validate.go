package meta

import (
	"errors"
	"fmt"

	"github.com/zerostor/zerostor/internal/codec"
)

// More limits on records, besides MaxKeyLen, MaxUserMeta and MaxBlocks.
const (
	MaxWrappedKey = 256  // bytes of Object.WrappedKey
	MaxBackends   = 4096 // entries of Object.Backends
	MaxBackendID  = 1024 // bytes of one backend id
	MaxShardKey   = 255  // bytes of Shard.Key (a 0-db key is at most 255)
)

// maxShardLen bounds Block.ShardLen: a whole block sealed into one data
// shard, with room for the AEAD overhead.
const maxShardLen = codec.MaxBlockSize + 64

// ErrInvalid marks a record that Validate rejects (and MarshalBinary will
// not encode).
var ErrInvalid = errors.New("meta: invalid object")

// Validate checks that o is a well-formed record: within the limits, with
// valid parameters, the block list that Size and BlockSize imply (block i
// has Index i and PlainLen BlockSize, the last one the rest), k+m shard
// hashes and shards per block, and shard backends that index Backends (or
// are NoBackend). A zero Modified is allowed; any other must lie within
// the years 1678 to 2262 (int64 Unix nanoseconds). The error wraps
// ErrInvalid.
func (o *Object) Validate() error {
	err := o.validateHeader()
	if err == nil {
		err = o.validateBlocks()
	}
	if err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalid, o.Key, err)
	}
	return nil
}

func (o *Object) validateHeader() error {
	switch {
	case o.Key == "":
		return errors.New("empty key")
	case len(o.Key) > MaxKeyLen:
		return fmt.Errorf("key of %d bytes exceeds %d", len(o.Key), MaxKeyLen)
	case o.Size < 0:
		return fmt.Errorf("negative size %d", o.Size)
	case !o.Modified.IsZero() && (o.Modified.Before(minTime) || o.Modified.After(maxTime)):
		return fmt.Errorf("modification time %s out of range", o.Modified)
	case o.BlockSize < 1 || o.BlockSize > codec.MaxBlockSize:
		return fmt.Errorf("block size %d not in [1, %d]", o.BlockSize, codec.MaxBlockSize)
	case len(o.WrappedKey) > MaxWrappedKey:
		return fmt.Errorf("wrapped key of %d bytes exceeds %d", len(o.WrappedKey), MaxWrappedKey)
	case len(o.Backends) > MaxBackends:
		return fmt.Errorf("%d backends exceed %d", len(o.Backends), MaxBackends)
	}
	if n := (o.Size-1)/int64(o.BlockSize) + 1; n > MaxBlocks {
		return fmt.Errorf("size %d at %d-byte blocks needs %d blocks, more than %d", o.Size, o.BlockSize, n, MaxBlocks)
	}
	if err := o.Params.Validate(); err != nil {
		return err
	}
	total := 0
	for k, v := range o.UserMeta {
		total += len(k) + len(v)
	}
	if total > MaxUserMeta {
		return fmt.Errorf("user meta of %d bytes exceeds %d", total, MaxUserMeta)
	}
	for i, id := range o.Backends {
		if len(id) > MaxBackendID {
			return fmt.Errorf("backend %d: id of %d bytes exceeds %d", i, len(id), MaxBackendID)
		}
	}
	return nil
}

// numBlocks is how many blocks an object of size bytes has; the header
// must be valid.
func numBlocks(size int64, blockSize int) int {
	return int((size + int64(blockSize) - 1) / int64(blockSize))
}

// validateBlocks checks the block list; the header must be valid.
func (o *Object) validateBlocks() error {
	n := numBlocks(o.Size, o.BlockSize)
	if len(o.Blocks) != n {
		return fmt.Errorf("%d blocks, size %d at %d-byte blocks needs %d", len(o.Blocks), o.Size, o.BlockSize, n)
	}
	shards := o.Params.K + o.Params.M
	for i := range o.Blocks {
		b := &o.Blocks[i]
		plain := o.BlockSize
		if i == n-1 {
			plain = int(o.Size - int64(n-1)*int64(o.BlockSize))
		}
		switch {
		case b.LegacySum != o.LegacySums:
			return fmt.Errorf("block %d: shard hash kind differs from the record's", i)
		case b.Index != uint64(i):
			return fmt.Errorf("block %d has index %d", i, b.Index)
		case b.PlainLen != plain:
			return fmt.Errorf("block %d has %d plaintext bytes, want %d", i, b.PlainLen, plain)
		case b.Compression != codec.None && b.Compression != o.Params.Compression:
			return fmt.Errorf("block %d compressed with %s, object with %s", i, b.Compression, o.Params.Compression)
		case b.ShardLen < 1 || b.ShardLen > maxShardLen:
			return fmt.Errorf("block %d: shard length %d not in [1, %d]", i, b.ShardLen, maxShardLen)
		case b.SealedLen < 0 || b.SealedLen > o.Params.K*b.ShardLen:
			return fmt.Errorf("block %d: sealed length %d not in [0, %d]", i, b.SealedLen, o.Params.K*b.ShardLen)
		case len(b.ShardHashes) != shards:
			return fmt.Errorf("block %d has %d shard hashes, want %d", i, len(b.ShardHashes), shards)
		case len(b.Shards) != shards:
			return fmt.Errorf("block %d has %d shards, want %d", i, len(b.Shards), shards)
		}
		for j, s := range b.Shards {
			if s.Backend < NoBackend || int(s.Backend) >= len(o.Backends) {
				return fmt.Errorf("block %d shard %d: backend %d not in [-1, %d)", i, j, s.Backend, len(o.Backends))
			}
			if len(s.Key) > MaxShardKey {
				return fmt.Errorf("block %d shard %d: key of %d bytes exceeds %d", i, j, len(s.Key), MaxShardKey)
			}
		}
	}
	return nil
}
