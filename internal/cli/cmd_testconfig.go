package cli

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

func newTestCommand() *command {
	return &command{
		name:  "test",
		args:  "",
		short: "test the configuration: validate it and reach every backend",
		long: `
Loads and validates the configuration, then asks every backend (data and
metadata) for its namespace. Exits 1 when fewer data backends answer than
expected_shards, the number a store needs.`,
		run: runTest,
	}
}

type testBackend struct {
	ID        string `json:"id"`
	Group     string `json:"group"`
	Reachable bool   `json:"reachable"`
	Mode      string `json:"mode,omitempty"`
	Error     string `json:"error,omitempty"`
}

type testReport struct {
	Config         string        `json:"config"`
	Backends       []testBackend `json:"backends"`
	Meta           []testBackend `json:"meta_backends,omitempty"`
	Reachable      int           `json:"reachable"`
	ExpectedShards int           `json:"expected_shards"`
	OK             bool          `json:"ok"`
}

func runTest(ctx context.Context, g *globals, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	rep := testReport{Config: g.configPath(), ExpectedShards: cfg.ExpectedShards}
	for _, grp := range cfg.Groups {
		for _, b := range grp.Backends {
			rep.Backends = append(rep.Backends, testBackend{ID: cfg.BackendID(b), Group: grp.Name})
		}
	}
	for _, b := range cfg.Meta.Config.Backends {
		rep.Meta = append(rep.Meta, testBackend{ID: cfg.BackendID(b), Group: "meta"})
	}
	var wg sync.WaitGroup
	probe := func(tb *testBackend, b config.Backend) {
		defer wg.Done()
		c := zdbclient.New(zdbclient.Config{Address: b.Address, Namespace: b.Namespace, Password: b.Password, Timeout: 5 * time.Second, PoolSize: 1})
		defer c.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		info, err := c.NSInfo(pctx)
		if err != nil {
			tb.Error = err.Error()
			return
		}
		tb.Reachable, tb.Mode = true, info["mode"]
	}
	i := 0
	for _, grp := range cfg.Groups {
		for _, b := range grp.Backends {
			wg.Add(1)
			go probe(&rep.Backends[i], b)
			i++
		}
	}
	for j, b := range cfg.Meta.Config.Backends {
		wg.Add(1)
		go probe(&rep.Meta[j], b)
	}
	wg.Wait()
	for _, b := range rep.Backends {
		if b.Reachable {
			rep.Reachable++
		}
	}
	rep.OK = rep.Reachable >= cfg.ExpectedShards
	if g.json {
		if err := g.printJSON(rep); err != nil {
			return err
		}
	} else {
		t := newTable(g.env.Stdout)
		for _, b := range append(append([]testBackend(nil), rep.Backends...), rep.Meta...) {
			if b.Reachable {
				fmt.Fprintf(t, "ok\t%s\t%s\t%s\n", b.ID, b.Group, b.Mode)
			} else {
				fmt.Fprintf(t, "FAIL\t%s\t%s\t%s\n", b.ID, b.Group, b.Error)
			}
		}
		t.Flush()
		g.printf("%d of %d data backends reachable; a store needs %d (expected_shards)\n", rep.Reachable, len(rep.Backends), cfg.ExpectedShards)
	}
	if !rep.OK {
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("only %d backends reachable, expected_shards is %d", rep.Reachable, cfg.ExpectedShards)}
	}
	return nil
}
