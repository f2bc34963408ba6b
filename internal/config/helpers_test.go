package config

import (
	"strings"
	"testing"
)

// testKey is the master key of the test configurations.
const testKey = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

// validText is a small configuration that validates.
const validText = `
minimal_shards = 2
expected_shards = 3
meta_dir = "/var/lib/zstor"

[encryption]
algorithm = "AES"
key = "` + testKey + `"

[[groups]]
name = "a"
labels = { country = "BE", region = "eu" }
[[groups.backends]]
address = "10.0.0.1:9900"
password = "hunter2-s3cret"
[[groups.backends]]
address = "zdb-2.example.org:9900"
namespace = "ns2"

[[groups]]
name = "b"
[groups.labels]
country = "NL"
lat = 52.37
[[groups.backends]]
address = "[2001:db8::3]:9900"
labels = { disk = "ssd" }
[[groups.backends]]
address = "/run/zdb.sock"
`

// cleanEnv makes the environment of a test predictable: no $ZSTOR_KEY, and
// $ZSTOR_META_DIR set.
func cleanEnv(t *testing.T) {
	t.Helper()
	t.Setenv(EnvKey, "")
	t.Setenv(EnvMetaDir, "/tmp/zstor-test-meta")
}

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// fieldErrors flattens an error (joined, wrapped) into its FieldErrors.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// hasKey reports whether one of the FieldErrors in err names key (exactly)
// and its message contains msg.
func hasKey(err error, key, msg string) bool {
	for _, fe := range fieldErrors(err) {
		if fe.Key == key && strings.Contains(fe.Msg, msg) {
			return true
		}
	}
	return false
}
