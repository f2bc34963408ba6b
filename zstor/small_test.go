package zstor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
)

// TestSmallObjects: objects up to small_object_size are stored as 1+m
// copies, larger ones as k+m; both survive m lost backends, both heal
// back to full redundancy, and 0 turns the small mode off.
func TestSmallObjects(t *testing.T) {
	cl := testcluster.Start(t, 8, testcluster.Options{Groups: 2})
	tests := []struct {
		name      string
		threshold int
		size      int
		wantK     int
	}{
		{"tiny", 16 << 10, 100, 1},
		{"at the threshold", 16 << 10, 16 << 10, 1},
		{"above", 16 << 10, 16<<10 + 1, 4},
		{"empty", 16 << 10, 0, 4}, // no block at all: nothing to copy
		{"off", 0, 100, 4},
	}
	rnd := mrand.New(mrand.NewPCG(1, 2))
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, cl, 4, 2, 0)
			cfg.SmallObjectSize = config.ByteSize(tt.threshold)
			c := openClient(t, cfg, Options{})
			data := randBytes(rnd, tt.size)
			info := put(t, c, "k", data)
			if info.K != tt.wantK || info.M != 2 {
				t.Fatalf("stored as %d+%d, want %d+2", info.K, info.M, tt.wantK)
			}
			if got := get(t, c, "k", GetOptions{}); !bytes.Equal(got, data) {
				t.Fatal("read back differs")
			}
			rep, err := c.Check(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if tt.size > 0 && rep.MinGood != tt.wantK+2 {
				t.Fatalf("check: %d good shards, want %d", rep.MinGood, tt.wantK+2)
			}
		})
	}
}

// TestSmallObjectSurvivesLosses: a 1+m object reads back with m of its
// backends gone, and repair brings it back to m+1 copies.
func TestSmallObjectSurvivesLosses(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 2})
	cfg := testConfig(t, cl, 4, 2, 0)
	cfg.SmallObjectSize = 16 << 10
	c := openClient(t, cfg, Options{})
	ctx := context.Background()
	data := randBytes(mrand.New(mrand.NewPCG(3, 4)), 5000)
	put(t, c, "small", data)
	o, err := c.store.Get(ctx, "small")
	if err != nil {
		t.Fatal(err)
	}
	// Kill the backends of the first two copies.
	killed := 0
	for _, s := range o.Blocks[0].Shards[:2] {
		for i := range 6 {
			be := cl.Backend(i)
			if be.Addr+"/"+be.Namespace == o.Backends[s.Backend] {
				cl.Kill(i)
				killed++
			}
		}
	}
	if killed != 2 {
		t.Fatalf("killed %d backends, want 2", killed)
	}
	if got := get(t, c, "small", GetOptions{}); !bytes.Equal(got, data) {
		t.Fatal("read back differs with 2 copies lost")
	}
	rep, err := c.Repair(ctx, "small")
	if err != nil && !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	t.Logf("repair: %+v", rep)
	chk, err := c.Check(ctx, "small")
	if err != nil {
		t.Fatal(err)
	}
	if chk.MinGood != 3 {
		t.Fatalf("after repair %d good copies, want 3", chk.MinGood)
	}
}

// TestSharedBlocks: with one shared read-ahead slot, many concurrent
// multi-block Puts all complete (each has its own block) and read back.
func TestSharedBlocks(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 2})
	cfg := testConfig(t, cl, 4, 2, 64<<10)
	c := openClient(t, cfg, Options{Parallel: 4, SharedBlocks: 1})
	rnd := mrand.New(mrand.NewPCG(5, 6))
	datas := make([][]byte, 8)
	for i := range datas {
		datas[i] = randBytes(rnd, 5*64<<10+i*1000)
	}
	errs := make(chan error, len(datas))
	for i, d := range datas {
		go func() {
			_, err := c.Put(context.Background(), fmt.Sprintf("obj%d", i), bytes.NewReader(d), PutOptions{})
			errs <- err
		}()
	}
	for range datas {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("concurrent puts stuck with one shared slot")
		}
	}
	for i, d := range datas {
		if got := get(t, c, fmt.Sprintf("obj%d", i), GetOptions{}); !bytes.Equal(got, d) {
			t.Fatalf("obj%d differs", i)
		}
	}
}
