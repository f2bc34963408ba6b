package s3_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireTool finds a command-line S3 client. CI installs them (.ci/run):
// there a missing one fails the test instead of skipping it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	// The Debian packages' binaries first: a version manager's shim on
	// PATH (pyenv's aws) costs seconds per call.
	if p := "/usr/bin/" + name; fileExists(p) {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI must install it: see .ci/run)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// makeTree writes a directory tree of small and medium files with
// awkward names, returning its root.
func makeTree(t *testing.T, seed uint64) string {
	t.Helper()
	root := t.TempDir()
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	names := []string{"a.txt", "dir one/b c.txt", "dir one/sub/ü-nïcode.bin", "d/e/f/g.dat", "plus+and=equals.txt", "empty.txt"}
	for i, n := range names {
		size := rnd.IntN(200 << 10)
		if n == "empty.txt" {
			size = 0
		}
		if i == 2 {
			size = 3<<20 + 17
		}
		writeRandom(t, filepath.Join(root, n), rnd, size)
	}
	return root
}

func writeRandom(t *testing.T, path string, rnd *rand.Rand, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameTree fails unless every file under a is byte-identical under b and
// b has no other files.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	sum := func(root string) map[string][32]byte {
		m := map[string][32]byte{}
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			m[rel] = sha256.Sum256(data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ma, mb := sum(a), sum(b)
	for k, v := range ma {
		if w, ok := mb[k]; !ok || w != v {
			t.Errorf("%s: missing or different in the copy", k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			t.Errorf("%s: in the copy only", k)
		}
	}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	// The tools get only the settings given: inherited AWS_* / RCLONE_*
	// variables (a CA bundle, a profile) would change what they do.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "RCLONE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v (%s)\n%s", filepath.Base(name), strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond), out.String())
	}
	t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out.String()
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da, db) {
		t.Fatalf("%s and %s differ (%d and %d bytes)", a, b, len(da), len(db))
	}
}

// TestAWSCLI: the AWS CLI syncs a tree, uploads a large file in parts and
// reads ranges, with one backend killed, then reads with two killed.
func TestAWSCLI(t *testing.T) {
	aws := requireTool(t, "aws")
	gw := startGateway(t, gatewayOptions{})
	home := t.TempDir()
	env := []string{"HOME=" + home, "AWS_ACCESS_KEY_ID=" + testAccess, "AWS_SECRET_ACCESS_KEY=" + testSecret,
		"AWS_DEFAULT_REGION=" + testRegion, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}
	ep := []string{"--endpoint-url", gw.Endpoint}
	cli := func(args ...string) string { return run(t, env, aws, append(ep, args...)...) }
	cli("s3", "mb", "s3://tools")
	tree := makeTree(t, 1)
	gw.Cluster.Kill(0)
	cli("s3", "sync", tree, "s3://tools/tree/")
	big := filepath.Join(t.TempDir(), "big.bin")
	writeRandom(t, big, rand.New(rand.NewPCG(3, 4)), 21<<20+5)
	cli("s3", "cp", big, "s3://tools/big.bin") // multipart: above the CLI's 8 MiB threshold
	out := cli("s3api", "head-object", "--bucket", "tools", "--key", "big.bin")
	if !strings.Contains(out, `-3\"`) && !strings.Contains(out, "-3") {
		t.Errorf("big.bin was not stored in parts: %s", out)
	}
	gw.Cluster.Kill(1) // 4 of 6 left: reads still work
	back := t.TempDir()
	cli("s3", "sync", "s3://tools/tree/", back)
	sameTree(t, tree, back)
	got := filepath.Join(t.TempDir(), "big.bin")
	cli("s3", "cp", "s3://tools/big.bin", got)
	sameFile(t, big, got)
	part := filepath.Join(t.TempDir(), "range")
	cli("s3api", "get-object", "--bucket", "tools", "--key", "big.bin", "--range", "bytes=8388600-8388615", part)
	data, _ := os.ReadFile(big)
	sameBytes(t, part, data[8388600:8388616])
	out = cli("s3", "ls", "--recursive", "s3://tools/")
	for _, k := range []string{"tree/dir one/b c.txt", "tree/plus+and=equals.txt", "big.bin"} {
		if !strings.Contains(out, k) {
			t.Errorf("ls lacks %q:\n%s", k, out)
		}
	}
}

func sameBytes(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes %x, want %d bytes %x", path, len(got), got[:min(len(got), 16)], len(want), want[:min(len(want), 16)])
	}
}

// TestS3cmd: s3cmd puts, syncs and gets, in parts, with a backend killed.
func TestS3cmd(t *testing.T) {
	s3cmd := requireTool(t, "s3cmd")
	gw := startGateway(t, gatewayOptions{})
	cfg := filepath.Join(t.TempDir(), "s3cfg")
	conf := fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = False\nsignature_v2 = False\nbucket_location = %s\n",
		testAccess, testSecret, gw.Addr, gw.Addr, testRegion)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := func(args ...string) string {
		return run(t, []string{"HOME=" + t.TempDir()}, s3cmd, append([]string{"-c", cfg}, args...)...)
	}
	cmd("mb", "s3://s3cmd")
	tree := makeTree(t, 5)
	cmd("sync", tree+"/", "s3://s3cmd/tree/")
	big := filepath.Join(t.TempDir(), "big.bin")
	writeRandom(t, big, rand.New(rand.NewPCG(6, 7)), 12<<20+3)
	gw.Cluster.Kill(2)
	cmd("put", "--multipart-chunk-size-mb=5", big, "s3://s3cmd/big.bin")
	back := t.TempDir()
	cmd("sync", "s3://s3cmd/tree/", back+"/")
	sameTree(t, tree, back)
	got := filepath.Join(t.TempDir(), "got.bin")
	cmd("get", "s3://s3cmd/big.bin", got)
	sameFile(t, big, got)
	out := cmd("ls", "s3://s3cmd/")
	if !strings.Contains(out, "s3://s3cmd/big.bin") || !strings.Contains(out, "s3://s3cmd/tree/") {
		t.Errorf("ls:\n%s", out)
	}
	cmd("del", "--recursive", "--force", "s3://s3cmd/")
	cmd("rb", "s3://s3cmd")
}

// TestRclone: rclone syncs and checks a tree, uploads in chunks and reads
// a range, with a backend killed.
func TestRclone(t *testing.T) {
	rclone := requireTool(t, "rclone")
	gw := startGateway(t, gatewayOptions{})
	env := []string{"HOME=" + t.TempDir(), "RCLONE_CONFIG=/dev/null",
		"RCLONE_CONFIG_ZS_TYPE=s3", "RCLONE_CONFIG_ZS_PROVIDER=Other", "RCLONE_CONFIG_ZS_ACCESS_KEY_ID=" + testAccess,
		"RCLONE_CONFIG_ZS_SECRET_ACCESS_KEY=" + testSecret, "RCLONE_CONFIG_ZS_ENDPOINT=" + gw.Endpoint,
		"RCLONE_CONFIG_ZS_REGION=" + testRegion, "RCLONE_CONFIG_ZS_FORCE_PATH_STYLE=true"}
	rc := func(args ...string) string { return run(t, env, rclone, args...) }
	rc("mkdir", "zs:rclone")
	tree := makeTree(t, 9)
	gw.Cluster.Kill(3)
	rc("sync", tree, "zs:rclone/tree")
	rc("check", tree, "zs:rclone/tree")
	big := filepath.Join(t.TempDir(), "big.bin")
	writeRandom(t, big, rand.New(rand.NewPCG(10, 11)), 16<<20+9)
	rc("copyto", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", big, "zs:rclone/big.bin")
	out := rc("cat", "--offset", "5242870", "--count", "20", "zs:rclone/big.bin")
	data, _ := os.ReadFile(big)
	if out != string(data[5242870:5242890]) {
		t.Errorf("ranged read: got %x, want %x", out, data[5242870:5242890])
	}
	back := t.TempDir()
	rc("sync", "zs:rclone/tree", back)
	sameTree(t, tree, back)
	got := filepath.Join(t.TempDir(), "got.bin")
	rc("copyto", "zs:rclone/big.bin", got)
	sameFile(t, big, got)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
