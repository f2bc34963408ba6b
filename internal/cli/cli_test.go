package cli

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

func checksum(b []byte) string {
	s := blake3.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cliCase is one scenario, run once on a store opened in-process and once
// through the daemon. root is the configuration's root; pre is a key
// prefix of the mode ("/direct" or "/daemon"), the same relative to root.
type cliCase struct {
	name string
	run  func(t *testing.T, z runner, root, pre string)
}

var cliCases = []cliCase{
	{"store and retrieve a file", func(t *testing.T, z runner, root, pre string) {
		path := filepath.Join(root, pre, "dir", "a.bin")
		data := randomFile(t, path, 3<<20+17)
		r := z.ok("store", "-f", path)
		if want := checksum(data) + "  " + pre + "/dir/a.bin\n"; r.out != want {
			t.Errorf("store printed %q, want %q (key: the path under root)", r.out, want)
		}
		out := filepath.Join(t.TempDir(), "copy")
		z.ok("retrieve", "-f", path, "-o", out)
		if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
			t.Errorf("retrieve -o: %d bytes, not the file", len(b))
		}
		// 0-stor's form: retrieve -f writes the file back in place.
		os.Remove(path)
		z.ok("retrieve", "--file", path)
		if b, _ := os.ReadFile(path); !bytes.Equal(b, data) {
			t.Errorf("retrieve -f: %d bytes, not the file", len(b))
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("retrieve left files beside the target: %v", entries)
		}
		// --json
		var o daemon.ObjectJSON
		r = z.ok("--json", "store", "-f", path, "-k", pre+"/json")
		if err := json.Unmarshal([]byte(r.out), &o); err != nil || o.Key != pre+"/json" || o.Size != int64(len(data)) || o.Checksum != checksum(data) {
			t.Errorf("store --json = %q (%v)", r.out, err)
		}
	}},
	{"stdin and stdout", func(t *testing.T, z runner, root, pre string) {
		data := bytes.Repeat([]byte("streamed through a pipe\n"), 200_000)
		r := z.with(bytes.NewReader(data)).ok("store", "-f", "-", "-k", pre+"/stdin")
		if !strings.HasPrefix(r.out, checksum(data)) {
			t.Errorf("store from stdin printed %q", r.out)
		}
		r = z.ok("retrieve", "-k", pre+"/stdin", "-o", "-")
		if r.out != string(data) {
			t.Errorf("retrieve -o -: %d bytes on stdout, want %d", len(r.out), len(data))
		}
		// An empty object.
		z.with(strings.NewReader("")).ok("store", "-f", "-", "-k", pre+"/empty")
		out := filepath.Join(t.TempDir(), "empty")
		z.ok("retrieve", "-k", pre+"/empty", "-o", out)
		if fi, err := os.Stat(out); err != nil || fi.Size() != 0 {
			t.Errorf("empty object retrieved as %v, %v", fi, err)
		}
	}},
	{"check stat list", func(t *testing.T, z runner, root, pre string) {
		data := []byte("check me")
		z.with(bytes.NewReader(data)).ok("store", "-f", "-", "-k", pre+"/c/1")
		z.with(bytes.NewReader(data)).ok("store", "-f", "-", "-k", pre+"/c/2")
		r := z.ok("check", "-k", pre+"/c/1")
		if r.out != checksum(data)+"\n" || r.err != "" {
			t.Errorf("check printed %q / %q, want the checksum only", r.out, r.err)
		}
		var rep daemon.CheckJSON
		r = z.ok("check", "--json", "-k", pre+"/c/1")
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil || !rep.Healthy || !rep.Readable || rep.MinGood != rep.Shards || rep.Object.Key != pre+"/c/1" {
			t.Errorf("check --json = %q (%v)", r.out, err)
		}
		r = z.ok("stat", "-k", pre+"/c/2")
		for _, want := range []string{"key:", pre + "/c/2", "size:", "8 (8 B)", "checksum:", checksum(data), "shards:", "4+2"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("stat output lacks %q:\n%s", want, r.out)
			}
		}
		var o daemon.ObjectJSON
		r = z.ok("--json", "stat", "-k", pre+"/c/2")
		if err := json.Unmarshal([]byte(r.out), &o); err != nil || o.Size != 8 || o.K != 4 || o.M != 2 {
			t.Errorf("stat --json = %q (%v)", r.out, err)
		}
		r = z.ok("list", pre+"/c/")
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		if len(lines) != 2 || !regexp.MustCompile(`^8\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+`+regexp.QuoteMeta(pre)+`/c/1$`).MatchString(lines[0]) {
			t.Errorf("list printed:\n%s", r.out)
		}
		r = z.ok("list", "--json", pre+"/c/", "--after", pre+"/c/1")
		sc := bufio.NewScanner(strings.NewReader(r.out))
		var keys []string
		for sc.Scan() {
			var o daemon.ObjectJSON
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				t.Fatalf("list --json line %q: %v", sc.Text(), err)
			}
			keys = append(keys, o.Key)
		}
		if len(keys) != 1 || keys[0] != pre+"/c/2" {
			t.Errorf("list --json --after = %q", keys)
		}
	}},
	{"delete and not found", func(t *testing.T, z runner, root, pre string) {
		key := pre + "/gone"
		z.with(strings.NewReader("x")).ok("store", "-f", "-", "-k", key)
		if r := z.ok("delete", "-k", key); r.out != "deleted "+key+"\n" {
			t.Errorf("delete printed %q", r.out)
		}
		for _, args := range [][]string{{"stat", "-k", key}, {"check", "-k", key}, {"retrieve", "-k", key, "-o", "-"}, {"delete", "-k", key}, {"rebuild", "-k", key}} {
			r := z.run(args...)
			if r.code != ExitNotFound || !strings.HasSuffix(r.err, "zstor: no object "+key+"\n") || r.out != "" {
				t.Errorf("%s of a deleted key: %v; want exit 3 and \"no object %s\"", args[0], r, key)
			}
		}
		r := z.run("--json", "stat", "-k", key)
		var e struct{ Error, Kind string }
		if r.code != ExitNotFound || json.Unmarshal([]byte(r.out), &e) != nil || e.Kind != "not_found" {
			t.Errorf("stat --json of a deleted key: %v", r)
		}
	}},
	{"rebuild status recover sweep", func(t *testing.T, z runner, root, pre string) {
		key := pre + "/rb"
		z.with(strings.NewReader("rebuild me")).ok("store", "-f", "-", "-k", key)
		var before, after daemon.ObjectJSON
		json.Unmarshal([]byte(z.ok("--json", "stat", "-k", key).out), &before)
		r := z.ok("rebuild", "-k", key)
		if !strings.HasPrefix(r.out, "rebuilt "+key+": 4+2 shards") {
			t.Errorf("rebuild printed %q", r.out)
		}
		json.Unmarshal([]byte(z.ok("--json", "stat", "-k", key).out), &after)
		if after.Version == before.Version || after.Checksum != before.Checksum {
			t.Errorf("rebuild: version %s -> %s, checksum %s -> %s", before.Version, after.Version, before.Checksum, after.Checksum)
		}
		r = z.ok("status")
		for _, want := range []string{"BACKEND", "STATE", "DRAINING", "P95", "SHARDS", "USED / LIMIT", "ERROR RATE", "FAILED AUDITS",
			"7 of 7 backends reachable; 7 up (7 healthy)", "objects: ", "by shards available in their worst block:", "6 shards (all, as configured now): ",
			"degraded: 0, unreadable: 0", "repair queue: ", "health: ok"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("status lacks %q:\n%s", want, r.out)
			}
		}
		if daemonMode := pre == "/daemon"; strings.Contains(r.out, "self-healing: not running") == daemonMode ||
			strings.Contains(r.out, "audits since start:") != daemonMode {
			t.Errorf("status (%s) misreports self-healing:\n%s", pre, r.out)
		}
		var h daemon.HealthJSON
		if err := json.Unmarshal([]byte(z.ok("status", "--json").out), &h); err != nil || len(h.Backends) != 7 || !h.Backends[0].Reachable ||
			h.Backends[0].State != zstor.StateHealthy || h.Objects == 0 || h.Redundancy[6] == 0 || h.Healing != (pre == "/daemon") {
			t.Errorf("status --json: %+v, %v", h, err)
		}
		if r := z.ok("recover"); !strings.HasPrefix(r.out, "restored ") {
			t.Errorf("recover printed %q", r.out)
		}
		if r := z.ok("sweep", "--grace", "1h"); !strings.HasPrefix(r.out, "scanned ") {
			t.Errorf("sweep printed %q", r.out)
		}
	}},
	{"self-healing commands", func(t *testing.T, z runner, root, pre string) {
		daemonMode := pre == "/daemon"
		for i := range 2 {
			z.with(bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 1<<20+i))).ok("store", "-f", "-", "-k", fmt.Sprintf("%s/heal/%d", pre, i))
		}
		if r := z.ok("rebuild", "--all"); !regexp.MustCompile(`^\d+ objects examined: \d+ repaired, \d+ shards rebuilt \(\d+ moved\), .* 0 failed\n$`).MatchString(r.out) {
			t.Errorf("rebuild --all printed %q", r.out)
		}
		var all daemon.RepairAllJSON
		if err := json.Unmarshal([]byte(z.ok("rebuild", "--all", "--json").out), &all); err != nil || all.Objects < 2 || all.Failed != 0 {
			t.Errorf("rebuild --all --json: %+v, %v", all, err)
		}
		if r := z.ok("scrub"); !strings.Contains(r.out, "0 missing, 0 corrupt, 0 unreachable; 0 objects queued for repair") {
			t.Errorf("scrub printed %q", r.out)
		}
		var sj daemon.ScrubJSON
		if err := json.Unmarshal([]byte(z.ok("scrub", "--rate", "1GiB", "--json").out), &sj); err != nil || sj.Objects < 2 || sj.OK != sj.Shards || sj.Problems() != 0 {
			t.Errorf("scrub --json: %+v, %v", sj, err)
		}
		r := z.ok("audit", "-n", "3")
		if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "ok ") || !strings.Contains(lines[0], " block ") {
			t.Errorf("audit -n 3 printed:\n%s", r.out)
		}
		var a daemon.AuditJSON
		if err := json.Unmarshal([]byte(z.ok("audit", "--json").out), &a); err != nil || a.State != "ok" || a.Backend == "" {
			t.Errorf("audit --json: %+v, %v", a, err)
		}
		if r := z.ok("queue"); !strings.HasSuffix(r.out, "0 objects queued for repair\n") {
			t.Errorf("queue printed %q", r.out)
		}

		// Drain the busiest backend: rebuild --all moves its shards away.
		var h daemon.HealthJSON
		json.Unmarshal([]byte(z.ok("status", "--json").out), &h)
		victim := h.Backends[0]
		for _, b := range h.Backends {
			if b.Shards > victim.Shards {
				victim = b
			}
		}
		if r := z.ok("backend", "drain", victim.ID); !strings.HasPrefix(r.out, "draining "+victim.ID+": ") || !strings.Contains(r.out, "zstor reload") {
			t.Errorf("backend drain printed %q", r.out)
		}
		if r := z.ok("status"); !strings.Contains(r.out, "; 1 draining") {
			t.Errorf("status while draining:\n%s", r.out)
		}
		// The daemon moves the shards in the background too: a repair of
		// rebuild --all can lose the race on an object (exit 1) and is
		// run again, as an operator would.
		for try := 0; ; try++ {
			r := z.run("rebuild", "--all")
			if r.code == ExitOK {
				break
			}
			if !daemonMode || try == 3 {
				t.Fatalf("rebuild --all after a drain: %v", r)
			}
		}
		json.Unmarshal([]byte(z.ok("status", "--json").out), &h)
		for _, b := range h.Backends {
			if b.ID == victim.ID && (b.Shards != 0 || !b.Draining) {
				t.Errorf("drained backend after rebuild --all: %+v", b)
			}
		}
		if r := z.ok("--json", "backend", "undrain", victim.ID); !strings.Contains(r.out, `"backend":"`+victim.ID+`"`) {
			t.Errorf("backend undrain --json printed %q", r.out)
		}
		json.Unmarshal([]byte(z.ok("status", "--json").out), &h)
		for _, b := range h.Backends {
			if b.ID == victim.ID && b.Draining {
				t.Errorf("still draining after undrain: %+v", b)
			}
		}
		if r := z.run("backend", "drain", "10.9.9.9:1/nowhere"); r.code != ExitFailure || !strings.Contains(r.err, "`zstor status` lists the backend ids") {
			t.Errorf("drain of an unknown backend: %v", r)
		}

		r = z.run("reload")
		switch {
		case daemonMode && (r.code != ExitOK || !strings.HasPrefix(r.out, "the daemon reloaded its configuration: backends added: none; removed: none")):
			t.Errorf("reload through the daemon: %v", r)
		case !daemonMode && (r.code != ExitFailure || !strings.Contains(r.err, "reload applies to a running daemon")):
			t.Errorf("reload without a daemon: %v", r)
		}
		if r := z.ok("log", "verify"); !strings.HasPrefix(r.out, "commit log ok: ") {
			t.Errorf("log verify printed %q", r.out)
		}
	}},
	{"directory with key path and delete", func(t *testing.T, z runner, root, pre string) {
		src := filepath.Join(t.TempDir(), "upload")
		files := map[string][]byte{}
		for _, n := range []string{"i1", "i2", "sub/i3"} {
			files[n] = randomFile(t, filepath.Join(src, n), 1000+len(n))
		}
		// 0-stor's hook: store -s -d -f TMPDIR -k DIRBASE
		r := z.ok("store", "-s", "-d", "-f", src, "-k", filepath.Join(root, pre, "idx"))
		if n := strings.Count(r.out, "\n"); n != 3 {
			t.Errorf("store of a directory printed %d lines:\n%s", n, r.out)
		}
		if _, err := os.Stat(src); !os.IsNotExist(err) {
			t.Errorf("-d left the directory: %v", err)
		}
		for n, data := range files {
			r := z.ok("retrieve", "-k", pre+"/idx/"+n, "-o", "-")
			if r.out != string(data) {
				t.Errorf("%s: retrieved %d bytes", n, len(r.out))
			}
		}
	}},
	{"progress on a terminal", func(t *testing.T, z runner, root, pre string) {
		path := filepath.Join(t.TempDir(), "big")
		randomFile(t, path, 6<<20)
		z.tty = true
		r := z.ok("store", "-f", path, "-k", pre+"/big")
		if !strings.Contains(r.err, "MB/s") || !strings.Contains(r.err, "6.0 MiB / 6.0 MiB  100%") {
			t.Errorf("no progress on stderr: %q", r.err)
		}
		r = z.ok("retrieve", "-k", pre+"/big", "-o", path+".out")
		if !strings.Contains(r.err, "MB/s") {
			t.Errorf("no retrieve progress on stderr: %q", r.err)
		}
		z.tty = false
		if r := z.ok("store", "-f", path, "-k", pre+"/big"); r.err != "" {
			t.Errorf("progress without a terminal: %q", r.err)
		}
	}},
}

// TestCLI runs every case directly, then through a daemon, on one cluster.
func TestCLI(t *testing.T) {
	// 7 backends for 4+2 shards: a drained backend's shards have
	// somewhere to go.
	cl := testcluster.Start(t, 7, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)
	z := runner{t: t, cfg: writeConfig(t, cl, dir, 4, 2)}
	root := filepath.Join(dir, "root")
	for _, mode := range []string{"direct", "daemon"} {
		stop := func() {}
		if mode == "daemon" {
			stop = startMonitor(t, z.cfg)
		}
		for _, c := range cliCases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				z := z
				z.t = t
				c.run(t, z, root, "/"+mode)
			})
		}
		stop()
	}
	// Objects stored through the daemon are there once it stopped, and
	// the other way round.
	z.ok("stat", "-k", "/direct/stdin")
}

func TestUsage(t *testing.T) {
	z := runner{t: t, cfg: filepath.Join(t.TempDir(), "none.toml")}
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"store", "--bogus"}, ExitUsage, "flag provided but not defined: -bogus"},
		{[]string{"store"}, ExitUsage, "-f FILE is required"},
		{[]string{"store", "-f", "-"}, ExitUsage, "needs -k KEY"},
		{[]string{"retrieve"}, ExitUsage, "give -f FILE"},
		{[]string{"check"}, ExitUsage, "give -f FILE or -k KEY"},
		{[]string{"check", "-k", "a", "extra"}, ExitUsage, `unexpected argument "extra"`},
		{[]string{"list", "a", "b"}, ExitUsage, "at most one PREFIX"},
		{[]string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{[]string{"--log-level", "loud", "version"}, ExitUsage, "bad --log-level"},
		{[]string{"sweep", "--grace", "soon"}, ExitUsage, "invalid value"},
		{[]string{"rebuild", "--all", "-k", "a"}, ExitUsage, "--all takes no -f or -k"},
		{[]string{"rebuild"}, ExitUsage, "give -f FILE or -k KEY"},
		{[]string{"scrub", "--rate", "fast"}, ExitUsage, "invalid value"},
		{[]string{"audit", "-n", "0"}, ExitUsage, "-n must be at least 1"},
		{[]string{"queue", "-n", "-1"}, ExitUsage, "-n must not be negative"},
		{[]string{"backend"}, ExitUsage, "want drain ID or undrain ID"},
		{[]string{"backend", "remove", "x"}, ExitUsage, "want drain ID or undrain ID"},
		{[]string{"reload", "now"}, ExitUsage, `unexpected argument "now"`},
		{[]string{"log"}, ExitUsage, "want verify"},
		{[]string{"s3", "--listen", "9000"}, ExitUsage, `--listen: "9000" is not host:port`},
		{[]string{"up", "--s3", "localhost"}, ExitUsage, `--s3: "localhost" is not host:port`},
		{nil, ExitUsage, "Commands:"},
	} {
		r := z.run(c.args...)
		if r.code != c.code || !strings.Contains(r.err, c.err) {
			t.Errorf("zstor %q: %v\nwant exit %d and %q", c.args, r, c.code, c.err)
		}
		if c.code == ExitUsage && len(c.args) > 0 && c.args[0] != "frobnicate" && !strings.Contains(r.err, "Usage: zstor") {
			t.Errorf("zstor %q: no usage in %q", c.args, r.err)
		}
	}
	if r := z.ok("help", "store"); !strings.Contains(r.out, "-f, --file file") || !strings.Contains(r.out, "--key-path") {
		t.Errorf("help store:\n%s", r.out)
	}
	if r := z.ok("--help"); r.out != "" && !strings.Contains(r.err, "Commands:") {
		t.Errorf("--help: %v", r)
	}
	if r := z.ok("help", "s3"); !strings.Contains(r.out, "--listen address") || !strings.Contains(r.out, "--sweep-interval") ||
		!strings.Contains(r.out, "ZSTOR_S3_ACCESS_KEY") || !strings.Contains(r.out, "aws --endpoint-url") {
		t.Errorf("help s3:\n%s", r.out)
	}
	if r := z.ok("help"); !strings.Contains(r.out, "\n  s3 ") {
		t.Errorf("help lists no s3:\n%s", r.out)
	}
	if r := z.ok("version"); r.out == "" || !strings.HasPrefix(r.out, "zstor test") {
		t.Errorf("version: %v", r)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml")
	r := runner{t: t, cfg: missing}.run("status")
	if r.code != ExitFailure || !strings.Contains(r.err, missing) || !strings.Contains(r.err, "zstor up") {
		t.Errorf("missing config: %v", r)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("minimal_shards = 4\nexpected_shards = 2\n[compression]\nalgorithm = \"lz5\"\n"), 0o600)
	r = runner{t: t, cfg: bad}.run("list")
	if r.code != ExitFailure || !strings.Contains(r.err, "invalid configuration "+bad) ||
		!strings.Contains(r.err, "compression.algorithm") || !strings.Contains(r.err, "expected_shards") {
		t.Errorf("invalid config: %v", r)
	}
	if n := strings.Count(r.err, "\n  "); n < 3 {
		t.Errorf("invalid config: %d problems listed, want every one:\n%s", n, r.err)
	}
	// $ZSTOR_CONFIG is the default.
	var out, errb bytes.Buffer
	code := Run(t.Context(), []string{"list"}, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == EnvConfig {
			return missing
		}
		return ""
	}})
	if code != ExitFailure || !strings.Contains(errb.String(), missing) {
		t.Errorf("$ZSTOR_CONFIG not used: %d %q", code, errb.String())
	}
}
