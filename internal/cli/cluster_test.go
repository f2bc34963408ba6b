package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/testcluster"
)

// zeroStorConfig is a configuration in 0-stor_v2's own format and keys
// (data_shards/parity_shards, [meta] of type zdb with its own key and
// backends, no meta_dir), as a 0-stor user has it.
func zeroStorConfig(cl *testcluster.Cluster, root, socket string) string {
	key := make([]byte, 32)
	rand.Read(key)
	var b strings.Builder
	fmt.Fprintf(&b, `data_shards = 4
parity_shards = 2
redundant_groups = 1
redundant_nodes = 0
root = %q
socket = %q
prometheus_port = 9100
zdb_data_dir_path = "/tmp/0-db/data"
max_zdb_data_dir_size = 25600

[encryption]
algorithm = "AES"
key = "%x"

[compression]
algorithm = "snappy"

[meta]
type = "zdb"

[meta.config]
prefix = "someprefix"

[meta.config.encryption]
algorithm = "AES"
key = "0101010101010101010101010101010101010101010101010101010101010101"
`, root, socket, key)
	for _, be := range cl.Backends()[:4] {
		fmt.Fprintf(&b, "\n[[meta.config.backends]]\naddress = %q\nnamespace = %q\n", be.Addr, be.Namespace)
	}
	for _, g := range cl.Groups() {
		b.WriteString("\n[[groups]]\n")
		for _, be := range g {
			fmt.Fprintf(&b, "[[groups.backends]]\naddress = %q\n", be.Addr)
		}
	}
	return b.String()
}

// TestZeroStorConfig: a 0-stor_v2 configuration file works unchanged,
// with 0-stor's command forms.
func TestZeroStorConfig(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)
	meta := filepath.Join(dir, "meta")
	t.Setenv("ZSTOR_META_DIR", meta)
	root := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "zstor-default.toml")
	if err := os.WriteFile(cfg, []byte(zeroStorConfig(cl, root, filepath.Join(dir, "zstor.sock"))), 0o600); err != nil {
		t.Fatal(err)
	}
	z := runner{t: t, cfg: cfg}

	if r := z.ok("test"); !strings.Contains(r.out, "6 of 6 data backends reachable") {
		t.Errorf("test:\n%s", r.out)
	}
	file := filepath.Join(root, "zdbfs-data", "d7")
	data := randomFile(t, file, 1<<20+5)
	z.ok("store", "-s", "--file", file)
	if r := z.ok("check", "-f", file); r.out != checksum(data)+"\n" {
		t.Errorf("check -f printed %q", r.out)
	}
	os.Remove(file)
	z.ok("retrieve", "--file", file)
	if b, _ := os.ReadFile(file); !bytes.Equal(b, data) {
		t.Fatal("retrieve --file did not restore the file")
	}
	if r := z.ok("list"); !strings.Contains(r.out, " /zdbfs-data/d7\n") {
		t.Errorf("list: the key is not the path under root:\n%s", r.out)
	}

	// Losing the machine: the metadata comes back from the copies on
	// [meta.config.backends], under [meta.config.encryption]'s key.
	if err := os.RemoveAll(meta); err != nil {
		t.Fatal(err)
	}
	if r := z.run("stat", "-f", file); r.code != ExitNotFound {
		t.Fatalf("stat with the metadata gone: %v", r)
	}
	if r := z.ok("recover"); r.out != "restored 1 objects\n" {
		t.Errorf("recover printed %q", r.out)
	}
	if r := z.ok("retrieve", "-f", file, "-o", "-"); r.out != string(data) {
		t.Error("retrieve after recover returned other bytes")
	}
}

// TestFailures: degraded and unreadable objects, and a retrieve that
// fails leaves nothing behind.
func TestFailures(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)
	z := runner{t: t, cfg: writeConfig(t, cl, dir, 4, 2)}
	data := bytes.Repeat([]byte("degrade "), 300_000)
	z.with(bytes.NewReader(data)).ok("store", "-f", "-", "-k", "/f")

	cl.Kill(0)
	r := z.ok("check", "-k", "/f")
	if r.out != checksum(data)+"\n" || !strings.Contains(r.err, "warning: /f is degraded") || !strings.Contains(r.err, "zstor rebuild -k /f") {
		t.Errorf("check of a degraded object: %v", r)
	}
	if r := z.ok("retrieve", "-k", "/f", "-o", "-"); r.out != string(data) {
		t.Error("retrieve of a degraded object failed")
	}
	// test wants expected_shards (6) backends: one down fails it.
	if r := z.run("test"); r.code != ExitFailure || !strings.Contains(r.out, "FAIL  "+cl.Backend(0).Addr) || !strings.Contains(r.out, "5 of 6 data backends reachable") {
		t.Errorf("test with one backend down: %v", r)
	}

	cl.Kill(1)
	cl.Kill(2)
	r = z.run("check", "-k", "/f")
	if r.code != ExitFailure || r.out != "" || !strings.Contains(r.err, "/f is not readable") {
		t.Errorf("check of an unreadable object: %v", r)
	}
	r = z.run("--json", "check", "-k", "/f")
	if r.code != ExitFailure || !strings.Contains(r.out, `"readable":false`) {
		t.Errorf("check --json of an unreadable object: %v", r)
	}
	outDir := t.TempDir()
	target := filepath.Join(outDir, "restored")
	os.WriteFile(target, []byte("previous content"), 0o644)
	r = z.run("retrieve", "-k", "/f", "-o", target)
	if r.code != ExitFailure {
		t.Errorf("retrieve of an unreadable object: %v", r)
	}
	if b, _ := os.ReadFile(target); string(b) != "previous content" {
		t.Errorf("a failed retrieve changed the target: %q", b)
	}
	r = z.run("retrieve", "-k", "/f", "-o", filepath.Join(outDir, "new"))
	if entries, _ := os.ReadDir(outDir); r.code != ExitFailure || len(entries) != 1 {
		t.Errorf("a failed retrieve left files: %v; %v", entries, r)
	}
	if r := z.run("test"); r.code != ExitFailure || !strings.Contains(r.err, "only 3 backends reachable") {
		t.Errorf("test with 3 of 6 backends: %v", r)
	}
}

// TestBinary builds the real zstor and runs it as a user would: store and
// retrieve directly, then the daemon as a process, commands through it,
// and SIGTERM.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "zstor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/zstor")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/zstor: %v\n%s", err, out)
	}
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)
	cfg := writeConfig(t, cl, dir, 4, 2)
	zstor := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-c", cfg}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("zstor %s: %w\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String(), err
	}
	file := filepath.Join(dir, "root", "file")
	data := randomFile(t, file, 2<<20+3)
	out, err := zstor("store", "-f", file)
	if err != nil || out != checksum(data)+"  /file\n" {
		t.Fatalf("store: %q, %v", out, err)
	}
	copyPath := filepath.Join(dir, "copy")
	if _, err := zstor("retrieve", "-f", file, "-o", copyPath); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(copyPath); !bytes.Equal(b, data) {
		t.Fatal("the retrieved copy differs")
	}
	_, err = zstor("stat", "-k", "/nope")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitNotFound {
		t.Errorf("stat of a missing key: %v, want exit 3", err)
	}

	mon := exec.Command(bin, "-c", cfg, "monitor")
	var monErr bytes.Buffer
	mon.Stderr = &monErr
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- mon.Wait() }()
	t.Cleanup(func() { mon.Process.Kill() })
	sock := filepath.Join(dir, "zstor.sock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := daemon.Dial(context.Background(), sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not come up:\n%s", monErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := zstor("retrieve", "-f", file, "-o", "-"); err != nil || out != string(data) {
		t.Errorf("retrieve through the daemon process: %d bytes, %v", len(out), err)
	}
	if out, err := zstor("--json", "list"); err != nil || !strings.Contains(out, `"key":"/file"`) {
		t.Errorf("list through the daemon process: %q, %v", out, err)
	}
	mon.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("monitor exited with %v:\n%s", err, monErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("monitor did not stop on SIGTERM")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after SIGTERM: %v", err)
	}
	if !strings.Contains(monErr.String(), "daemon listening") {
		t.Errorf("monitor log:\n%s", monErr.String())
	}
}
