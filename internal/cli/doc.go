// Package cli is the zstor command line: one file per command (cmd_*.go),
// each with an options struct, its flags and a run function, written once
// against daemon.Store so that it works the same through a running daemon
// (the config's socket answers) and on a store opened in-process.
//
// Exit codes (docs/cli.md):
//
//	0  success
//	1  failure (including an object that check finds unreadable)
//	2  usage: unknown command, bad or missing flags
//	3  not found: the object does not exist
package cli
