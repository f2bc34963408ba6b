package config

import (
	"os"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, and what it accepts survives Marshal and
// Parse unchanged. Validate and String must not panic either. The seed
// corpus is in testdata/fuzz/FuzzParse and runs with every go test.
func FuzzParse(f *testing.F) {
	for _, p := range []string{examplePath, "testdata/0stor_example_full.toml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(validText))
	f.Add([]byte(legacyTop + validText))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.String()
		_ = c.GoString()
		if c.Encryption.KeyFile == "" && c.Meta.Config.Encryption.KeyFile == "" {
			_ = c.Validate() // reads no file
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed config: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal()) = %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip differs:\n got %#v\nwant %#v\n%s", back, c, out)
		}
	})
}
