package config

import (
	"fmt"
	"path/filepath"
	"testing"
)

func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.0.1:%d", 9900+i)
	}
	return out
}

func TestLocal(t *testing.T) {
	cleanEnv(t)
	cases := []struct {
		naddrs, groups, k, m int
		sizes                []int
	}{
		{6, 3, 3, 2, []int{2, 2, 2}},
		{7, 3, 4, 3, []int{3, 2, 2}},
		{1, 1, 1, 0, []int{1}},
		{20, 4, 16, 4, []int{5, 5, 5, 5}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d/%d/%d+%d", tc.naddrs, tc.groups, tc.k, tc.m), func(t *testing.T) {
			dir := t.TempDir()
			c, err := Local(dir, addrs(tc.naddrs), tc.groups, tc.k, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if c.K() != tc.k || c.M() != tc.m {
				t.Errorf("k, m = %d, %d", c.K(), c.M())
			}
			if c.MetaDir != filepath.Join(dir, "meta") || c.Socket != filepath.Join(dir, "zstor.sock") {
				t.Errorf("meta_dir %q socket %q", c.MetaDir, c.Socket)
			}
			next := 0
			for i, g := range c.Groups {
				if g.Name != fmt.Sprintf("g%d", i) || g.Labels["region"] != fmt.Sprintf("local-%d", i) {
					t.Errorf("group %d: name %q labels %v", i, g.Name, g.Labels)
				}
				if len(g.Backends) != tc.sizes[i] {
					t.Errorf("group %d has %d backends, want %d", i, len(g.Backends), tc.sizes[i])
				}
				for _, b := range g.Backends {
					if b.Address != addrs(tc.naddrs)[next] || b.Namespace != "default" {
						t.Errorf("backend %d = %v", next, b)
					}
					next++
				}
			}
		})
	}
	a, _ := Local(t.TempDir(), addrs(3), 1, 2, 1)
	b, _ := Local(t.TempDir(), addrs(3), 1, 2, 1)
	if a.Encryption.Key == b.Encryption.Key || len(a.Encryption.Key) != 64 {
		t.Error("Local keys are not fresh random 32-byte keys")
	}
}

func TestLocalErrors(t *testing.T) {
	cleanEnv(t)
	cases := []struct {
		naddrs, groups, k, m int
	}{
		{3, 0, 2, 1},  // no groups
		{2, 3, 1, 1},  // fewer addresses than groups
		{3, 1, 3, 1},  // fewer addresses than shards
		{3, 1, 0, 1},  // k = 0
		{3, 1, 2, -1}, // m < 0
	}
	for _, tc := range cases {
		if _, err := Local(t.TempDir(), addrs(tc.naddrs), tc.groups, tc.k, tc.m); err == nil {
			t.Errorf("Local(%d addrs, %d groups, k=%d, m=%d) succeeded", tc.naddrs, tc.groups, tc.k, tc.m)
		}
	}
	if _, err := Local(t.TempDir(), []string{"a:1", "a:1"}, 1, 1, 1); err == nil {
		t.Error("Local with a duplicate address succeeded")
	}
}
