package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestUnknownKeys(t *testing.T) {
	cases := []struct {
		name string
		text string
		key  string
		line int
	}{
		{"top level typo", "minimal_shards = 1\nexpected_shard = 2\n", "expected_shard", 2},
		{"unknown table", "minimal_shards = 1\n[encrytion]\nkey = \"00\"\nalgorithm = \"AES\"\n", "encrytion", 2},
		{"key in known table", "[encryption]\nalgoritm = \"AES\"\n", "encryption.algoritm", 2},
		{"backend typo", "[[groups]]\n[[groups.backends]]\nadress = \"h:1\"\n", "groups.backends.adress", 3},
		{"group typo", "[[groups]]\nlabel = { a = \"b\" }\n", "groups.label", 2},
		{"meta config typo", "[meta]\ntype = \"zdb\"\n[meta.config]\nprefx = \"p\"\n", "meta.config.prefx", 4},
		{"meta backend typo", "[meta]\ntype = \"zdb\"\n[[meta.config.backends]]\naddress = \"h:1\"\npasword = \"x\"\n", "meta.config.backends.pasword", 5},
		{"placement typo", "[placement]\npinned = [\"a=b\"]\n", "placement.pinned", 2},
		{"repair typo", "[repair]\nworkers = 2\nscrub_intervall = \"1h\"\n", "repair.scrub_intervall", 3},
		{"dotted key", "compression.algo = \"zstd\"\n", "compression.algo", 1},
		{"wrong case", "Root = \"/x\"\n", "Root", 1},
		{"after multi-line array", "[placement]\npin = [\n  \"a=b\",\n  \"c=d\",\n]\nexclud = []\n", "placement.exclud", 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrUnknownKey and ErrInvalid", err)
			}
			fes := fieldErrors(err)
			if len(fes) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(fes), err)
			}
			if fes[0].Key != tc.key || fes[0].Line != tc.line {
				t.Errorf("problem at %q line %d, want %q line %d (%v)", fes[0].Key, fes[0].Line, tc.key, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name %q", err, tc.key)
			}
		})
	}
}

func TestUnknownKeysAllReported(t *testing.T) {
	text := "[[groups]]\n[[groups.backends]]\nadress = \"a:1\"\n[[groups.backends]]\nadress = \"b:1\"\n[foo]\nbar = 1\n"
	_, err := Parse([]byte(text))
	fes := fieldErrors(err)
	if len(fes) != 2 {
		t.Fatalf("got %v, want 2 problems", err)
	}
	if fes[0].Key != "groups.backends.adress" || fes[0].Line != 3 || !strings.Contains(fes[0].Msg, "also on line 5") {
		t.Errorf("first problem = %v", fes[0])
	}
	if fes[1].Key != "foo" || fes[1].Line != 6 {
		t.Errorf("second problem = %v", fes[1])
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"wrong type", "minimal_shards = \"ten\"\n", "minimal_shards"},
		{"bad block size", "block_size = \"4M\"\n", "ambiguous"},
		{"syntax", "minimal_shards = = 1\n", "line 1"},
		{"label type", "[[groups]]\nlabels = { a = [1] }\n", "label value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLegacyKeys(t *testing.T) {
	cleanEnv(t)
	text := legacyTop + validText
	c := mustParse(t, text)
	want := Legacy{
		ZdbIndexDirPath: "/tmp/0-db/index",
		ZdbfsMountpoint: "/mnt/zdbfs",
		PidFile:         "/run/zstor.pid",
		Network:         "Main",
		IdentityName:    "alice",
		IdentityEmail:   "alice@example.org",
		IdentityID:      42,
	}
	if !reflect.DeepEqual(c.Legacy, want) {
		t.Errorf("Legacy = %#v, want %#v", c.Legacy, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"SWALLETSECRETXYZ", "mnemonic words"} {
		if bytes.Contains(out, []byte(secret)) || strings.Contains(c.String(), secret) || strings.Contains(c.GoString(), secret) {
			t.Errorf("0-stor secret %q is kept", secret)
		}
	}
	if !bytes.Contains(out, []byte(`zdbfs_mountpoint = "/mnt/zdbfs"`)) {
		t.Errorf("Marshal drops legacy keys:\n%s", out)
	}
}

const legacyTop = `zdb_index_dir_path = "/tmp/0-db/index"
zdbfs_mountpoint = "/mnt/zdbfs"
pid_file = "/run/zstor.pid"
network = "Main"
wallet_secret = "SWALLETSECRETXYZ"
identity_name = "alice"
identity_email = "alice@example.org"
identity_id = 42
identity_mnemonic = "mnemonic words that are secret"
`

func TestDataParityShards(t *testing.T) {
	cases := []struct {
		name   string
		text   string
		k, n   int
		errKey string
	}{
		{"old names", "data_shards = 3\nparity_shards = 2\n", 3, 5, ""},
		{"old names agree with new", "data_shards = 3\nparity_shards = 2\nminimal_shards = 3\nexpected_shards = 5\n", 3, 5, ""},
		{"data only", "data_shards = 4\nexpected_shards = 6\n", 4, 6, ""},
		{"parity with minimal", "minimal_shards = 4\nparity_shards = 1\n", 4, 5, ""},
		{"zero parity", "data_shards = 4\nparity_shards = 0\n", 4, 4, ""},
		{"data conflicts", "data_shards = 3\nminimal_shards = 4\n", 0, 0, "data_shards"},
		{"parity conflicts", "data_shards = 3\nparity_shards = 2\nexpected_shards = 6\n", 0, 0, "parity_shards"},
		{"parity alone", "parity_shards = 2\n", 0, 0, "parity_shards"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.text))
			if tc.errKey != "" {
				if !hasKey(err, tc.errKey, "") {
					t.Fatalf("Parse error = %v, want one on %s", err, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.K() != tc.k || c.ExpectedShards != tc.n || c.M() != tc.n-tc.k {
				t.Errorf("k, N, m = %d, %d, %d; want %d, %d, %d", c.K(), c.ExpectedShards, c.M(), tc.k, tc.n, tc.n-tc.k)
			}
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(out, []byte("data_shards")) || !bytes.Contains(out, []byte("minimal_shards")) {
				t.Errorf("Marshal does not write the current names:\n%s", out)
			}
		})
	}
}

func TestOldMetaShardKeys(t *testing.T) {
	text := "[meta]\ntype = \"zdb\"\n[meta.config]\ndata_shards = 2\nparity_shards = 2\nprefix = \"p\"\n"
	c := mustParse(t, text)
	if c.Meta.Config.Prefix != "p" {
		t.Errorf("prefix = %q", c.Meta.Config.Prefix)
	}
}

func TestDefaults(t *testing.T) {
	cleanEnv(t)
	c := mustParse(t, "minimal_shards = 4\nexpected_shards = 4\n[[groups]]\n[[groups.backends]]\naddress = \"h:1\"\n")
	checks := []struct {
		name      string
		got, want any
	}{
		{"compression", c.Compression.Algorithm, "zstd"},
		{"encryption", c.Encryption.Algorithm, "AES"},
		{"block_size", c.BlockSize, 4 * MiB},
		{"write_quorum with m = 0", c.WriteQuorum, 4},
		{"group name", c.Groups[0].Name, "group-0"},
		{"namespace", c.Groups[0].Backends[0].Namespace, "default"},
		{"meta_dir", c.MetaDir, "/tmp/zstor-test-meta"},
		{"meta type", c.Meta.Type, ""},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if c := mustParse(t, "minimal_shards = 4\nexpected_shards = 6\n"); c.WriteQuorum != 5 {
		t.Errorf("write_quorum = %d, want k+1 = 5", c.WriteQuorum)
	}
	if c := mustParse(t, "[compression]\nalgorithm = \"Snappy\"\n"); c.Compression.Algorithm != "snappy" {
		t.Errorf("compression = %q, want snappy", c.Compression.Algorithm)
	}
}

func TestDefaultMetaDir(t *testing.T) {
	t.Setenv(EnvMetaDir, "")
	t.Setenv("XDG_STATE_HOME", "/xdg/state")
	if got := DefaultMetaDir(); got != "/xdg/state/zstor" {
		t.Errorf("with XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/op")
	if got := DefaultMetaDir(); got != "/home/op/.local/state/zstor" {
		t.Errorf("with HOME: %q", got)
	}
	t.Setenv(EnvMetaDir, "/srv/zstor")
	if got := DefaultMetaDir(); got != "/srv/zstor" {
		t.Errorf("with %s: %q", EnvMetaDir, got)
	}
}

func TestRelativePaths(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(validText, `key = "`+testKey+`"`, `key_file = "master.key"`, 1)
	text = strings.Replace(text, `meta_dir = "/var/lib/zstor"`, "meta_dir = \"state\"\nsocket = \"run/zstor.sock\"\nroot = \"/abs/root\"", 1)
	path := filepath.Join(dir, "zstor.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range [][2]string{
		{c.MetaDir, filepath.Join(dir, "state")},
		{c.Socket, filepath.Join(dir, "run/zstor.sock")},
		{c.Root, "/abs/root"},
		{c.Encryption.KeyFile, filepath.Join(dir, "master.key")},
	} {
		if ck[0] != ck[1] {
			t.Errorf("path %q, want %q", ck[0], ck[1])
		}
	}
	k, err := c.MasterKey()
	if err != nil || k != mustHex(t, testKey) {
		t.Errorf("MasterKey from key_file = %x, %v", k, err)
	}
	// Parse leaves relative paths alone.
	if c := mustParse(t, text); c.MetaDir != "state" {
		t.Errorf("Parse resolved meta_dir to %q", c.MetaDir)
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.toml")
	os.WriteFile(path, []byte("minimal_shards = 0\nexpected_shards = 0\n"), 0o600)
	_, err := Load(path)
	if err == nil {
		t.Fatal("no error")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, path+": ") {
			t.Errorf("line %q does not name the file", line)
		}
	}
	os.WriteFile(path, []byte("typo = 1\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+": line 1: typo: unknown key") {
		t.Errorf("Load = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("Load of a missing file = %v", err)
	}
}
