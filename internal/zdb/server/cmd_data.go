package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strconv"

	"github.com/zerostor/zerostor/internal/resp"
	"github.com/zerostor/zerostor/internal/shardtree"
	"github.com/zerostor/zerostor/internal/zdb/record"
	"github.com/zerostor/zerostor/internal/zdb/store"
)

// parseTime parses the admin-only timestamp argument (unix seconds).
func parseTime(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n <= 0 || n > 1<<33 {
		return 0, false
	}
	return n * 1e9, true
}

// writeArgs runs the checks SET and DEL share, in 0-db's order: an extra
// trailing timestamp (admin only) or else plain arguments (plain of them,
// empty ones allowed for SET, not for DEL), the key length (keyMsg when too
// long), write access. It returns the timestamp (0: now) and the namespace's
// worm flag.
func (c *conn) writeArgs(args [][]byte, plain int, allowEmpty bool, keyMsg string) (t int64, worm, ok bool) {
	switch {
	case len(args) == plain+1:
		if !c.requireAdmin() {
			return 0, false, false
		}
		if t, ok = parseTime(args[plain]); !ok {
			c.replyErr(msgInvalidArg)
			return 0, false, false
		}
	case allowEmpty && len(args) != plain:
		c.replyErr(msgUnexpectedArgs)
		return 0, false, false
	case !allowEmpty && !c.exact(args, plain):
		return 0, false, false
	}
	if len(args[1]) > record.MaxKeySize {
		c.replyErr(keyMsg)
		return 0, false, false
	}
	if !c.canWrite() {
		return 0, false, false
	}
	c.ns.mu.RLock()
	worm = c.ns.set.Worm
	c.ns.mu.RUnlock()
	return t, worm, true
}

// cmdSet: SET <key> <value> [timestamp]. The write joins the connection's
// batch; the reply comes when the batch is written.
func cmdSet(c *conn, args [][]byte) {
	if t, worm, ok := c.writeArgs(args, 3, true, msgKeyTooLarge); ok {
		c.queueWrite(args[1], args[2], false, worm, t)
	}
}

// cmdDel: DEL <key> [timestamp].
func cmdDel(c *conn, args [][]byte) {
	if t, worm, ok := c.writeArgs(args, 2, false, msgInvalidKey); ok {
		c.queueWrite(args[1], nil, true, worm, t)
	}
}

// keyArg runs the checks shared by single-key reads.
func (c *conn) keyArg(args [][]byte) ([]byte, bool) {
	return c.keyArgs(args, 2)
}

// keyArgs is keyArg for a command of n arguments (name included) whose
// first is the key.
func (c *conn) keyArgs(args [][]byte, n int) ([]byte, bool) {
	if !c.exact(args, n) {
		return nil, false
	}
	if len(args[1]) > record.MaxKeySize {
		c.replyErr(msgInvalidKey)
		return nil, false
	}
	return args[1], c.notFrozen()
}

// readKey runs a single-key read: the usual argument checks, then fn on the
// namespace's store (under the namespace lock, so RELOAD or FLUSH cannot
// close it meanwhile). fn appends the reply on success; a missing key is
// answered nil and a failed read with 0-db's error.
func (c *conn) readKey(args [][]byte, fn func(st *store.Store, key []byte) error) {
	key, ok := c.keyArg(args)
	if !ok {
		return
	}
	c.ns.mu.RLock()
	err := fn(c.ns.st, key)
	c.ns.mu.RUnlock()
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		c.replyNull()
	default:
		c.readError(key, err)
	}
}

func bulkHead(b []byte, n int) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// appendValue appends key's value as a bulk reply (nil when absent).
func (c *conn) appendValue(key []byte) {
	c.ns.mu.RLock()
	out, err := c.ns.st.Get(c.out, key, bulkHead)
	c.ns.mu.RUnlock()
	switch {
	case err == nil:
		c.srv.dataReadBytes.Add(int64(len(out) - len(c.out)))
		c.out = append(out, '\r', '\n')
	case errors.Is(err, store.ErrNotFound):
		c.replyNull()
	default:
		c.readError(key, err)
	}
}

func (c *conn) readError(key []byte, err error) {
	c.srv.dataReadFailed.Add(1)
	if errors.Is(err, store.ErrCorrupt) {
		c.replyErr(msgCorrupt)
		return
	}
	c.srv.log.Error("read failed", "namespace", c.ns.name, "key", hex.EncodeToString(key), "err", err)
	c.replyErr(msgInternal)
}

func cmdGet(c *conn, args [][]byte) {
	if key, ok := c.keyArg(args); ok {
		c.appendValue(key)
	}
}

func cmdMGet(c *conn, args [][]byte) {
	if len(args) < 2 {
		c.replyErr(msgInvalidArgs)
		return
	}
	for _, k := range args[1:] {
		if len(k) > record.MaxKeySize {
			c.replyErr(msgInvalidKey)
			return
		}
	}
	if !c.notFrozen() {
		return
	}
	c.out = resp.AppendArrayHeader(c.out, len(args)-1)
	for _, k := range args[1:] {
		if len(k) == 0 {
			c.replyNull()
		} else {
			c.appendValue(k)
		}
		if len(c.out) >= flushThreshold && c.flush() != nil {
			return
		}
	}
}

func cmdExists(c *conn, args [][]byte) {
	key, ok := c.keyArg(args)
	if !ok {
		return
	}
	c.ns.mu.RLock()
	found := c.ns.st.Exists(key)
	c.ns.mu.RUnlock()
	if found {
		c.replyInt(1)
	} else {
		c.replyInt(0)
	}
}

func cmdCheck(c *conn, args [][]byte) {
	key, ok := c.keyArg(args)
	if !ok {
		return
	}
	c.ns.mu.RLock()
	good, err := c.ns.st.Check(key)
	c.ns.mu.RUnlock()
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.replyNull()
	case err != nil:
		c.replyInt(-1)
	case good:
		c.replyInt(1)
	default:
		c.replyInt(0)
	}
}

func cmdLength(c *conn, args [][]byte) {
	c.readKey(args, func(st *store.Store, key []byte) error {
		n, err := st.Length(key)
		if err == nil {
			c.replyInt(int64(n))
		}
		return err
	})
}

func cmdKeyTime(c *conn, args [][]byte) {
	c.readKey(args, func(st *store.Store, key []byte) error {
		info, err := st.Stat(key)
		if err == nil {
			c.replyInt(info.Time / 1e9)
		}
		return err
	})
}

func cmdKeyCur(c *conn, args [][]byte) {
	if !c.exact(args, 2) || !c.notFrozen() {
		return
	}
	c.ns.mu.RLock()
	cur, err := c.ns.st.KeyCursor(args[1])
	c.ns.mu.RUnlock()
	if err != nil {
		c.replyErr(msgKeyNotFound)
		return
	}
	c.replyBulk(cur.Encode())
}

// historyCursor is HISTORY's 8-byte position: file id and offset, LE.
func historyCursor(file, off uint32) []byte {
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, 8), file)
	return binary.LittleEndian.AppendUint32(b, off)
}

// cmdHistory: HISTORY <key> [cursor] walks the versions of a key.
func cmdHistory(c *conn, args [][]byte) {
	if len(args) != 2 && len(args) != 3 {
		c.replyErr(msgInvalidArgs)
		return
	}
	if !c.notFrozen() {
		return
	}
	key := args[1]
	c.ns.mu.RLock()
	defer c.ns.mu.RUnlock()
	var file, off uint32
	if len(args) == 2 {
		info, err := c.ns.st.Stat(key)
		if err != nil {
			c.replyErr(msgKeyNotFound)
			return
		}
		file, off = info.File, info.Offset
	} else {
		if len(args[2]) != 8 {
			c.replyErr(msgInvalidArgs)
			return
		}
		file, off = binary.LittleEndian.Uint32(args[2]), binary.LittleEndian.Uint32(args[2][4:])
		if file == 0 && off == 0 {
			c.replyErr("No more history")
			return
		}
	}
	raw, err := c.ns.st.History(key, file, off)
	switch {
	case errors.Is(err, store.ErrBadKey):
		c.replyErr("Invalid arguments (invalid key)")
		return
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, io.EOF):
		c.replyErr("No more history")
		return
	case err != nil:
		c.replyErr("Invalid arguments (index query)")
		return
	}
	c.out = resp.AppendArrayHeader(c.out, 3)
	if raw.Header.PrevFile == record.NoPrev {
		c.replyNull()
	} else {
		c.replyBulk(historyCursor(raw.Header.PrevFile, raw.Header.PrevOff))
	}
	c.replyStr(strconv.FormatInt(raw.Header.Time/1e9, 10))
	if raw.Header.Type == record.TypeDelete {
		c.replyNull()
	} else {
		c.replyBulk(raw.Value)
	}
}

// cmdData: DATA RAW <fileid> <offset> reads one record by position (used
// by replication tools with NSINFO's data_current_id/offset).
func cmdData(c *conn, args [][]byte) {
	if !c.requireAdmin() {
		return
	}
	if len(args) != 4 || !isWord(args[1], "RAW") {
		c.replyErr(msgInvalidArgs)
		return
	}
	file, err1 := strconv.ParseUint(string(args[2]), 10, 32)
	off, err2 := strconv.ParseInt(string(args[3]), 10, 64)
	if err1 != nil || err2 != nil || off < 0 {
		c.replyErr("Invalid offset")
		return
	}
	c.ns.mu.RLock()
	raw, err := c.ns.st.ReadRaw(uint32(file), off)
	c.ns.mu.RUnlock()
	switch {
	case errors.Is(err, io.EOF):
		c.replyErr("EOF")
		return
	case errors.Is(err, store.ErrNotFound):
		c.replyErr("Invalid file id")
		return
	case err != nil:
		c.replyErr(msgCorrupt)
		return
	}
	h := raw.Header
	c.out = resp.AppendArrayHeader(c.out, 6)
	c.replyBulk(raw.Key)
	prev := int64(h.PrevOff)
	if h.PrevFile == record.NoPrev {
		prev = 0
	}
	c.replyInt(prev)
	c.replyInt(int64(h.ValCRC))
	var flags int64
	if h.Type == record.TypeDelete {
		flags = 1
	}
	c.replyInt(flags)
	c.replyInt(h.Time / 1e9)
	if h.Type == record.TypeDelete {
		c.replyNull()
	} else {
		c.replyBulk(raw.Value)
	}
}

// cmdHash: HASH <key> returns the hex shard checksum of the value (its
// shardtree root: plain BLAKE3-256 up to 8 KiB), verified against its
// checksum, so a remote checker need not download it.
func cmdHash(c *conn, args [][]byte) {
	c.readKey(args, func(st *store.Store, key []byte) error {
		sum, err := st.Hash(key)
		if err == nil {
			c.replyStr(hex.EncodeToString(sum[:]))
		}
		return err
	})
}

// cmdProof: PROOF <key> <index> returns leaf index of the value's shardtree
// followed by the 32-byte sibling hashes from the leaf up to the root, so
// that a checker holding only the root (never sent here) can verify one
// random piece instead of downloading the value. Missing and damaged
// values are answered as HASH answers them.
func cmdProof(c *conn, args [][]byte) {
	key, ok := c.keyArgs(args, 3)
	if !ok {
		return
	}
	// Digits only: no sign, no spaces. Leaves of an 8 MiB value number
	// 1024, so anything beyond 31 bits is out of range anyway.
	index, err := strconv.ParseUint(string(args[2]), 10, 31)
	if err != nil {
		c.replyErr(msgInvalidLeaf)
		return
	}
	c.ns.mu.RLock()
	p, err := c.ns.st.Proof(key, int(index))
	c.ns.mu.RUnlock()
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		c.replyNull()
		return
	case errors.Is(err, shardtree.ErrIndex):
		c.replyErr(msgInvalidLeaf)
		return
	default:
		c.readError(key, err)
		return
	}
	c.out = resp.AppendArrayHeader(c.out, 1+len(p.Path))
	c.replyBulk(p.Leaf)
	for i := range p.Path {
		c.replyBulk(p.Path[i][:])
	}
}

// cmdScrub: SCRUB verifies every record of the current namespace now and
// replies [records, bytes, bad records].
func cmdScrub(c *conn, _ [][]byte) {
	if !c.requireAdmin() {
		return
	}
	// The pass can be long: do not hold the namespace lock through it (a
	// waiting NSSET would stall every client). A store closed meanwhile by
	// RELOAD or FLUSH just ends the pass early.
	c.ns.mu.RLock()
	st := c.ns.st
	c.ns.mu.RUnlock()
	rep, err := st.Scrub(context.Background(), 0)
	if err != nil {
		c.srv.log.Error("scrub failed", "namespace", c.ns.name, "err", err)
		c.replyErr(msgInternal)
		return
	}
	c.out = resp.AppendArrayHeader(c.out, 3)
	c.replyInt(rep.Records)
	c.replyInt(rep.Bytes)
	c.replyInt(int64(len(rep.Bad)))
}

// cmdCompact: COMPACT reclaims the space of every sealed file with dead
// records now and replies the bytes reclaimed.
func cmdCompact(c *conn, _ [][]byte) {
	if !c.requireAdmin() {
		return
	}
	// Not holding the namespace lock through the pass (see cmdScrub); if
	// RELOAD or FLUSH replaced the store meanwhile, compact the new one.
	var n int64
	var err error
	for try := 0; try < 3; try++ {
		c.ns.mu.RLock()
		st := c.ns.st
		c.ns.mu.RUnlock()
		if n, err = st.Compact(0); !errors.Is(err, store.ErrClosed) {
			break
		}
	}
	if err != nil {
		c.srv.log.Error("compaction failed", "namespace", c.ns.name, "err", err)
		c.replyErr(msgInternal)
		return
	}
	c.replyInt(n)
}
