package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const operatorDoc = "../../docs/configuration.md"

// TestDocsExample: the example of docs/configuration.md loads and validates.
func TestDocsExample(t *testing.T) {
	cleanEnv(t)
	t.Setenv(EnvKey, testKey) // the example's key_file does not exist here
	doc, err := os.ReadFile(operatorDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```toml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no TOML example in the operators' doc")
	}
	c := mustParse(t, example)
	if err := c.Validate(); err != nil {
		t.Fatalf("the documented example does not validate: %v", err)
	}
	if c.K() != 4 || c.ExpectedShards != 6 || len(c.Groups) != 3 {
		t.Errorf("example read as k=%d N=%d with %d groups", c.K(), c.ExpectedShards, len(c.Groups))
	}
}

// TestDocsNameEveryKey: every key the decoder knows is in doc.go and in
// docs/configuration.md.
func TestDocsNameEveryKey(t *testing.T) {
	op, err := os.ReadFile(operatorDoc)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var keys []string
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			keys = append(keys, name)
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(rawConfig{}))
	if len(keys) < 30 {
		t.Fatalf("found only %d keys", len(keys))
	}
	for _, k := range keys {
		if !strings.Contains(string(op), k) {
			t.Errorf("docs/configuration.md does not mention %q", k)
		}
		if !strings.Contains(string(pkg), k) {
			t.Errorf("doc.go does not mention %q", k)
		}
	}
}
