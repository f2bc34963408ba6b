package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

const examplePath = "testdata/0stor_example.toml"

// TestZeroStorExample: 0-stor_v2's README example reads unchanged, with the
// values 0-stor gives it.
func TestZeroStorExample(t *testing.T) {
	cleanEnv(t)
	c, err := ReadFile(examplePath)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"minimal_shards", c.MinimalShards, 10},
		{"expected_shards", c.ExpectedShards, 15},
		{"K", c.K(), 10},
		{"M", c.M(), 5},
		{"redundant_groups", c.RedundantGroups, 1},
		{"redundant_nodes", c.RedundantNodes, 1},
		{"root", c.Root, "/virtualroot"},
		{"socket", c.Socket, "/tmp/zstor.sock"},
		{"prometheus_port", c.PrometheusPort, 9100},
		{"zdb_data_dir_path", c.ZdbDataDirPath, "/tmp/0-db/data"},
		{"max_zdb_data_dir_size", c.MaxZdbDataDirSize, int64(25600)},
		{"encryption.algorithm", c.Encryption.Algorithm, "AES"},
		{"encryption.key", c.Encryption.Key, strings.Repeat("0", 64)},
		{"compression.algorithm", c.Compression.Algorithm, "snappy"},
		{"meta.type", c.Meta.Type, "zdb"},
		{"meta.config.prefix", c.Meta.Config.Prefix, "someprefix"},
		{"meta.config.encryption.key", c.Meta.Config.Encryption.Key, strings.Repeat("01", 32)},
		{"meta backends", len(c.Meta.Config.Backends), 4},
		{"groups", len(c.Groups), 2},
		{"group 0 name", c.Groups[0].Name, "group-0"},
		{"group 1 name", c.Groups[1].Name, "group-1"},
		{"block_size default", c.BlockSize, 4 * MiB},
		{"write_quorum default", c.WriteQuorum, 11},
		{"meta_dir default", c.MetaDir, "/tmp/zstor-test-meta"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	for i, b := range c.Meta.Config.Backends {
		want := Backend{Address: fmt.Sprintf("[2a02:1802:5e::dead:beef]:%d", 9900+i), Namespace: "test2", Password: "supersecretpass"}
		if !reflect.DeepEqual(b, want) {
			t.Errorf("meta backend %d = %#v, want %#v", i, b, want)
		}
	}
	wantGroups := [][]Backend{
		{{Address: "[fe80::1]:9900", Namespace: "default"}, {Address: "[fe80::1]:9900", Namespace: "test"}},
		{{Address: "[2a02:1802:5e::dead:babe]:9900", Namespace: "default"}, {Address: "[2a02:1802:5e::dead:beef]:9900", Namespace: "test2", Password: "supersecretpass"}},
	}
	for i, want := range wantGroups {
		if got := c.Groups[i].Backends; !reflect.DeepEqual(got, want) {
			t.Errorf("groups[%d].backends = %#v, want %#v", i, got, want)
		}
	}
	if got, want := c.BackendID(c.Groups[0].Backends[0]), "[fe80::1]:9900/default"; got != want {
		t.Errorf("BackendID = %q, want %q", got, want)
	}

	master, err := c.MasterKey()
	if err != nil || master != [32]byte{} {
		t.Errorf("MasterKey = %x, %v; want zeros", master, err)
	}
	mk, err := c.MetaKey()
	var want [32]byte
	for i := range want {
		want[i] = 1
	}
	if err != nil || mk != want {
		t.Errorf("MetaKey = %x, %v; want 0101...", mk, err)
	}
}

// TestZeroStorExampleLoad: Load validates, and the example's only problem is
// the one 0-stor's own validation reports too: 4 backends for 15 shards.
// With 11 backends added (the example text otherwise unchanged) it loads.
func TestZeroStorExampleLoad(t *testing.T) {
	cleanEnv(t)
	_, err := Load(examplePath)
	if err == nil {
		t.Fatal("Load of 4 backends for expected_shards = 15 succeeded")
	}
	fes := fieldErrors(err)
	if len(fes) != 1 || fes[0].Key != "groups" || !strings.Contains(fes[0].Msg, "expected_shards = 15") {
		t.Errorf("Load error = %v, want one problem: groups cannot hold expected_shards = 15", err)
	}
	if !strings.HasPrefix(err.Error(), examplePath+": ") || !errors.Is(err, ErrInvalid) {
		t.Errorf("Load error %q does not name the file or is not ErrInvalid", err)
	}

	full, err := os.ReadFile("testdata/0stor_example_full.toml")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(full), string(orig)) {
		t.Fatal("0stor_example_full.toml does not start with the example text")
	}
	c, err := Load("testdata/0stor_example_full.toml")
	if err != nil {
		t.Fatalf("Load full example: %v", err)
	}
	if n := len(c.Groups[1].Backends); n != 13 {
		t.Errorf("group 1 has %d backends, want 13", n)
	}
}
