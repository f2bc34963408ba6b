package zstor

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zerostor/zerostor/internal/commitlog"
	"github.com/zerostor/zerostor/internal/meta"
)

// The signed commit log (docs/commit-log.md): every committed store,
// delete, repair and rebuild is appended to a hash-chained log whose
// batches are signed with the instance's ed25519 key (meta_dir/log.key,
// created on first use, never stored on a backend) and stored as objects
// under commitlog.KeyPrefix through this client.

type commitOp uint8

const (
	commitStore commitOp = iota
	commitDelete
	commitRepair
	commitRotate
)

var commitOps = [...]commitlog.Op{commitStore: commitlog.OpStore, commitDelete: commitlog.OpDelete, commitRepair: commitlog.OpRepair, commitRotate: commitlog.OpRotate}

// reservedPrefix holds zstor's own objects (the commit log): users can
// read them but not write or delete them.
const reservedPrefix = ".zstor/"

// notReserved refuses writes and deletes of zstor's own objects.
func notReserved(key string) error {
	if strings.HasPrefix(key, reservedPrefix) {
		return fmt.Errorf("%w: key %q: the prefix %q is reserved for zstor's own objects", ErrInvalid, key, reservedPrefix)
	}
	return nil
}

// maxLogPending bounds the entries kept while the log is not open yet.
const maxLogPending = 65536

// logKeyFile is the signing key's file in meta_dir.
const logKeyFile = "log.key"

// logCommit appends a committed change to the signed commit log.
func (c *Client) logCommit(op commitOp, o *meta.Object) {
	if c.opts.DisableCommitLog || strings.HasPrefix(o.Key, reservedPrefix) {
		return
	}
	e := commitlog.Entry{Time: time.Now(), Op: commitOps[op], Key: o.Key, Version: o.Version, Size: o.Size}
	if op != commitDelete {
		e.Root = o.Root
	}
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if c.clog != nil {
		c.clog.Append(e)
		return
	}
	if len(c.logPending) >= maxLogPending {
		c.logDropped++
		return
	}
	c.logPending = append(c.logPending, e)
}

// openCommitLog opens the log in the background: it reads the last batch
// from the backends, which may be slow or down now; entries wait in
// memory meanwhile.
func (c *Client) openCommitLog(dir string) error {
	if c.opts.DisableCommitLog {
		return nil
	}
	priv, err := loadLogKey(filepath.Join(dir, logKeyFile))
	if err != nil {
		return err
	}
	c.logPub = priv.Public().(ed25519.PublicKey)
	ctx, cancel := context.WithCancel(context.Background())
	c.logCancel = cancel
	c.logOpened = make(chan struct{})
	// attempt opens the log; done reports whether to stop trying.
	attempt := func(ctx context.Context) (done bool, err error) {
		l, err := commitlog.Open(ctx, logStore{c: c, cached: true}, priv, commitlog.Options{OnError: func(err error) {
			c.log.Error("commit log", "err", err)
		}})
		if err == nil {
			c.logMu.Lock()
			for _, e := range c.logPending {
				l.Append(e)
			}
			c.logPending, c.clog = nil, l
			c.logMu.Unlock()
			return true, nil
		}
		if errors.Is(err, commitlog.ErrWrongKey) || errors.Is(err, commitlog.ErrCorrupt) {
			c.log.Error("commit log cannot be resumed: changes are not logged until this is fixed (see zstor log verify)", "err", err)
			return true, err
		}
		return false, err
	}
	// Usually immediate: the last batch is cached locally.
	first, cancelFirst := context.WithTimeout(ctx, 5*time.Second)
	done, err := attempt(first)
	cancelFirst()
	if done {
		close(c.logOpened)
		return nil
	}
	go func() {
		defer close(c.logOpened)
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 30*time.Second) {
			c.log.Warn("commit log not open yet; retrying", "err", err, "in", wait)
			if !sleep(ctx, wait) {
				return
			}
			var done bool
			if done, err = attempt(ctx); done || ctx.Err() != nil {
				return
			}
		}
	}()
	return nil
}

// closeCommitLog writes what is buffered (bounded in time) and closes it.
func (c *Client) closeCommitLog() {
	if c.logCancel == nil {
		return
	}
	c.logCancel()
	<-c.logOpened
	c.logMu.Lock()
	l, pending := c.clog, len(c.logPending)
	c.clog = nil
	c.logMu.Unlock()
	if pending > 0 || c.logDropped > 0 {
		c.log.Error("commit log never opened: entries lost", "entries", pending+c.logDropped)
	}
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		c.log.Error("commit log: closing", "err", err)
	}
}

// loadLogKey reads the signing key, creating it (0600) on first use.
func loadLogKey(path string) (ed25519.PrivateKey, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		priv, err := commitlog.GenerateKey()
		if err != nil {
			return nil, err
		}
		text, err = commitlog.MarshalPrivateKey(priv)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("zstor: create commit log key: %w", err)
		}
		if _, err := f.Write(text); err != nil {
			f.Close()
			return nil, fmt.Errorf("zstor: write commit log key: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("zstor: write commit log key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("zstor: write commit log key: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zstor: read commit log key: %w", err)
	}
	priv, err := commitlog.ParsePrivateKey(text)
	if err != nil {
		return nil, fmt.Errorf("zstor: commit log key %s: %w", path, err)
	}
	return priv, nil
}

// logStore keeps the log's batches as objects. cached serves the last
// batch from the local copy (opening the log); Verify reads the objects.
type logStore struct {
	c      *Client
	cached bool
}

// logHeadKey keeps, in the state table, the last batch written: index
// (8 bytes, little endian) then its bytes. Opening the log reads it there
// instead of from the backends, so a one-shot command does not fetch the
// log's tail. It is only a cache: Open verifies the batch's signature, and
// the object is read when the cache is missing or does not match.
const logHeadKey = "log.head"

func (s logStore) PutBatch(ctx context.Context, index uint64, data []byte) error {
	if _, err := s.c.put(ctx, commitlog.BatchKey(index), bytes.NewReader(data), PutOptions{}, nil); err != nil {
		return err
	}
	head := binary.LittleEndian.AppendUint64(nil, index)
	if err := s.c.state.Put(context.WithoutCancel(ctx), []byte(logHeadKey), append(head, data...)); err != nil {
		s.c.log.Warn("commit log: cannot cache the last batch", "err", err)
	}
	return nil
}

func (s logStore) GetBatch(ctx context.Context, index uint64) ([]byte, error) {
	if head, err := s.c.state.Get(ctx, []byte(logHeadKey)); s.cached && err == nil && len(head) > 8 && binary.LittleEndian.Uint64(head) == index {
		if _, err := s.c.store.Get(ctx, commitlog.BatchKey(index)); err == nil {
			return head[8:], nil
		}
	}
	r, err := s.c.Get(ctx, commitlog.BatchKey(index), GetOptions{})
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", commitlog.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

func (s logStore) LastBatch(ctx context.Context) (uint64, bool, error) {
	var last uint64
	found := false
	err := s.c.store.List(ctx, commitlog.KeyPrefix, "", func(i meta.Info) error {
		if n, ok := commitlog.ParseBatchKey(i.Key); ok {
			last, found = n, true
		}
		return nil
	})
	return last, found, err
}

// LogReport is what VerifyLog checked.
type LogReport struct {
	Batches, Entries uint64
	LastSeq          uint64
	Head             string // hex hash of the last batch: keep it to detect a rolled-back tail
	PublicKey        string // hex ed25519 key that signed the log
	// Pending counts entries not yet in a stored batch.
	Pending int
}

// LogError names the first bad batch (and entry, when it can be told).
type LogError struct {
	Batch  uint64
	Seq    uint64
	Entry  int // position in the batch, -1 when the batch as a whole is bad
	Reason string
}

func (e *LogError) Error() string {
	if e.Entry >= 0 {
		return fmt.Sprintf("zstor: commit log: batch %d, entry seq %d: %s", e.Batch, e.Seq, e.Reason)
	}
	return fmt.Sprintf("zstor: commit log: batch %d (from seq %d): %s", e.Batch, e.Seq, e.Reason)
}

// Is makes a LogError match ErrCorrupt.
func (e *LogError) Is(target error) bool { return target == ErrCorrupt }

// VerifyLog writes the buffered entries, then checks the whole commit
// log: every batch decodes, is signed by this instance's key, matches its
// Merkle root and chains onto the previous one; entry numbers run on
// without a gap. The first bad batch or entry is returned as a *LogError.
func (c *Client) VerifyLog(ctx context.Context) (LogReport, error) {
	if err := c.check(); err != nil {
		return LogReport{}, err
	}
	c.logMu.Lock()
	l := c.clog
	pending := len(c.logPending)
	c.logMu.Unlock()
	if l != nil {
		if err := l.Flush(ctx); err != nil {
			return LogReport{}, fmt.Errorf("zstor: commit log: write buffered entries: %w", err)
		}
	}
	rep, err := commitlog.Verify(ctx, logStore{c: c}, c.logPub, nil)
	out := LogReport{Batches: rep.Batches, Entries: rep.Entries, LastSeq: rep.LastSeq, Pending: pending}
	if rep.Batches > 0 {
		out.Head = hex.EncodeToString(rep.Head[:])
		out.PublicKey = hex.EncodeToString(rep.PublicKey)
	}
	var ve *commitlog.VerifyError
	if errors.As(err, &ve) {
		return out, &LogError{Batch: ve.Batch, Seq: ve.Seq, Entry: ve.Entry, Reason: ve.Reason}
	}
	if err != nil {
		return out, fmt.Errorf("zstor: commit log: %w", err)
	}
	return out, nil
}
