package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// File names: data files "d-00000001.zdb" in DataDir, their index hints
// "i-00000001.zdh" in IndexDir. Ids start at 1 and only grow.
const (
	dataPrefix = "d-"
	dataSuffix = ".zdb"
	hintPrefix = "i-"
	hintSuffix = ".zdh"
)

func dataName(dir string, id uint32) string {
	return filepath.Join(dir, fmt.Sprintf("%s%08d%s", dataPrefix, id, dataSuffix))
}

func hintName(dir string, id uint32) string {
	return filepath.Join(dir, fmt.Sprintf("%s%08d%s", hintPrefix, id, hintSuffix))
}

// listIDs returns the ids of files named prefix+id+suffix in dir, ascending.
func listIDs(dir, prefix, suffix string) ([]uint32, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []uint32
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, suffix) {
			continue
		}
		id, err := strconv.ParseUint(n[len(prefix):len(n)-len(suffix)], 10, 32)
		if err != nil || id == 0 {
			continue
		}
		ids = append(ids, uint32(id))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// dataFile is one open data file. Readers take a reference so that
// compaction can remove a file while a read is in flight: the descriptor is
// closed when the last reference goes.
type dataFile struct {
	id   uint32
	f    *os.File
	refs atomic.Int32 // the store's own reference counts as one
	// size is the number of bytes written; guarded by Store.mu for writes,
	// read atomically by scans.
	size atomic.Int64
	// live counts the bytes of records that the index points to; guarded
	// by Store.mu.
	live int64
	// tomb counts the bytes of deletion records; guarded by Store.mu.
	tomb int64
	// last is the length of the file's last record (for reverse scans);
	// guarded by Store.mu.
	last uint32
	// mm maps the file for reads (see mmap.go); nil means pread.
	mm []byte
	// prealloc is the end of the space allocated ahead (prealloc.go);
	// guarded by Store.mu.
	prealloc int64
}

func openDataFile(dir string, id uint32, create bool) (*dataFile, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(dataName(dir, id), flag, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	df := &dataFile{id: id, f: f}
	df.refs.Store(1)
	df.size.Store(st.Size())
	return df, nil
}

func (d *dataFile) acquire() { d.refs.Add(1) }

func (d *dataFile) release() {
	if d.refs.Add(-1) == 0 {
		d.unmap()
		d.f.Close()
	}
}

// syncDir makes a directory's entries (created, renamed, removed files)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// DataPath is the path of data file id in dir (for hooks and operators).
func DataPath(dir string, id uint32) string { return dataName(dir, id) }

// HintPath is the path of the index hint of data file id in dir.
func HintPath(dir string, id uint32) string { return hintName(dir, id) }
