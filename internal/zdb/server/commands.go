package server

import (
	"time"
)

// handler runs one command; args[0] is the command name.
type handler func(c *conn, args [][]byte)

// command describes one entry of the command table.
type command struct {
	name string
	fn   handler
	// batchable commands (SET, DEL) may leave their reply to commitBatch;
	// every other command first commits the pending batch.
	batchable bool
	// extension commands are ours, not 0-db's: Config.Strict0DB hides them.
	extension bool
}

// commandTable is built once at init and never changed. (It is filled in
// init because WAIT looks commands up in it.)
var commandTable map[string]*command

func init() { commandTable = buildCommandTable() }

func buildCommandTable() map[string]*command {
	cmds := []*command{
		{name: "PING", fn: cmdPing},
		{name: "TIME", fn: cmdTime},
		{name: "INFO", fn: cmdInfo},
		{name: "DBSIZE", fn: cmdDBSize},
		{name: "AUTH", fn: cmdAuth},
		{name: "HOOKS", fn: cmdHooks},
		{name: "INDEX", fn: cmdIndex},
		{name: "WAIT", fn: cmdWait},
		{name: "STOP", fn: cmdStop},
		{name: "SELECT", fn: cmdSelect},
		{name: "NSNEW", fn: cmdNSNew},
		{name: "NSDEL", fn: cmdNSDel},
		{name: "NSLIST", fn: cmdNSList},
		{name: "NSINFO", fn: cmdNSInfo},
		{name: "NSSET", fn: cmdNSSet},
		{name: "NSJUMP", fn: cmdNSJump},
		{name: "RELOAD", fn: cmdReload},
		{name: "FLUSH", fn: cmdFlush},
		{name: "SET", fn: cmdSet, batchable: true},
		{name: "SETX", fn: cmdSet, batchable: true},
		{name: "GET", fn: cmdGet},
		{name: "MGET", fn: cmdMGet},
		{name: "DEL", fn: cmdDel, batchable: true},
		{name: "EXISTS", fn: cmdExists},
		{name: "CHECK", fn: cmdCheck},
		{name: "LENGTH", fn: cmdLength},
		{name: "KEYTIME", fn: cmdKeyTime},
		{name: "KEYCUR", fn: cmdKeyCur},
		{name: "HISTORY", fn: cmdHistory},
		{name: "SCAN", fn: cmdScan},
		{name: "SCANX", fn: cmdScan},
		{name: "RSCAN", fn: cmdRScan},
		{name: "KSCAN", fn: cmdKScan},
		{name: "DATA", fn: cmdData},
		{name: "HASH", fn: cmdHash, extension: true},
		{name: "PROOF", fn: cmdProof, extension: true},
		{name: "SCRUB", fn: cmdScrub, extension: true},
		{name: "COMPACT", fn: cmdCompact, extension: true},
	}
	m := make(map[string]*command, len(cmds))
	for _, c := range cmds {
		m[c.name] = c
	}
	return m
}

// lookupCommand finds a command by name, ignoring case, without allocating.
func lookupCommand(name []byte) *command {
	if len(name) == 0 || len(name) > 16 {
		return nil
	}
	var buf [16]byte
	up := buf[:len(name)]
	for i, ch := range name {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		up[i] = ch
	}
	return commandTable[string(up)]
}

func (c *conn) dispatch(args [][]byte) {
	if c.ns.deleted.Load() {
		c.commitBatch()
		c.replyErr(msgNSGone)
		c.closing = true
		return
	}
	cmd := lookupCommand(args[0])
	if cmd != nil && cmd.extension && c.srv.cfg.Strict0DB {
		cmd = nil
	}
	if cmd == nil {
		c.commitBatch()
		if len(args[0]) == 0 || string(args[0]) == "*" {
			c.replyErr("This is not a valid command") // 0-db's reply for these
		} else {
			c.replyErr(msgUnknownCommand)
		}
		c.srv.cmdsFailed.Add(1)
		c.srv.metrics.errors("UNKNOWN")
		return
	}
	c.srv.cmdsExecuted.Add(1)
	if cmd.batchable {
		start, before, queued := time.Now(), len(c.out), c.queued
		cmd.fn(c, args)
		if c.queued != queued {
			return // commitBatch replies, counts and notifies
		}
		// Refused before it was queued: its reply goes after those of
		// the writes still pending, and it counts as a failure.
		if len(c.batch) > 0 {
			reply := append([]byte(nil), c.out[before:]...)
			c.out = c.out[:before]
			c.commitBatch()
			c.out = append(c.out, reply...)
		}
		name := cmd.name
		if name == "SETX" {
			name = "SET"
		}
		c.srv.cmdsFailed.Add(1)
		c.srv.metrics.errors(name)
		c.srv.metrics.observe(name, start)
		if c.ns.waiters.Load() > 0 {
			c.srv.waits.notify(c, c.ns, name) // WAIT fires on failures too
		}
		return
	}
	c.commitBatch()
	start := time.Now()
	before := len(c.out)
	cmd.fn(c, args)
	if len(c.out) > before && c.out[before] == '-' {
		c.srv.cmdsFailed.Add(1)
		c.srv.metrics.errors(cmd.name)
	}
	c.srv.metrics.observe(cmd.name, start)
	if c.ns.waiters.Load() > 0 {
		c.srv.waits.notify(c, c.ns, cmd.name)
	}
}

// Argument checks shared by commands (0-db's exact/min helpers).

// exact checks the argument count and that no argument is empty.
func (c *conn) exact(args [][]byte, n int) bool {
	if len(args) != n {
		c.replyErr(msgUnexpectedArgs)
		return false
	}
	for _, a := range args[1:] {
		if len(a) == 0 {
			c.replyErr(msgInvalidArg)
			return false
		}
	}
	return true
}

// requireAdmin replies Permission denied unless the client is admin.
func (c *conn) requireAdmin() bool {
	if !c.admin {
		c.replyErr(msgPermission)
		c.srv.cmdsUnauthorized.Add(1)
		return false
	}
	return true
}

// notFrozen refuses data access to a frozen namespace.
func (c *conn) notFrozen() bool {
	if c.ns.state.Load() == stateFrozen {
		c.replyErr(msgFrozen)
		return false
	}
	return true
}

// canWrite applies the write checks in 0-db's order.
func (c *conn) canWrite() bool {
	if !c.writable {
		c.replyErr(msgReadOnly)
		return false
	}
	switch c.ns.state.Load() {
	case stateFrozen:
		c.replyErr(msgFrozen)
		return false
	case stateLocked:
		c.replyErr(msgLocked)
		return false
	}
	return true
}
