package server

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/zerostor/zerostor/internal/resp"
	"github.com/zerostor/zerostor/internal/zdb/store"
)

// A scan batch ends after this many entries or this much time.
const (
	scanBatch  = 100
	scanBudget = 5 * time.Millisecond
)

func cmdScan(c *conn, args [][]byte)  { c.scan(args, false) }
func cmdRScan(c *conn, args [][]byte) { c.scan(args, true) }

// scan: SCAN|RSCAN [cursor] replies [cursor of the last entry, [[key, size,
// timestamp], ...]] and ends with the error "No more data".
func (c *conn) scan(args [][]byte, reverse bool) {
	if !c.notFrozen() {
		return
	}
	var after *store.Cursor
	if len(args) >= 2 {
		cur, err := store.DecodeCursor(args[1])
		if err != nil {
			c.replyErr(msgInvalidCursor)
			return
		}
		after = &cur
	}
	c.ns.mu.RLock()
	ents, err := c.ns.st.Scan(after, reverse, scanBatch, scanBudget)
	c.ns.mu.RUnlock()
	switch {
	case errors.Is(err, io.EOF):
		c.replyErr(msgNoMoreData)
		return
	case errors.Is(err, store.ErrBadCursor):
		c.replyErr(msgInvalidCursor)
		return
	case err != nil:
		c.srv.log.Error("scan failed", "namespace", c.ns.name, "err", err)
		c.replyErr(msgInternal)
		return
	}
	c.out = resp.AppendArrayHeader(c.out, 2)
	c.replyBulk(ents[len(ents)-1].Cursor.Encode())
	c.out = resp.AppendArrayHeader(c.out, len(ents))
	for _, e := range ents {
		c.out = resp.AppendArrayHeader(c.out, 3)
		c.replyBulk(e.Key)
		c.replyInt(int64(e.Size))
		c.replyInt(e.Time / 1e9)
	}
}

// kscanLimit bounds a KSCAN reply.
const kscanLimit = 100000

// cmdKScan: KSCAN <prefix> lists live keys starting with prefix (user mode).
func cmdKScan(c *conn, args [][]byte) {
	c.ns.mu.RLock()
	mode := c.ns.st.Mode()
	c.ns.mu.RUnlock()
	if mode != store.ModeUser {
		c.replyErr("Index running mode doesn't support this feature")
		return
	}
	if !c.exact(args, 2) {
		return
	}
	c.ns.mu.RLock()
	keys := c.ns.st.Keys(func(k []byte) bool { return bytes.HasPrefix(k, args[1]) }, kscanLimit)
	c.ns.mu.RUnlock()
	if len(keys) == 0 {
		c.replyErr("No keys match")
		return
	}
	c.out = resp.AppendArrayHeader(c.out, 2)
	c.replyStr("0")
	c.out = resp.AppendArrayHeader(c.out, len(keys))
	for _, k := range keys {
		c.replyBulk(k)
	}
}
