package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zerostor/zerostor/internal/resp"
)

func cmdPing(c *conn, _ [][]byte) { c.out = resp.AppendSimple(c.out, "PONG") }

func cmdTime(c *conn, _ [][]byte) {
	now := time.Now()
	c.out = resp.AppendArrayHeader(c.out, 2)
	c.replyStr(strconv.FormatInt(now.Unix(), 10))
	c.replyStr(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdDBSize(c *conn, _ [][]byte) {
	c.ns.mu.RLock()
	n := c.ns.st.Len()
	c.ns.mu.RUnlock()
	c.replyInt(int64(n))
}

// Revision is reported by INFO; main sets it from build information.
var Revision = "(unknown)"

func cmdInfo(c *conn, _ [][]byte) {
	s := c.srv
	var b strings.Builder
	mb := func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/1048576) }
	fmt.Fprintf(&b, "# server\nserver_name: 0-db (zdb)\nserver_revision: %s\nengine_revision: %s\n", Revision, Revision)
	fmt.Fprintf(&b, "instance_id: %d\nboot_time: %d\nuptime: %d\n\n", s.instanceID, s.boot.Unix(), int64(time.Since(s.boot).Seconds()))
	fmt.Fprintf(&b, "# clients\nclients_lifetime: %d\nclients_connected: %d\n\n", s.clientsLifetime.Load(), s.clients.Load())
	fmt.Fprintf(&b, "# internals\nsequential_key_size: 8\n\n")
	fmt.Fprintf(&b, "# stats\ncommands_executed: %d\ncommands_failed: %d\ncommands_unauthorized: %d\n",
		s.cmdsExecuted.Load(), s.cmdsFailed.Load(), s.cmdsUnauthorized.Load())
	fmt.Fprintf(&b, "index_disk_read_failed: 0\nindex_disk_write_failed: 0\n")
	fmt.Fprintf(&b, "data_disk_read_failed: %d\ndata_disk_write_failed: %d\n", s.dataReadFailed.Load(), s.dataWriteFailed.Load())
	fmt.Fprintf(&b, "index_disk_read_bytes: 0\nindex_disk_read_mb: 0.00\nindex_disk_write_bytes: 0\nindex_disk_write_mb: 0.00\n")
	rd, wr := s.dataReadBytes.Load(), s.dataWriteBytes.Load()
	fmt.Fprintf(&b, "data_disk_read_bytes: %d\ndata_disk_read_mb: %s\ndata_disk_write_bytes: %d\ndata_disk_write_mb: %s\n", rd, mb(rd), wr, mb(wr))
	rx, tx := s.netRx.Load(), s.netTx.Load()
	fmt.Fprintf(&b, "network_rx_bytes: %d\nnetwork_rx_mb: %s\nnetwork_tx_bytes: %d\nnetwork_tx_mb: %s\n", rx, mb(rx), tx, mb(tx))
	c.replyStr(b.String())
}

// cmdAuth: AUTH <password> | AUTH SECURE CHALLENGE | AUTH SECURE <hash>.
func cmdAuth(c *conn, args [][]byte) {
	admin := c.srv.cfg.Admin
	switch len(args) {
	case 2:
		if admin == "" {
			c.replyErr(msgAuthDisabled)
			return
		}
		if !c.exact(args, 2) {
			return
		}
		if len(args[1]) > 128 {
			c.replyErr("Password too long")
			return
		}
		if !secretEqual(args[1], admin) {
			c.replyErr(msgAccessDenied)
			return
		}
		c.admin = true
		c.replyOK()
	case 3:
		if !c.exact(args, 3) {
			return
		}
		if !isWord(args[1], "SECURE") {
			c.replyErr(msgOnlySecure)
			return
		}
		if isWord(args[2], "CHALLENGE") {
			var nb [8]byte
			rand.Read(nb[:])
			c.nonce = hex.EncodeToString(nb[:])
			c.out = resp.AppendSimple(c.out, c.nonce)
			return
		}
		if admin == "" {
			c.replyErr(msgAuthDisabled)
			return
		}
		if ok, msg := c.checkSecure(args[2], admin); !ok {
			c.replyErr(msg)
			return
		}
		c.admin = true
		c.replyOK()
	default:
		c.replyErr(msgUnexpectedArgs)
	}
}

// checkSecure verifies a SECURE answer: hex sha1("<nonce>:<password>").
// The nonce is single use.
func (c *conn) checkSecure(hash []byte, password string) (bool, string) {
	if c.nonce == "" {
		return false, msgNoChallenge
	}
	if len(hash) != 40 {
		return false, msgHashLength
	}
	sum := sha1.Sum([]byte(c.nonce + ":" + password))
	c.nonce = ""
	want := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare(hash, []byte(want)) != 1 {
		return false, msgAccessDenied
	}
	return true, ""
}

// secretEqual compares a password in constant time.
func secretEqual(got []byte, want string) bool {
	return subtle.ConstantTimeCompare(got, []byte(want)) == 1
}

func isWord(arg []byte, word string) bool { return bytes.EqualFold(arg, []byte(word)) }

func cmdHooks(c *conn, _ [][]byte) {
	if !c.requireAdmin() {
		return
	}
	recent := c.srv.hooks.recent()
	c.out = resp.AppendArrayHeader(c.out, len(recent))
	for _, h := range recent {
		c.out = resp.AppendArrayHeader(c.out, 6)
		c.replyStr(h.event)
		c.out = resp.AppendArrayHeader(c.out, len(h.args))
		for _, a := range h.args {
			c.replyStr(a)
		}
		c.replyInt(int64(h.pid))
		c.replyInt(h.start.Unix())
		var end int64
		if !h.end.IsZero() {
			end = h.end.Unix()
		}
		c.replyInt(end)
		c.replyInt(int64(h.status))
	}
}

// cmdIndex: INDEX DIRTY [RESET]. Our index lives in memory and in hints of
// sealed files; the "dirty" ids are the data files written since the last
// reset (what a backup of the namespace must copy again).
func cmdIndex(c *conn, args [][]byte) {
	if !c.requireAdmin() {
		return
	}
	if len(args) < 2 {
		c.replyErr(msgMissingArgs)
		return
	}
	if len(args[1]) > 256 {
		c.replyErr("Argument too long")
		return
	}
	if !isWord(args[1], "DIRTY") {
		c.replyErr("Unknown INDEX subcommand")
		return
	}
	c.ns.mu.RLock()
	defer c.ns.mu.RUnlock()
	if len(args) == 3 {
		if !isWord(args[2], "RESET") {
			c.replyErr("Unknown INDEX DIRTY subcommand")
			return
		}
		c.ns.st.ResetDirty()
		c.replyOK()
		return
	}
	ids := c.ns.st.Dirty()
	c.out = resp.AppendArrayHeader(c.out, len(ids))
	for _, id := range ids {
		c.replyInt(int64(id))
	}
}

// cmdStop: STOP shuts the daemon down. Only an authenticated admin may, so a
// daemon without --admin refuses it (0-db's release build always does).
func cmdStop(c *conn, _ [][]byte) {
	if c.srv.cfg.Admin == "" || !c.admin {
		c.replyErr("Unauthorized")
		return
	}
	c.out = resp.AppendSimple(c.out, "Stopping")
	// The shutdown closes every connection: the reply must be out first.
	c.flush()
	c.closing = true
	c.srv.requestStop()
}
