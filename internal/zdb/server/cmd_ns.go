package server

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/zerostor/zerostor/internal/resp"
	"github.com/zerostor/zerostor/internal/zdb/store"
)

// cmdSelect: SELECT <ns> [password] | SELECT <ns> SECURE <hash>.
func cmdSelect(c *conn, args [][]byte) {
	if len(args) < 2 {
		c.replyErr(msgInvalidArg)
		return
	}
	ns := c.namespaceArg(args[1])
	if ns == nil {
		return
	}
	ns.mu.RLock()
	password, public := ns.set.Password, ns.set.Public
	ns.mu.RUnlock()
	writable := true
	switch {
	case password == "":
	case len(args) == 2:
		if !public {
			c.replyErr("Namespace protected and private")
			return
		}
		writable = false
	case len(args) > 4:
		c.replyErr("Too many arguments")
		return
	case len(args) == 3:
		if len(args[2]) > 255 {
			c.replyErr("Password too long")
			return
		}
		if !secretEqual(args[2], password) {
			c.replyErr(msgAccessDenied)
			return
		}
	default:
		if !isWord(args[2], "SECURE") {
			c.replyErr(msgOnlySecure)
			return
		}
		if ok, msg := c.checkSecure(args[3], password); !ok {
			c.replyErr(msg)
			return
		}
	}
	c.ns, c.writable = ns, writable
	c.replyOK()
}

// namespaceArg finds the namespace named by a command argument, replying
// 0-db's error when it is too long or unknown.
func (c *conn) namespaceArg(name []byte) *namespace {
	if len(name) > 128 {
		c.replyErr(errNSTooLong.Error())
		return nil
	}
	ns := c.srv.ns.get(string(name))
	if ns == nil {
		c.replyErr(errNSNotFound.Error())
	}
	return ns
}

func cmdNSNew(c *conn, args [][]byte) {
	if !c.requireAdmin() || !c.exact(args, 2) {
		return
	}
	name := string(args[1])
	if err := c.srv.ns.create(name); err != nil {
		c.nsError(err)
		return
	}
	c.srv.hooks.run("namespace-created", false, name)
	c.replyOK()
}

func (c *conn) nsError(err error) {
	for _, e := range []error{errNSTooLong, errNSNotAllowed, errNSExists, errNSNotFound, errNSCreate, errNSDelete} {
		if errors.Is(err, e) {
			c.replyErr(e.Error())
			if e == errNSCreate || e == errNSDelete {
				c.srv.log.Error("namespace operation failed", "err", err)
			}
			return
		}
	}
	c.srv.log.Error("namespace operation failed", "err", err)
	c.replyErr(msgInternal)
}

func cmdNSDel(c *conn, args [][]byte) {
	if !c.requireAdmin() || !c.exact(args, 2) {
		return
	}
	name := string(args[1])
	switch {
	case len(name) > 128:
		c.replyErr(errNSTooLong.Error())
		return
	case name == "default":
		c.replyErr("Cannot remove default namespace")
		return
	}
	ns := c.srv.ns.get(name)
	if ns == nil {
		c.replyErr("This namespace doesn't exists")
		return
	}
	if ns == c.ns {
		c.replyErr("Cannot remove namespace you're currently using.")
		return
	}
	if err := c.srv.ns.remove(ns); err != nil {
		c.nsError(err)
		return
	}
	c.srv.hooks.run("namespace-deleted", false, name)
	c.replyOK()
}

func cmdNSList(c *conn, _ [][]byte) {
	all := c.srv.ns.list()
	c.out = resp.AppendArrayHeader(c.out, len(all))
	for _, ns := range all {
		c.replyStr(ns.name)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func cmdNSInfo(c *conn, args [][]byte) {
	if !c.exact(args, 2) {
		return
	}
	ns := c.namespaceArg(args[1])
	if ns == nil {
		return
	}
	ns.mu.RLock()
	set := ns.set
	st := ns.st.Stats()
	size := ns.st.DataSize()
	mode := ns.st.Mode()
	ns.mu.RUnlock()
	ddir, idir := c.srv.ns.dirs(ns.name)

	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%s: %v\n", k, v) }
	mb := func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/1048576) }
	b.WriteString("# namespace\n")
	line("name", ns.name)
	line("entries", st.Entries)
	line("public", yesNo(set.Public))
	line("worm", yesNo(set.Worm))
	line("locked", yesNo(ns.state.Load() != stateOpen))
	line("password", yesNo(set.Password != ""))
	line("data_size_bytes", size)
	line("data_size_mb", mb(size))
	line("data_limits_bytes", set.MaxSize)
	line("index_size_bytes", st.IndexMemBytes)
	line("index_size_kb", fmt.Sprintf("%.2f", float64(st.IndexMemBytes)/1024))
	next := uint32(st.NextSeq)
	line("next_internal_id", fmt.Sprintf("0x%08x", next>>24|(next>>8)&0xff00|(next<<8)&0xff0000|next<<24))
	if mode == store.ModeSeq {
		line("mode", "sequential")
	} else {
		line("mode", "userkey")
	}
	line("stats_index_io_errors", 0)
	line("stats_index_io_error_last", 0)
	line("stats_index_faults", 0)
	line("stats_data_io_errors", st.ReadErrors)
	line("stats_data_io_error_last", 0)
	line("stats_data_faults", st.ScrubErrors)
	if set.MaxSize > 0 {
		line("space_available", set.MaxSize-size)
	}
	ifree, dfree := diskFree(idir), diskFree(ddir)
	line("index_disk_freespace_bytes", ifree)
	line("index_disk_freespace_mb", mb(ifree))
	line("data_disk_freespace_bytes", dfree)
	line("data_disk_freespace_mb", mb(dfree))
	line("data_current_id", st.ActiveFile)
	line("data_current_offset", st.ActiveSize)
	if c.admin {
		line("data_path", ddir)
		line("index_path", idir)
	}
	// Our own fields, after 0-db's.
	line("data_files", st.DataFiles)
	line("data_disk_bytes", st.DataBytes)
	line("data_live_bytes", st.LiveBytes)
	line("compaction_running", yesNo(st.Compacting))
	line("compaction_files", st.CompactFiles)
	line("compaction_reclaimed_bytes", st.CompactReclaimed)
	line("scrub_passes", st.ScrubPasses)
	line("scrub_last_pass", st.ScrubLast)
	line("scrub_progress_bytes", st.ScrubProgress)
	line("scrub_checked_bytes", st.ScrubBytes)
	line("scrub_errors", st.ScrubErrors)
	line("recovery_torn_tails", st.RecoveredTorn)
	line("recovery_corrupt_regions", st.RecoveredCorrupt)
	c.replyStr(b.String())
}

func diskFree(dir string) int64 {
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) != nil {
		return 0
	}
	return int64(fs.Bavail) * int64(fs.Bsize)
}

// firstIsOne is 0-db's boolean parsing for NSSET values.
func firstIsOne(v []byte) bool { return len(v) > 0 && v[0] == '1' }

func cmdNSSet(c *conn, args [][]byte) {
	if !c.requireAdmin() || !c.exact(args, 4) {
		return
	}
	name, prop, val := string(args[1]), string(args[2]), args[3]
	switch {
	case len(name) > 128:
		c.replyErr(errNSTooLong.Error())
		return
	case len(prop) > 256 || len(val) > 256:
		c.replyErr("Argument too long")
		return
	case len(val) > 63:
		c.replyErr("Invalid value")
		return
	case name == "default":
		c.replyErr("Cannot update default namespace")
		return
	}
	ns := c.srv.ns.get(name)
	if ns == nil {
		c.replyErr(errNSNotFound.Error())
		return
	}
	ns.mu.Lock()
	old := ns.set
	var reopen bool
	switch prop {
	case "maxsize":
		ns.set.MaxSize = parseLeadingInt(val)
		ns.st.SetMaxSize(ns.set.MaxSize)
	case "password":
		if string(val) == "*" {
			ns.set.Password = ""
		} else {
			ns.set.Password = string(val)
		}
	case "public":
		ns.set.Public = firstIsOne(val)
	case "worm":
		ns.set.Worm = firstIsOne(val)
	case "lock", "freeze":
		state := stateLocked
		if prop == "freeze" {
			state = stateFrozen
		}
		if !firstIsOne(val) {
			state = stateOpen
		}
		ns.state.Store(state)
		ns.mu.Unlock()
		c.srv.hooks.run("namespace-updated", false, name)
		c.replyOK()
		return
	case "mode":
		m := string(val)
		switch {
		case c.srv.cfg.Mode != "":
			ns.mu.Unlock()
			c.replyErr("This server instance is configured to use a single runtime mode")
			return
		case m != "user" && m != "seq":
			ns.mu.Unlock()
			c.replyErr("Invalid property value (expected: user, seq)")
			return
		}
		if st := ns.st.Stats(); m != ns.set.Mode && (st.DataBytes > 0 || st.NextSeq > 0) {
			ns.mu.Unlock()
			c.replyErr("Cannot change mode of used namespace")
			return
		}
		reopen = m != ns.set.Mode
		ns.set.Mode = m
	default:
		ns.mu.Unlock()
		c.replyErr("Invalid property")
		return
	}
	err := c.srv.ns.save(ns)
	if err != nil {
		ns.set = old
		ns.st.SetMaxSize(old.MaxSize)
	}
	ns.mu.Unlock()
	if err == nil && reopen {
		err = c.srv.ns.reset(ns, false)
	}
	if err != nil {
		c.srv.log.Error("NSSET failed", "namespace", name, "property", prop, "err", err)
		c.replyErr(msgInternal)
		return
	}
	c.srv.hooks.run("namespace-updated", false, name)
	c.replyOK()
}

// parseLeadingInt parses like C's atoll: leading digits, 0 if none.
func parseLeadingInt(b []byte) int64 {
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' || n > (1<<62)/10 {
			break
		}
		n = n*10 + int64(ch-'0')
	}
	return n
}

func cmdNSJump(c *conn, _ [][]byte) {
	if !c.requireAdmin() || !c.notFrozen() {
		return
	}
	c.ns.mu.RLock()
	err := c.ns.st.Rotate()
	c.ns.mu.RUnlock()
	if err != nil {
		c.srv.log.Error("NSJUMP failed", "namespace", c.ns.name, "err", err)
		c.replyErr(msgInternal)
		return
	}
	c.replyOK()
}

func cmdReload(c *conn, args [][]byte) {
	if !c.requireAdmin() || !c.exact(args, 2) {
		return
	}
	ns := c.namespaceArg(args[1])
	if ns == nil {
		return
	}
	if err := c.srv.ns.reset(ns, false); err != nil {
		c.srv.log.Error("RELOAD failed", "namespace", ns.name, "err", err)
		c.replyErr(msgInternal)
		return
	}
	c.srv.hooks.run("namespace-reloaded", false, ns.name)
	c.replyOK()
}

// cmdFlush empties the current namespace; as in 0-db only a private,
// password-protected namespace can be flushed (by a client that selected
// it with the password).
func cmdFlush(c *conn, _ [][]byte) {
	c.ns.mu.RLock()
	public, password := c.ns.set.Public, c.ns.set.Password
	c.ns.mu.RUnlock()
	if public || password == "" {
		c.replyErr("Flushing public namespace denied")
		return
	}
	if !c.writable {
		c.replyErr(msgReadOnly)
		return
	}
	if err := c.srv.ns.reset(c.ns, true); err != nil {
		c.srv.log.Error("FLUSH failed", "namespace", c.ns.name, "err", err)
		c.replyErr("Internal Server Error")
		return
	}
	c.replyOK()
}
