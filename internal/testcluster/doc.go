// Package testcluster runs a cluster of real zdb daemons on loopback for
// tests and benchmarks, and hurts them on demand.
//
// [Start] builds ./cmd/zdb once per test binary, starts n daemons on free
// ports of 127.0.0.1, each under its own t.TempDir(), waits until each
// answers PING, creates the namespace, and registers a cleanup that kills
// them all. Daemons also die with the test process (parent-death signal
// on Linux), so a panic, a -timeout or a SIGKILL leaves nothing behind.
//
//	c := testcluster.Start(t, 4, testcluster.Options{
//		Groups:    2,        // g0 = backends 0-1, g1 = 2-3
//		Namespace: "shards", // created with NSNEW on every daemon
//		Password:  "secret",
//		Proxy:     true,     // needed for Slow, Blackhole, Disconnect
//	})
//	for _, b := range c.Backends() {
//		cl := redis.NewClient(b.RedisOptions()) // or zdbclient.New(b.ClientConfig())
//		...
//	}
//	c.Kill(1)                             // SIGKILL, like a crash
//	c.Restart(1)                          // same port and directories
//	c.Pause(2); c.Resume(2)               // SIGSTOP / SIGCONT
//	c.Slow(3, 50*time.Millisecond)        // every request delayed
//	c.Blackhole(3, true)                  // accepted, never answered
//	c.Fill(0); c.Unfill(0)                // "No space left on this namespace"
//	c.Corrupt(0, rand.New(rand.NewPCG(seed, 0)), 8) // flip bytes in data files
//
// Backend.Addr is what clients dial (the proxy when there is one); the
// harness's own admin work goes straight to Backend.ZdbAddr, so injected
// network faults never get in its way. Client, Pid, Alive, DataFiles and
// LogTail help tests look at a backend; Disconnect drops the connections
// open through its proxy.
//
// Fault methods on a cluster from Start fail the test with t.Fatalf,
// naming the backend and what failed (with the end of the daemon's log
// where it helps); call them from the test's goroutine. Each daemon's
// output goes to Backend.LogPath, and the cleanup fails the test if a log
// shows a panic.
//
// Benchmarks and tools that are not tests use [StartDir] and Close the
// cluster themselves; there the fault methods panic on failure, and the
// ...Context variants (RestartContext, StopContext, FillContext,
// UnfillContext) return errors.
//
// The zdb binary is cached per user and checkout under the system
// temporary directory and rebuilt (from Go's build cache, quickly) by the
// first Start of every test process; $ZEROSTOR_ZDB_BIN names a binary to
// use instead.
package testcluster
