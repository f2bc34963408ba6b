package store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Mode is the key mode of a namespace.
type Mode int

// Key modes, as in 0-db.
const (
	// ModeUser stores client-chosen keys.
	ModeUser Mode = iota
	// ModeSeq assigns 8-byte little-endian sequential keys.
	ModeSeq
)

func (m Mode) String() string {
	if m == ModeSeq {
		return "seq"
	}
	return "user"
}

// ParseMode parses "user" or "seq" (0-db also accepts "userkey"/"sequential").
func ParseMode(s string) (Mode, error) {
	switch s {
	case "user", "userkey":
		return ModeUser, nil
	case "seq", "sequential":
		return ModeSeq, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want user or seq)", s)
}

// Options configure one store (one namespace's data).
type Options struct {
	// DataDir holds the data files. Required.
	DataDir string
	// IndexDir holds the index hint files. Defaults to DataDir.
	IndexDir string
	// Mode is the key mode. Default ModeUser.
	Mode Mode
	// DataSize is the size at which a data file is sealed and a new one
	// started. Default 256 MiB, at most 4 GiB (offsets are 32-bit).
	DataSize int64
	// MaxSize limits the bytes of data files; 0 means unlimited.
	MaxSize int64
	// Sync acknowledges writes only once they are on disk (group commit).
	Sync bool
	// SyncInterval, when non-zero, syncs the active file at this interval.
	SyncInterval time.Duration
	// CompactRatio is the dead fraction of a sealed file above which it is
	// compacted in the background. Default 0.5; negative disables.
	CompactRatio float64
	// ScrubRate is the background scrub speed in bytes per second; 0
	// disables the background scrub (SCRUB still works on demand).
	ScrubRate int64
	// ScrubInterval is the pause between two background scrub passes.
	// Default 24h.
	ScrubInterval time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Events, when set, is told about file rotations and found corruption
	// (the daemon turns these into hooks and metrics).
	Events Events
}

// Events receives notifications from a store. Calls are made without store
// locks held, but possibly from background goroutines.
type Events interface {
	// Rotated is called after a new data file was started, with the ids of
	// the files written since the last ResetDirty (INDEX DIRTY).
	Rotated(prevFile, newFile uint32, dirty []uint32)
	// Corrupt is called when a record fails its checksum.
	Corrupt(file uint32, offset int64, err error)
	// MissingData is called at open for a data file that has an index
	// hint but is gone (archived away). It may restore the file and
	// return true; the store then looks again.
	MissingData(path string) bool
}

// The maximum data file size: record offsets are stored in 32 bits, and the
// last record of a file may pass DataSize by up to one maximum record.
const maxDataSize = 4<<30 - 16<<20

func (o *Options) ensureDefaults() error {
	if o.DataDir == "" {
		return errors.New("store: no data directory")
	}
	if o.IndexDir == "" {
		o.IndexDir = o.DataDir
	}
	if o.DataSize == 0 {
		o.DataSize = 256 << 20
	}
	if o.DataSize < 1<<20 || o.DataSize > maxDataSize {
		return fmt.Errorf("store: datasize %d out of range [1 MiB, 4 GiB)", o.DataSize)
	}
	if o.CompactRatio == 0 {
		o.CompactRatio = 0.5
	}
	if o.ScrubInterval == 0 {
		o.ScrubInterval = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}
