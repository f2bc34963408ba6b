package codec

import (
	"errors"
	"fmt"
)

// Compression names a block compressor.
type Compression uint8

// Compressors. The zero value is zstd, the default.
const (
	Zstd Compression = iota
	Snappy
	None
)

func (c Compression) String() string {
	switch c {
	case Zstd:
		return "zstd"
	case Snappy:
		return "snappy"
	case None:
		return "none"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// ParseCompression parses "zstd", "snappy" or "none".
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "", "zstd":
		return Zstd, nil
	case "snappy":
		return Snappy, nil
	case "none":
		return None, nil
	}
	return 0, fmt.Errorf("codec: unknown compression %q (want zstd, snappy or none)", s)
}

// MaxShards bounds k+m.
const MaxShards = 256

// Params are the coding parameters of an object.
type Params struct {
	K, M        int // data and parity shards
	Compression Compression
}

// Validate checks the parameters.
func (p Params) Validate() error {
	switch {
	case p.K < 1:
		return errors.New("codec: need at least one data shard")
	case p.M < 0:
		return errors.New("codec: negative parity shard count")
	case p.K+p.M > MaxShards:
		return fmt.Errorf("codec: %d+%d shards exceed %d", p.K, p.M, MaxShards)
	case p.Compression > None:
		return fmt.Errorf("codec: unknown compression %d", p.Compression)
	}
	return nil
}
