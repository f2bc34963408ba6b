package config

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) [32]byte {
	t.Helper()
	var k [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad test key %q", s)
	}
	copy(k[:], b)
	return k
}

func TestMasterKeyEnvOverride(t *testing.T) {
	cleanEnv(t)
	c := mustParse(t, validText)
	envKey := strings.Repeat("22", 32)
	cases := []struct {
		name   string
		env    string
		mutate func(*Config)
		want   string // hex, or "" for an error
		errKey string
	}{
		{"file key", "", nil, testKey, ""},
		{"env overrides key", envKey, nil, envKey, ""},
		{"env upper case hex", strings.ToUpper(testKey), func(c *Config) { c.Encryption.Key = "" }, testKey, ""},
		{"env without key in file", envKey, func(c *Config) { c.Encryption.Key = "" }, envKey, ""},
		{"env overrides key_file", envKey, func(c *Config) { c.Encryption.Key, c.Encryption.KeyFile = "", "/nonexistent" }, envKey, ""},
		{"bad env", "abcd", nil, "", "$ZSTOR_KEY"},
		{"no key anywhere", "", func(c *Config) { c.Encryption.Key = "" }, "", "encryption.key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvKey, tc.env)
			cc := *c
			if tc.mutate != nil {
				tc.mutate(&cc)
			}
			k, err := cc.MasterKey()
			if tc.errKey != "" {
				if !hasKey(err, tc.errKey, "") {
					t.Fatalf("MasterKey error = %v, want one on %s", err, tc.errKey)
				}
				if verr := cc.Validate(); !hasKey(verr, tc.errKey, "") {
					t.Errorf("Validate = %v, want the key problem on %s", verr, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k != mustHex(t, tc.want) {
				t.Errorf("MasterKey = %x, want %s", k, tc.want)
			}
			if err := cc.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	raw := mustHex(t, testKey)
	cases := []struct {
		name    string
		content []byte
		ok      bool
	}{
		{"hex", []byte(testKey), true},
		{"hex with newline", []byte("  " + testKey + "\n"), true},
		{"raw bytes", raw[:], true},
		{"short", []byte("abcd"), false},
		{"not hex", []byte(strings.Repeat("zz", 32)), false},
		{"too large", make([]byte, 10000), false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "k"+string(rune('a'+i)))
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			c := mustParse(t, validText)
			c.Encryption = Encryption{Algorithm: "AES", KeyFile: path}
			k, err := c.MasterKey()
			if !tc.ok {
				if !hasKey(err, "encryption.key_file", "") {
					t.Errorf("MasterKey error = %v, want one on encryption.key_file", err)
				}
				return
			}
			if err != nil || k != raw {
				t.Errorf("MasterKey = %x, %v", k, err)
			}
		})
	}
	c := mustParse(t, validText)
	c.Encryption = Encryption{Algorithm: "AES", KeyFile: dir}
	if _, err := c.MasterKey(); !hasKey(err, "encryption.key_file", "not a regular file") {
		t.Errorf("key_file = a directory: %v", err)
	}
}

func TestMetaKey(t *testing.T) {
	cleanEnv(t)
	c := mustParse(t, validText)
	master, err := c.MasterKey()
	if err != nil {
		t.Fatal(err)
	}
	derived, err := c.MetaKey()
	if err != nil {
		t.Fatal(err)
	}
	if derived == master || derived == [32]byte{} {
		t.Error("derived meta key equals the master key or is zero")
	}
	again, _ := c.MetaKey()
	if again != derived {
		t.Error("derived meta key is not deterministic")
	}
	// Fixed vector: HKDF-SHA256(ikm = master, salt = none, info = MetaKeyContext).
	// A change here breaks every existing deployment's metadata copies.
	if got, want := hex.EncodeToString(derived[:]), metaKeyVector; got != want {
		t.Errorf("derived meta key = %s, want %s", got, want)
	}
	t.Setenv(EnvKey, strings.Repeat("22", 32))
	other, _ := c.MetaKey()
	if other == derived {
		t.Error("meta key does not follow the master key")
	}
	c.Meta.Config.Encryption = Encryption{Algorithm: "AES", Key: strings.Repeat("33", 32)}
	explicit, err := c.MetaKey()
	if err != nil || explicit != mustHex(t, strings.Repeat("33", 32)) {
		t.Errorf("explicit meta key = %x, %v", explicit, err)
	}
}

// metaKeyVector was computed independently (Python hmac/hashlib, RFC 5869)
// for the master key testKey.
const metaKeyVector = "ee70d70ecd234afd6a080d6e65f46054359aef5c9a5f94cc2639b4f9534f6b00"
