package server_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

// TestAdminOpsUnderLoad runs RELOAD, NSSET, NSJUMP, COMPACT and SCRUB on a
// namespace while other clients write and read it (run with -race). Every
// acknowledged write must be readable afterwards.
func TestAdminOpsUnderLoad(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	admin := ts.conn(t)
	ok(t, admin, "NSNEW", "busy")

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	acked := make([]map[string]string, 3)
	for w := range 3 {
		acked[w] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := ts.options()
			o.PoolSize = 1
			rdb := redis.NewClient(o)
			defer rdb.Close()
			rc := rdb.Conn()
			defer rc.Close()
			c := connDoer{rc}
			bg := context.Background()
			if err := c.Do(bg, "SELECT", "busy").Err(); err != nil {
				errs <- err
				return
			}
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("w%d-%d", w, i%50)
				v := fmt.Sprintf("%d-%d", w, i)
				pipe := rc.Pipeline()
				set := pipe.Do(bg, "SET", k, v)
				get := pipe.Do(bg, "GET", k)
				ks := pipe.Do(bg, "KSCAN", fmt.Sprintf("w%d-", w))
				pipe.Do(bg, "SCAN")
				pipe.Exec(bg)
				if err := set.Err(); err != nil {
					// Refused while locked: allowed, not acknowledged.
					if err.Error() != "Namespace is temporarily locked (read-only)" {
						errs <- fmt.Errorf("SET %s: %v", k, err)
						return
					}
				} else {
					acked[w][k] = v
					if got, err := get.Text(); err != nil || got != v {
						errs <- fmt.Errorf("GET %s after SET: %q, %v", k, got, err)
						return
					}
				}
				// Before this writer's first acknowledged SET (all refused
				// while locked) its prefix legitimately matches nothing.
				if err := ks.Err(); err != nil && !(len(acked[w]) == 0 && err.Error() == "No keys match") {
					errs <- fmt.Errorf("KSCAN: %v", err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			var args []any
			switch i % 6 {
			case 0:
				args = []any{"RELOAD", "busy"}
			case 1:
				args = []any{"NSSET", "busy", "lock", "1"}
			case 2:
				args = []any{"NSSET", "busy", "lock", "0"}
			case 3:
				args = []any{"NSSET", "busy", "maxsize", "0"}
			case 4:
				args = []any{"SELECT", "busy"}
			case 5:
				args = []any{"NSINFO", "busy"}
			}
			r, err := tryDo(admin, args...)
			if err != nil {
				errs <- fmt.Errorf("%v: %v", args, err)
				return
			}
			if re, isErr := r.(replyErr); isErr {
				errs <- fmt.Errorf("%v: %s", args, re)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	jumper := ts.conn(t)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := jumper
		if _, err := tryDo(c, "SELECT", "busy"); err != nil {
			errs <- err
			return
		}
		for i := 0; ctx.Err() == nil; i++ {
			cmd := []string{"NSJUMP", "COMPACT", "SCRUB"}[i%3]
			r, err := tryDo(c, cmd)
			if err != nil {
				errs <- fmt.Errorf("%s: %v", cmd, err)
				return
			}
			if re, isErr := r.(replyErr); isErr && cmd != "NSJUMP" {
				errs <- fmt.Errorf("%s: %s", cmd, re)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ok(t, admin, "NSSET", "busy", "lock", "0")
	ok(t, admin, "SELECT", "busy")
	for _, m := range acked {
		for k, v := range m {
			expect(t, admin, v, "GET", k)
		}
	}
	ok(t, admin, "RELOAD", "busy")
	n := 0
	for _, m := range acked {
		for k, v := range m {
			expect(t, admin, v, "GET", k)
			n++
		}
	}
	expect(t, admin, n, "DBSIZE")
	if r := mustArray(t, admin, "SCRUB"); r[2] != int64(0) {
		t.Errorf("SCRUB after the load: %s", showReply(r))
	}
}

// TestFlushAndDeleteUnderLoad flushes, then deletes, a namespace while
// clients write to it: the writers see either success or the documented
// errors, never a crash or a hang, and the server keeps serving.
func TestFlushAndDeleteUnderLoad(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	admin := ts.conn(t)
	ok(t, admin, "NSNEW", "fl")
	ok(t, admin, "NSSET", "fl", "password", "pw")
	ok(t, admin, "NSSET", "fl", "public", "0")

	var writers []connDoer
	for range 3 {
		c := ts.conn(t)
		ok(t, c, "SELECT", "fl", "pw")
		writers = append(writers, c)
	}
	flusher := ts.conn(t)
	ok(t, flusher, "SELECT", "fl", "pw")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w, c := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("w%d-%d", w, i%100)
				r, err := tryDo(c, "SET", k, "v"+strconv.Itoa(i))
				if err != nil {
					return // the connection was closed after NSDEL
				}
				switch r {
				case k, null, replyErr("Your active namespace is not available anymore (probably removed)."),
					replyErr("Cannot write data right now"):
				default:
					errs <- fmt.Errorf("SET %s: %s", k, showReply(r))
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	for range 20 {
		if r, err := tryDo(flusher, "FLUSH"); err != nil || r != "OK" {
			t.Fatalf("FLUSH: %v %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ok(t, flusher, "SELECT", "default")
	ok(t, admin, "NSDEL", "fl")
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(pollTimeout):
		close(stop)
		<-done
		t.Error("writers still running after NSDEL")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ok(t, admin, "NSNEW", "fl")
	ok(t, admin, "SELECT", "fl")
	expect(t, admin, 0, "DBSIZE")
	expect(t, admin, "k", "SET", "k", "v")
}
