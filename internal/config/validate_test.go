package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateBase(t *testing.T) {
	cleanEnv(t)
	c := mustParse(t, validText)
	if err := c.Validate(); err != nil {
		t.Fatalf("base config does not validate: %v", err)
	}
	if got := c.Groups[1].Labels["lat"]; got != "52.37" {
		t.Errorf("numeric label lat = %q, want \"52.37\"", got)
	}
}

func TestValidateErrors(t *testing.T) {
	cleanEnv(t)
	cases := []struct {
		name   string
		mutate func(c *Config)
		key    string // the FieldError's key
		msg    string // a part of its message
	}{
		{"k zero", func(c *Config) { c.MinimalShards = 0 }, "minimal_shards", "at least 1"},
		{"N below k", func(c *Config) { c.ExpectedShards = 1 }, "expected_shards", "less than minimal_shards"},
		{"N too large", func(c *Config) { c.ExpectedShards = 300 }, "expected_shards", "maximum of 256"},
		{"not enough backends", func(c *Config) { c.MinimalShards, c.ExpectedShards, c.WriteQuorum = 4, 5, 5 }, "groups", "4 distinct backends"},
		{"duplicate backend", func(c *Config) { c.Groups[1].Backends[0] = Backend{Address: "10.0.0.1:9900", Namespace: "default"} }, "groups[1].backends[0]", "duplicate backend 10.0.0.1:9900/default (also groups[0].backends[0])"},
		{"duplicates do not count", func(c *Config) {
			c.ExpectedShards, c.WriteQuorum = 4, 3
			c.Groups[1].Backends[0] = c.Groups[1].Backends[1]
		}, "groups", "3 distinct backends"},
		{"address without port", func(c *Config) { c.Groups[0].Backends[0].Address = "10.0.0.1" }, "groups[0].backends[0].address", "neither host:port"},
		{"bare IPv6", func(c *Config) { c.Groups[0].Backends[0].Address = "fe80::1:9900" }, "groups[0].backends[0].address", "neither host:port"},
		{"port zero", func(c *Config) { c.Groups[0].Backends[1].Address = "h:0" }, "groups[0].backends[1].address", "port"},
		{"port too large", func(c *Config) { c.Groups[0].Backends[1].Address = "h:70000" }, "groups[0].backends[1].address", "port"},
		{"no host", func(c *Config) { c.Groups[0].Backends[1].Address = ":9900" }, "groups[0].backends[1].address", "missing host"},
		{"bad host", func(c *Config) { c.Groups[0].Backends[1].Address = "a b:9900" }, "groups[0].backends[1].address", "not a host name"},
		{"relative unix path", func(c *Config) { c.Groups[1].Backends[1].Address = "run/zdb.sock" }, "groups[1].backends[1].address", "unix socket"},
		{"empty address", func(c *Config) { c.Groups[1].Backends[1].Address = "" }, "groups[1].backends[1].address", "missing"},
		{"namespace with slash", func(c *Config) { c.Groups[0].Backends[1].Namespace = "a/b" }, "groups[0].backends[1].namespace", "contains"},
		{"label name", func(c *Config) { c.Groups[0].Labels["a=b"] = "c" }, "groups[0].labels", `label name "a=b"`},
		{"label name space", func(c *Config) { c.Groups[1].Backends[0].Labels["disk type"] = "c" }, "groups[1].backends[0].labels", "only letters"},
		{"reserved label", func(c *Config) { c.Groups[0].Labels["group"] = "x" }, "groups[0].labels", "reserved"},
		{"negated selector", func(c *Config) { c.Placement.Exclude = []string{"country!=BE"} }, "placement.exclude[0]", "negation"},
		{"selector key", func(c *Config) { c.Placement.Pin = []string{"coun try=BE"} }, "placement.pin[0]", "only letters"},
		{"short key", func(c *Config) { c.Encryption.Key = "abcd" }, "encryption.key", "64 hexadecimal characters"},
		{"non-hex key", func(c *Config) { c.Encryption.Key = strings.Repeat("g", 64) }, "encryption.key", "not hexadecimal"},
		{"key and key_file", func(c *Config) { c.Encryption.KeyFile = "/etc/zstor/key" }, "encryption.key_file", "not both"},
		{"no key", func(c *Config) { c.Encryption.Key = "" }, "encryption.key", "no master key"},
		{"algorithm", func(c *Config) { c.Encryption.Algorithm = "DES" }, "encryption.algorithm", "unknown algorithm"},
		{"compression", func(c *Config) { c.Compression.Algorithm = "lz4" }, "compression.algorithm", "unknown algorithm"},
		{"compression case", func(c *Config) { c.Compression.Algorithm = "ZSTD" }, "compression.algorithm", "lower case"},
		{"block size too small", func(c *Config) { c.BlockSize = 1 * KiB }, "block_size", "1KiB is out of bounds"},
		{"block size too large", func(c *Config) { c.BlockSize = 128 * MiB }, "block_size", "out of bounds"},
		{"quorum k", func(c *Config) { c.ExpectedShards, c.WriteQuorum = 4, 2 }, "write_quorum", "out of bounds (3 to 4"},
		{"quorum when only N fits", func(c *Config) { c.WriteQuorum = 2 }, "write_quorum", "must be 3"},
		{"quorum above N", func(c *Config) { c.MinimalShards = 1; c.WriteQuorum = 4 }, "write_quorum", "out of bounds (2 to 3"},
		{"quorum with m = 0", func(c *Config) { c.ExpectedShards = 2; c.WriteQuorum = 3 }, "write_quorum", "must be 2"},
		{"meta zdb without backends", func(c *Config) { c.Meta.Type = "zdb" }, "meta.config.backends", "at least one backend"},
		{"meta type", func(c *Config) { c.Meta.Type = "etcd" }, "meta.type", "unknown type"},
		{"meta backends without type", func(c *Config) { c.Meta.Config.Backends = []Backend{{Address: "h:1"}} }, "meta.type", "missing"},
		{"meta backend address", func(c *Config) {
			c.Meta = Meta{Type: "zdb", Config: MetaConfig{Backends: []Backend{{Address: "nope"}}}}
		}, "meta.config.backends[0].address", "neither host:port"},
		{"meta duplicate", func(c *Config) {
			c.Meta = Meta{Type: "zdb", Config: MetaConfig{Backends: []Backend{{Address: "h:1"}, {Address: "h:1", Namespace: "default"}}}}
		}, "meta.config.backends[1]", "duplicate"},
		{"meta key", func(c *Config) {
			c.Meta = Meta{Type: "zdb", Config: MetaConfig{Encryption: Encryption{Algorithm: "AES", Key: "00"}, Backends: []Backend{{Address: "h:1"}}}}
		}, "meta.config.encryption.key", "64 hexadecimal"},
		{"no groups", func(c *Config) { c.Groups = nil }, "groups", "no groups"},
		{"empty group", func(c *Config) { c.Groups = append(c.Groups, Group{Name: "c"}) }, "groups[2].backends", "no backends"},
		{"duplicate group name", func(c *Config) { c.Groups[1].Name = "a" }, "groups[1].name", "also the name of groups[0]"},
		{"pin selector", func(c *Config) { c.Placement.Pin = []string{"country=BE", "countryBE"} }, "placement.pin[1]", "not a key=value"},
		{"exclude selector", func(c *Config) { c.Placement.Exclude = []string{"=g2"} }, "placement.exclude[0]", "not a key=value"},
		{"redundant groups", func(c *Config) { c.RedundantGroups = 2 }, "redundant_groups", "of 2 groups"},
		{"negative redundant nodes", func(c *Config) { c.RedundantNodes = -1 }, "redundant_nodes", "negative"},
		{"prometheus port", func(c *Config) { c.PrometheusPort = 70000 }, "prometheus_port", "not a port"},
		{"data dir size", func(c *Config) { c.MaxZdbDataDirSize = -1 }, "max_zdb_data_dir_size", "negative"},
		{"meta dir", func(c *Config) { c.MetaDir = "" }, "meta_dir", "not set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, validText)
			tc.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted the config")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error is not ErrInvalid: %v", err)
			}
			if !hasKey(err, tc.key, tc.msg) {
				t.Errorf("Validate = %v\nwant a problem on %q mentioning %q", err, tc.key, tc.msg)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("message %q does not name %q", err, tc.key)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	cleanEnv(t)
	cases := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"m = 0 with quorum k", func(c *Config) { c.ExpectedShards, c.WriteQuorum = 2, 2 }},
		{"quorum N", func(c *Config) { c.WriteQuorum = 3 }},
		{"bounds of block size", func(c *Config) { c.BlockSize = MinBlockSize }},
		{"max block size", func(c *Config) { c.BlockSize = MaxBlockSize }},
		{"AES-256-GCM", func(c *Config) { c.Encryption.Algorithm = "aes-256-gcm" }},
		{"lower case aes", func(c *Config) { c.Encryption.Algorithm = "aes" }},
		{"host name address", func(c *Config) { c.Groups[0].Backends[0].Address = "localhost:9900" }},
		{"IPv6 zone", func(c *Config) { c.Groups[0].Backends[0].Address = "[fe80::1%eth0]:9900" }},
		{"compression none", func(c *Config) { c.Compression.Algorithm = "none" }},
		{"meta zdb", func(c *Config) { c.Meta = Meta{Type: "zdb", Config: MetaConfig{Backends: []Backend{{Address: "h:1"}}}} }},
		{"same address other namespace", func(c *Config) { c.Groups[1].Backends[0] = Backend{Address: "10.0.0.1:9900", Namespace: "other"} }},
		{"selectors", func(c *Config) {
			c.Placement = Placement{Pin: []string{"country=BE", " region = eu "}, Exclude: []string{"group=b", "id=10.0.0.1:9900/default", "a/b.c_d-e=x=y"}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, validText)
			tc.mutate(c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// TestValidateReportsAll: every problem at once, not the first.
func TestValidateReportsAll(t *testing.T) {
	cleanEnv(t)
	c := mustParse(t, validText)
	c.Compression.Algorithm = "lz4"
	c.BlockSize = 1
	c.Encryption.Key = "00"
	c.Groups[0].Backends[0].Address = "bad"
	err := c.Validate()
	want := []string{"compression.algorithm", "block_size", "encryption.key", "groups[0].backends[0].address"}
	for _, k := range want {
		if !hasKey(err, k, "") {
			t.Errorf("no problem on %s in %v", k, err)
		}
	}
	if n := len(fieldErrors(err)); n != len(want) {
		t.Errorf("%d problems, want %d: %v", n, len(want), err)
	}
}
