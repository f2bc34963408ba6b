package server_test

import (
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

// --rotate starts new data files on a timer (only when the current one
// holds something), and --synctime keeps syncing without disturbing writes.
func TestRotateAndSyncIntervals(t *testing.T) {
	ts := startServer(t, server.Config{RotateInterval: 100 * time.Millisecond, SyncInterval: 50 * time.Millisecond}, false)
	c := ts.conn(t)
	expect(t, c, "a", "SET", "a", "1")
	first := nsInfo(t, c, "default")["data_current_id"]
	deadline := time.Now().Add(10 * time.Second)
	for nsInfo(t, c, "default")["data_current_id"] == first {
		if time.Now().After(deadline) {
			t.Fatalf("data file %s never rotated", first)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Idle: an empty active file is not rotated again and again.
	idle := nsInfo(t, c, "default")["data_current_id"]
	time.Sleep(400 * time.Millisecond)
	if now := nsInfo(t, c, "default")["data_current_id"]; now != idle {
		t.Errorf("empty data file rotated: %s -> %s", idle, now)
	}
	expect(t, c, "b", "SET", "b", "2")
	expect(t, c, "1", "GET", "a")
	expect(t, c, "2", "GET", "b")
}
