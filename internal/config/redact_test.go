package config

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsNeverPrinted: no fmt verb on any part of a Config shows the
// master key, the metadata key or a password.
func TestSecretsNeverPrinted(t *testing.T) {
	cleanEnv(t)
	metaKey := strings.Repeat("5e", 32)
	c := mustParse(t, validText+`
[meta]
type = "zdb"
[meta.config]
prefix = "p"
encryption = { algorithm = "AES", key = "`+metaKey+`" }
[[meta.config.backends]]
address = "10.0.0.9:9900"
password = "meta-pa55word"
`)
	example, err := ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{testKey, metaKey, "hunter2-s3cret", "meta-pa55word", "supersecretpass",
		strings.Repeat("01", 32)}
	var hexed []string
	for _, s := range secrets {
		hexed = append(hexed, hex.EncodeToString([]byte(s)))
	}
	values := map[string]any{
		"config":              c,
		"config value":        *c,
		"example":             example,
		"example value":       *example,
		"encryption":          c.Encryption,
		"encryption pointer":  &c.Encryption,
		"meta":                c.Meta,
		"meta config":         c.Meta.Config,
		"meta encryption":     c.Meta.Config.Encryption,
		"groups":              c.Groups,
		"group":               c.Groups[0],
		"backend":             c.Groups[0].Backends[0],
		"backend pointer":     &c.Groups[0].Backends[0],
		"backends":            c.Groups[0].Backends,
		"example meta":        example.Meta.Config.Backends,
		"map of backends":     map[string]Backend{"x": c.Groups[0].Backends[0]},
		"struct with config":  struct{ C Config }{*c},
		"slice of encryption": []Encryption{c.Encryption},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.200v"}
	for name, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			for i, s := range secrets {
				if strings.Contains(out, s) || strings.Contains(strings.ToLower(out), hexed[i]) {
					t.Errorf("fmt.Sprintf(%q, %s) shows a secret (%s...): %s", verb, name, s[:6], out)
				}
			}
		}
	}
	for _, s := range []string{c.String(), example.String(), c.GoString(), c.Encryption.String(), c.Groups[0].Backends[0].String()} {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("String shows %s...: %s", secret[:6], s)
			}
		}
	}
	for name, v := range values {
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json of %s: %v", name, err)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "v", v)
		for _, s := range secrets {
			if bytes.Contains(out, []byte(s)) || bytes.Contains(buf.Bytes(), []byte(s)) {
				t.Errorf("JSON or slog of %s shows a secret (%s...)", name, s[:6])
			}
		}
	}
	// The redacted forms still say what is there.
	if s := fmt.Sprintf("%v", c.Groups[0].Backends[0]); s != "10.0.0.1:9900/default password=***" {
		t.Errorf("%%v of a backend = %q", s)
	}
	if s := fmt.Sprintf("%#v", c.Groups[0].Backends[0]); !strings.Contains(s, `config.Backend{Address:"10.0.0.1:9900"`) || !strings.Contains(s, `Password:"***"`) {
		t.Errorf("%%#v of a backend = %q", s)
	}
	if s := fmt.Sprintf("%#v", c); !strings.HasPrefix(s, "config.Config{MinimalShards:2,") {
		t.Errorf("%%#v of a config = %.80q", s)
	}
	if s := c.String(); !strings.Contains(s, "key=***") || !strings.Contains(s, "group a {country=BE, region=eu}: 2 backends") {
		t.Errorf("String():\n%s", s)
	}
}

// TestErrorsDoNotShowKeys: a malformed key is reported without its value.
func TestErrorsDoNotShowKeys(t *testing.T) {
	cleanEnv(t)
	bad := "topsecret" + strings.Repeat("x", 55)
	c := mustParse(t, validText)
	c.Encryption.Key = bad
	c.Meta = Meta{Type: "zdb", Config: MetaConfig{Encryption: Encryption{Key: bad + "y"}, Backends: []Backend{{Address: "h:1"}}}}
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("Validate = %v", err)
	}
	t.Setenv(EnvKey, bad)
	if _, err := c.MasterKey(); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("MasterKey = %v", err)
	}
}
