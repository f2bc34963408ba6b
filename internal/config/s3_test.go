package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// s3Full sets every key of [s3] to a value other than its default.
const s3Full = `
[s3]
listen = "0.0.0.0:9100"
access_key = "AKIDEXAMPLE"
secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
region = "eu-west-1"
upload_expiry = "2h"
anonymous_read = true
`

// s3Secret is the secret key of s3Full.
const s3Secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

// cleanS3Env unsets the S3 credential variables for the test.
func cleanS3Env(t *testing.T) {
	t.Helper()
	t.Setenv(EnvS3AccessKey, "")
	t.Setenv(EnvS3SecretKey, "")
}

func TestS3Parse(t *testing.T) {
	cleanEnv(t)
	cleanS3Env(t)
	def := S3{Region: DefaultS3Region, UploadExpiry: DefaultS3UploadExpiry}
	cases := []struct {
		name string
		text string
		want S3
	}{
		{"absent", "", def},
		{"empty table", "[s3]\n", def},
		{"every key", s3Full, S3{
			Listen: "0.0.0.0:9100", AccessKey: "AKIDEXAMPLE", SecretKey: s3Secret,
			Region: "eu-west-1", UploadExpiry: 2 * time.Hour, AnonymousRead: true,
		}},
		{"defaults written out", "[s3]\nregion = \"us-east-1\"\nupload_expiry = \"24h\"\nanonymous_read = false\nlisten = \"\"\n", def},
		{"upload_expiry 0 is the default", "[s3]\nupload_expiry = 0\n", def},
		{"inline table", "s3 = { listen = \"[::1]:9000\", region = \"local\" }\n", S3{Listen: "[::1]:9000", Region: "local", UploadExpiry: DefaultS3UploadExpiry}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := validText + tc.text
			if strings.HasPrefix(tc.text, "s3 =") {
				text = tc.text + validText // a top-level key
			}
			c := mustParse(t, text)
			if c.S3 != tc.want {
				t.Errorf("S3 = %#v\nwant %#v", c.S3, tc.want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	// A Config built in code gets the defaults from EnsureDefaults.
	c := Config{}
	c.EnsureDefaults()
	if c.S3 != def {
		t.Errorf("EnsureDefaults: S3 = %#v", c.S3)
	}
}

func TestS3ParseErrors(t *testing.T) {
	for _, tc := range []struct {
		text string
		key  string
		msg  string
	}{
		{"[s3]\nupload_expiry = \"1 day\"\n", "s3.upload_expiry", "not a duration"},
		{"[s3]\nupload_expiry = \"-1h\"\n", "s3.upload_expiry", "negative"},
		{"[s3]\nsecret = \"abcdefgh\"\n", "s3.secret", "unknown key"},
	} {
		_, err := Parse([]byte(tc.text))
		fes := fieldErrors(err)
		if !errors.Is(err, ErrInvalid) || len(fes) != 1 || fes[0].Key != tc.key || !strings.Contains(fes[0].Msg, tc.msg) || fes[0].Line != 2 {
			t.Errorf("Parse(%q) = %v\nwant one problem on %q, line 2, mentioning %q", tc.text, err, tc.key, tc.msg)
		}
	}
	// Wrong types name the key and the line too.
	for _, text := range []string{"[s3]\nanonymous_read = \"yes\"\n", "[s3]\nlisten = 9000\n"} {
		_, err := Parse([]byte(text))
		key, _, _ := strings.Cut(strings.TrimPrefix(text, "[s3]\n"), " ")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "s3."+key) {
			t.Errorf("Parse(%q) = %v", text, err)
		}
	}
}

func TestS3Validate(t *testing.T) {
	cleanEnv(t)
	cleanS3Env(t)
	cases := []struct {
		name   string
		mutate func(s *S3)
		key    string
		msg    string
	}{
		{"access key alone", func(s *S3) { s.SecretKey = "" }, "s3.access_key", "without a secret key"},
		{"secret key alone", func(s *S3) { s.AccessKey = "" }, "s3.secret_key", "without an access key"},
		{"short secret", func(s *S3) { s.SecretKey = "1234567" }, "s3.secret_key", "at least 8"},
		{"secret with a newline", func(s *S3) { s.SecretKey = "12345678\n" }, "s3.secret_key", "control character"},
		{"long secret", func(s *S3) { s.SecretKey = strings.Repeat("x", 257) }, "s3.secret_key", "too long"},
		{"short access key", func(s *S3) { s.AccessKey = "ab" }, "s3.access_key", "3 to 128"},
		{"access key with a slash", func(s *S3) { s.AccessKey = "a/b" }, "s3.access_key", "only letters"},
		{"listen without port", func(s *S3) { s.Listen = "127.0.0.1" }, "s3.listen", "not host:port"},
		{"listen port", func(s *S3) { s.Listen = "127.0.0.1:99999" }, "s3.listen", "port"},
		{"listen host", func(s *S3) { s.Listen = "a b:9000" }, "s3.listen", "not a host name"},
		{"listen bare IPv6", func(s *S3) { s.Listen = "::1:9000" }, "s3.listen", "not host:port"},
		{"region", func(s *S3) { s.Region = "eu/west" }, "s3.region", "only letters"},
		{"empty region", func(s *S3) { s.Region = "" }, "s3.region", "empty"},
		{"upload_expiry", func(s *S3) { s.UploadExpiry = time.Second }, "s3.upload_expiry", "minimum of 1m"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, validText+s3Full)
			tc.mutate(&c.S3)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) || !hasKey(err, tc.key, tc.msg) {
				t.Errorf("Validate = %v\nwant a problem on %q mentioning %q", err, tc.key, tc.msg)
			}
			if err != nil && strings.Contains(err.Error(), c.S3.SecretKey) && c.S3.SecretKey != "" {
				t.Errorf("the error shows the secret key: %v", err)
			}
		})
	}
	for _, listen := range []string{"127.0.0.1:9000", ":9000", "[::1]:9000", "localhost:0", "s3.example.org:443"} {
		c := mustParse(t, validText+s3Full)
		c.S3.Listen = listen
		if err := c.Validate(); err != nil {
			t.Errorf("listen %q: %v", listen, err)
		}
	}
	// No credentials at all is valid: whether the gateway may run without
	// is for the command that starts it.
	c := mustParse(t, validText+"[s3]\nlisten = \"127.0.0.1:9000\"\n")
	if err := c.Validate(); err != nil {
		t.Errorf("[s3] without credentials: %v", err)
	}
}

func TestS3CredentialsEnv(t *testing.T) {
	cleanEnv(t)
	cleanS3Env(t)
	c := mustParse(t, validText+s3Full)
	if ak, sk, err := c.S3Credentials(); err != nil || ak != "AKIDEXAMPLE" || sk != s3Secret {
		t.Errorf("from the file: %q, %v", ak, err)
	}
	t.Setenv(EnvS3AccessKey, "ENVACCESS")
	if ak, sk, err := c.S3Credentials(); err != nil || ak != "ENVACCESS" || sk != s3Secret {
		t.Errorf("access key from the environment: %q, %v", ak, err)
	}
	t.Setenv(EnvS3SecretKey, "env-secret-key")
	if ak, sk, err := c.S3Credentials(); err != nil || ak != "ENVACCESS" || sk != "env-secret-key" {
		t.Errorf("both from the environment: %q, %v", ak, err)
	}
	// The environment completes a file with only the access key.
	c = mustParse(t, validText+"[s3]\naccess_key = \"FILEKEY\"\n")
	if ak, sk, err := c.S3Credentials(); err != nil || ak != "ENVACCESS" || sk != "env-secret-key" {
		t.Errorf("file access key, both variables: %q, %v", ak, err)
	}
	t.Setenv(EnvS3AccessKey, "")
	if ak, sk, err := c.S3Credentials(); err != nil || ak != "FILEKEY" || sk != "env-secret-key" {
		t.Errorf("file access key, secret from the environment: %q, %v", ak, err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// A bad variable is named as such, without its value.
	t.Setenv(EnvS3SecretKey, "xyzzy")
	if _, _, err := c.S3Credentials(); !hasKey(err, "$"+EnvS3SecretKey, "too short") || strings.Contains(err.Error(), "xyzzy") {
		t.Errorf("short secret in the environment: %v", err)
	}
	t.Setenv(EnvS3SecretKey, "")
	t.Setenv(EnvS3AccessKey, "ENVACCESS")
	c = mustParse(t, validText)
	if err := c.Validate(); !hasKey(err, "$"+EnvS3AccessKey, "without a secret key") {
		t.Errorf("access key variable alone: %v", err)
	}
	// None anywhere: no credentials, no error.
	t.Setenv(EnvS3AccessKey, "")
	if ak, sk, err := c.S3Credentials(); ak != "" || sk != "" || err != nil {
		t.Errorf("no credentials: %q, %q, %v", ak, sk, err)
	}
}

// TestS3LoadLines: Load names the line of an [s3] key that does not
// validate, like the errors of Parse.
func TestS3LoadLines(t *testing.T) {
	cleanEnv(t)
	cleanS3Env(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "zstor.toml")
	base := strings.TrimLeft(validText, "\n")
	n := strings.Count(base, "\n")
	for _, tc := range []struct {
		s3   string
		line int
		want string
	}{
		{"[s3]\naccess_key = \"AKID\"\n", n + 2, "s3.access_key: set without a secret key"},
		{"[s3]\nlisten = \"127.0.0.1:9000\"\n\nsecret_key = \"abcdefghij\"\n", n + 4, "s3.secret_key: set without an access key"},
		{"[s3]\naccess_key = \"AKID\"\nsecret_key = \"abc\"\n", n + 3, "s3.secret_key: too short"},
		{"[s3]\nlisten = \"9000\"\n", n + 2, "s3.listen: \"9000\" is not host:port"},
	} {
		if err := os.WriteFile(path, []byte(base+tc.s3), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		want := fmt.Sprintf("%s: line %d: %s", path, tc.line, tc.want)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load with %q = %v\nwant %q", tc.s3, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "abcdefghij") {
			t.Errorf("the error shows the secret key: %v", err)
		}
	}
	// Other problems get their line too; keys with an index do not.
	if err := os.WriteFile(path, []byte("minimal_shards = 4\nexpected_shards = 2\n[compression]\nalgorithm = \"lz5\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	for _, want := range []string{"line 2: expected_shards: 2 is less", "line 4: compression.algorithm: unknown", ": groups: no groups"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load = %v\nwant %q", err, want)
		}
	}
}

func TestS3Marshal(t *testing.T) {
	cleanEnv(t)
	cleanS3Env(t)
	cases := []struct {
		name    string
		text    string
		written []string // the [s3] lines; nil: no [s3]
	}{
		{"absent", "", nil},
		{"defaults", "[s3]\nregion = \"us-east-1\"\nupload_expiry = \"24h\"\n", nil},
		{"every key", s3Full, []string{
			`listen = "0.0.0.0:9100"`, `access_key = "AKIDEXAMPLE"`, `secret_key = "` + s3Secret + `"`,
			`region = "eu-west-1"`, `upload_expiry = "2h"`, "anonymous_read = true",
		}},
		{"listen only", "[s3]\nlisten = \"127.0.0.1:9000\"\n", []string{`listen = "127.0.0.1:9000"`}},
		{"odd expiry", "[s3]\nupload_expiry = \"90m\"\n", []string{`upload_expiry = "1h30m"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, validText+tc.text)
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) {
				t.Errorf("round trip differs: S3 %#v, want %#v\n%s", back.S3, c.S3, out)
			}
			_, section, found := bytes.Cut(out, []byte("\n[s3]\n"))
			if tc.written == nil {
				if found {
					t.Errorf("Marshal writes [s3] with the defaults:\n%s", out)
				}
				return
			}
			if !found {
				t.Fatalf("Marshal writes no [s3]:\n%s", out)
			}
			section, _, _ = bytes.Cut(section, []byte("\n\n"))
			lines := strings.Split(strings.TrimSpace(string(section)), "\n")
			if !reflect.DeepEqual(lines, tc.written) {
				t.Errorf("[s3] written as %q, want %q", lines, tc.written)
			}
		})
	}
	// Credentials from the environment are not written.
	t.Setenv(EnvS3AccessKey, "ENVACCESS")
	t.Setenv(EnvS3SecretKey, "env-secret-key")
	c := mustParse(t, validText+"[s3]\nlisten = \"127.0.0.1:9000\"\n")
	if out, _ := c.Marshal(); bytes.Contains(out, []byte("ENVACCESS")) || bytes.Contains(out, []byte("env-secret-key")) {
		t.Errorf("Marshal writes the credentials of the environment:\n%s", out)
	}
}

// TestS3SecretNeverPrinted: the S3 secret key is redacted in every printed
// form, the access key is not.
func TestS3SecretNeverPrinted(t *testing.T) {
	cleanEnv(t)
	cleanS3Env(t)
	c := mustParse(t, validText+s3Full)
	values := map[string]any{
		"config": c, "config value": *c, "s3": c.S3, "s3 pointer": &c.S3,
		"struct with s3": struct{ S S3 }{c.S3}, "slice": []S3{c.S3},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.200v"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, s3Secret) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", s3Secret)) {
				t.Errorf("fmt.Sprintf(%q, %s) shows the secret key: %s", verb, name, out)
			}
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json of %s: %v", name, err)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "v", v)
		if bytes.Contains(out, []byte(s3Secret)) || bytes.Contains(buf.Bytes(), []byte(s3Secret)) {
			t.Errorf("JSON or slog of %s shows the secret key", name)
		}
	}
	want := "s3: listen=0.0.0.0:9100 access_key=AKIDEXAMPLE secret_key=*** region=eu-west-1 upload_expiry=2h anonymous_read=true"
	if s := c.String(); !slices.Contains(strings.Split(s, "\n"), want) {
		t.Errorf("String() has no %q:\n%s", want, s)
	}
	if s := fmt.Sprintf("%#v", c.S3); !strings.Contains(s, `config.S3{Listen:"0.0.0.0:9100", AccessKey:"AKIDEXAMPLE", SecretKey:"***"`) {
		t.Errorf("%%#v of S3 = %s", s)
	}
	if s := mustParse(t, validText).String(); !strings.Contains(s, "\ns3: listen=none region=us-east-1 upload_expiry=24h anonymous_read=false") {
		t.Errorf("String() without [s3]:\n%s", s)
	}
}

func TestNewS3Credentials(t *testing.T) {
	cleanEnv(t)
	cleanS3Env(t)
	seen := map[string]bool{}
	for range 50 {
		ak, sk, err := NewS3Credentials()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[A-Z0-9]{20}$`).MatchString(ak) {
			t.Errorf("access key %q", ak)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(sk) {
			t.Errorf("secret key of %d characters, not base64", len(sk))
		}
		if seen[ak] || seen[sk] {
			t.Fatal("the same credentials twice")
		}
		seen[ak], seen[sk] = true, true
		c := mustParse(t, validText)
		c.S3.AccessKey, c.S3.SecretKey = ak, sk
		if err := c.Validate(); err != nil {
			t.Errorf("generated credentials do not validate: %v", err)
		}
	}
	// Local writes them, with the default address.
	c, err := Local(t.TempDir(), addrs(3), 3, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.S3.Listen != DefaultS3Listen || len(c.S3.AccessKey) != 20 || len(c.S3.SecretKey) != 40 {
		t.Errorf("Local: S3 = %v", c.S3)
	}
}
