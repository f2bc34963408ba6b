package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMarshalRoundTrip(t *testing.T) {
	cleanEnv(t)
	example, err := ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	full := mustParse(t, legacyTop+"block_size = \"512KiB\"\n"+validText+`
[placement]
pin = ["country=BE"]
exclude = ["group=b", "disk=hdd"]
[repair]
terminal_after = "1h"
idle_rate = "256MiB"
audit_interval = "0"
workers = 4
[meta]
type = "zdb"
[meta.config]
prefix = "pfx"
[meta.config.encryption]
key_file = "/etc/zstor/meta.key"
[[meta.config.backends]]
address = "[::1]:9900"
namespace = "meta"
password = "p"
labels = { role = "meta" }
`)
	local, err := Local(t.TempDir(), []string{"127.0.0.1:9901", "127.0.0.1:9902", "127.0.0.1:9903"}, 3, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Config{"example": example, "full": full, "local": local} {
		t.Run(name, func(t *testing.T) {
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) {
				t.Errorf("round trip differs:\n got %#v\nwant %#v\n%s", back, c, out)
			}
			again, _ := back.Marshal()
			if string(again) != string(out) {
				t.Errorf("Marshal is not stable:\n%s\n---\n%s", out, again)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	c, err := Local(dir, []string{"127.0.0.1:9901", "127.0.0.1:9902", "127.0.0.1:9903", "127.0.0.1:9904"}, 2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "zstor.toml")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("Load(WriteFile(c)) = %#v, want %#v", back, c)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.toml"), c); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}
