package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
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
	// The object and the commit log's batches (one per command that
	// committed something).
	var restored int
	if r := z.ok("recover"); !strings.HasPrefix(r.out, "restored ") {
		t.Errorf("recover printed %q", r.out)
	} else if _, err := fmt.Sscanf(r.out, "restored %d objects", &restored); err != nil || restored < 2 {
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

// TestScrubRepair: a backend's data damaged behind zstor's back; scrub
// finds it and queues the objects (exit 1), queue lists them, rebuild
// --all repairs them, and the next scrub is clean.
func TestScrubRepair(t *testing.T) {
	cl := testcluster.Start(t, 7, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)
	z := runner{t: t, cfg: writeConfig(t, cl, dir, 4, 2)}
	data := map[string][]byte{}
	for i := range 3 {
		key := fmt.Sprintf("/s/%d", i)
		data[key] = randomFile(t, filepath.Join(dir, "src", key), 3<<19+i)
		z.ok("store", "-f", filepath.Join(dir, "src", key), "-k", key)
	}
	var h daemon.HealthJSON
	if err := json.Unmarshal([]byte(z.ok("status", "--json").out), &h); err != nil {
		t.Fatal(err)
	}
	victim := h.Backends[0]
	for _, b := range h.Backends {
		if b.Shards > victim.Shards {
			victim = b
		}
	}
	for _, b := range cl.Backends() {
		if b.Addr+"/"+b.Namespace == victim.ID && cl.Corrupt(b.Index, mrand.New(mrand.NewPCG(3, 4)), 16) == 0 {
			t.Fatal("nothing corrupted")
		}
	}

	r := z.run("scrub")
	if r.code != ExitFailure || !regexp.MustCompile(`[1-9]\d* objects queued for repair\n$`).MatchString(r.out) ||
		!strings.Contains(r.err, "queued for repair") || !strings.Contains(r.err, "zstor rebuild --all") {
		t.Fatalf("scrub of a damaged backend: %v", r)
	}
	var q daemon.QueueJSON
	if err := json.Unmarshal([]byte(z.ok("queue", "--json").out), &q); err != nil || q.Total == 0 || len(q.Entries) != q.Total ||
		!strings.HasPrefix(q.Entries[0].Reason, "scrub:") {
		t.Fatalf("queue --json after the scrub: %+v, %v", q, err)
	}
	if r := z.ok("queue", "-n", "1"); !strings.Contains(r.out, "REASON") || !strings.Contains(r.out, q.Entries[0].Key) ||
		!strings.HasSuffix(r.out, fmt.Sprintf("%d objects queued for repair", q.Total)+map[bool]string{true: " (the first 1 shown; -n 0 lists all)\n", false: "\n"}[q.Total > 1]) {
		t.Errorf("queue -n 1 printed:\n%s", r.out)
	}
	if r := z.ok("status"); !strings.Contains(r.out, fmt.Sprintf("repair queue: %d objects", q.Total)) {
		t.Errorf("status does not show the queue:\n%s", r.out)
	}
	r = z.ok("rebuild", "--all")
	if !strings.Contains(r.out, "repaired  /s/") || !strings.Contains(r.out, " 0 failed\n") {
		t.Errorf("rebuild --all printed:\n%s", r.out)
	}
	if r := z.ok("queue"); !strings.HasSuffix(r.out, "0 objects queued for repair\n") {
		t.Errorf("queue after rebuild --all: %q", r.out)
	}
	if r := z.ok("scrub"); !strings.Contains(r.out, "0 missing, 0 corrupt, 0 unreachable") {
		t.Errorf("scrub after the repair: %q", r.out)
	}
	for key, want := range data {
		if r := z.ok("retrieve", "-k", key, "-o", "-"); r.out != string(want) {
			t.Errorf("%s reads back other bytes after the repair", key)
		}
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
	// The configuration has 6 of the 7 backends: the 7th is added by a
	// reload.
	cl := testcluster.Start(t, 7, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)
	all := clusterConfig(t, cl, dir, 4, 2)
	if err := os.MkdirAll(all.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	six := firstBackends(all, 6)
	cfg := writeConfigFile(t, dir, six)
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
	var monErr testcluster.SyncBuffer
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
	testBinaryReload(t, mon.Process, zstor, &monErr, dir, all, six, cl.Backend(6))
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

// testBinaryReload changes the running daemon's configuration file: a
// backend added with `zstor reload`, removed with SIGHUP, and a broken
// file sent with SIGUSR1 is refused while the daemon keeps serving.
func testBinaryReload(t *testing.T, mon *os.Process, zstor func(...string) (string, error), monErr *testcluster.SyncBuffer,
	dir string, all, six *config.Config, extra testcluster.Backend) {
	t.Helper()
	backends := func() int {
		out, err := zstor("--json", "status")
		var h daemon.HealthJSON
		if err != nil || json.Unmarshal([]byte(out), &h) != nil {
			t.Fatalf("status --json: %q, %v", out, err)
		}
		return len(h.Backends)
	}
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(monErr.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the daemon's log:\n%s", what, monErr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if n := backends(); n != 6 {
		t.Fatalf("%d backends before the reload, want 6", n)
	}
	writeConfigFile(t, dir, all)
	out, err := zstor("reload")
	if err != nil || !strings.HasPrefix(out, "the daemon reloaded its configuration: backends added: "+extra.Addr+"/"+extra.Namespace+"; removed: none") {
		t.Fatalf("zstor reload adding a backend: %q, %v", out, err)
	}
	if n := backends(); n != 7 {
		t.Errorf("%d backends after the reload, want 7", n)
	}

	writeConfigFile(t, dir, six)
	mon.Signal(syscall.SIGHUP)
	waitLog("removed=[" + extra.Addr)
	if n := backends(); n != 6 {
		t.Errorf("%d backends after SIGHUP, want 6", n)
	}

	cfgPath := filepath.Join(dir, "zstor.toml")
	if err := os.WriteFile(cfgPath, []byte("minimal_shards = 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mon.Signal(syscall.SIGUSR1)
	waitLog("configuration reload rejected")
	c, err := daemon.Dial(context.Background(), filepath.Join(dir, "zstor.sock"))
	if err != nil {
		t.Fatalf("the daemon stopped serving after a rejected reload: %v", err)
	}
	defer c.Close()
	if _, err := c.Stat(context.Background(), "/file"); err != nil {
		t.Errorf("stat through the daemon after a rejected reload: %v", err)
	}
	writeConfigFile(t, dir, six)
}
