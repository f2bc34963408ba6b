package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/s3"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

// fakeS3 stands for the gateway in the tests of what the command line
// owns: it answers every request "fake gateway".
type fakeS3 struct{}

func (fakeS3) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fake gateway")
	})}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// gatewayOptions records the options the command line made gateways with.
type gatewayOptions struct {
	mu   sync.Mutex
	last *s3.Options
}

func (g *gatewayOptions) get() *s3.Options {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// useFakeS3 replaces the gateway by fakeS3 for the test.
func useFakeS3(t *testing.T) *gatewayOptions {
	t.Helper()
	got := &gatewayOptions{}
	old := newS3Server
	newS3Server = func(c *zstor.Client, opts s3.Options) (s3Server, error) {
		if c == nil {
			return nil, errors.New("no client")
		}
		got.mu.Lock()
		got.last = &opts
		got.mu.Unlock()
		return fakeS3{}, nil
	}
	t.Cleanup(func() { newS3Server = old })
	return got
}

// noS3Env clears the S3 credential variables for the test.
func noS3Env(t *testing.T) {
	t.Helper()
	t.Setenv(config.EnvS3AccessKey, "")
	t.Setenv(config.EnvS3SecretKey, "")
}

// running is a long-running command (monitor, s3, up) run in-process.
type running struct {
	out, logs *testcluster.SyncBuffer
	cancel    func()
	done      chan int
	code      int
	exited    bool
}

// start runs zstor args until stop is called, or the test ends.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &testcluster.SyncBuffer{}, logs: &testcluster.SyncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { r.done <- Run(ctx, args, Env{Stdout: r.out, Stderr: r.logs, Version: "test"}) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// waitFor waits until re matches the logs (or stdout) and returns the
// match; it fails the test if the command exits first.
func (r *running) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(time.Minute)
	for {
		if m := rx.FindStringSubmatch(r.logs.String() + r.out.String()); m != nil {
			return m
		}
		select {
		case code := <-r.done:
			r.code, r.exited = code, true
			t.Fatalf("exited %d before %q:\nstdout: %s\nstderr: %s", code, re, r.out.String(), r.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within a minute:\nstdout: %s\nstderr: %s", re, r.out.String(), r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop interrupts the command (Ctrl-C) and returns its exit code.
func (r *running) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	if r.exited {
		return r.code
	}
	select {
	case r.code = <-r.done:
		r.exited = true
	case <-time.After(time.Minute):
		t.Fatalf("did not stop:\n%s", r.logs.String())
	}
	return r.code
}

var listeningRE = `msg="s3 gateway listening" addr=(\S+)`

// s3Config writes a 2+1 configuration of cl in dir with s3 as its [s3].
func s3Config(t *testing.T, cl *testcluster.Cluster, dir string, s3 config.S3) string {
	t.Helper()
	cfg := clusterConfig(t, cl, dir, 2, 1)
	cfg.S3 = s3
	cfg.EnsureDefaults()
	return writeConfigFile(t, dir, cfg)
}

// TestS3Command: `zstor s3` runs the daemon and the gateway, with the
// credentials of the configuration or the environment, and refuses to
// start without credentials or with a bad configuration. The gateway is
// fakeS3: this tests the command line, not the gateway.
func TestS3Command(t *testing.T) {
	noS3Env(t)
	gwOpts := useFakeS3(t)
	cl := testcluster.Start(t, 3, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)

	t.Run("no credentials", func(t *testing.T) {
		z := runner{t: t, cfg: s3Config(t, cl, dir, config.S3{})}
		r := z.run("s3", "--listen", "127.0.0.1:0")
		for _, want := range []string{"no credentials", "[s3] section of " + z.cfg, "access_key and secret_key", config.EnvS3AccessKey, config.EnvS3SecretKey} {
			if r.code != ExitFailure || !strings.Contains(r.err, want) {
				t.Errorf("zstor s3 without credentials: %v\nwant exit 1 and %q", r, want)
			}
		}
		if strings.Contains(r.err, "s3 gateway listening") || strings.Contains(r.err, "daemon listening") {
			t.Errorf("started before refusing:\n%s", r.err)
		}
		// monitor with [s3] listen refuses the same way; without, it has no
		// gateway.
		z = runner{t: t, cfg: s3Config(t, cl, dir, config.S3{Listen: "127.0.0.1:0"})}
		if r := z.run("monitor"); r.code != ExitFailure || !strings.Contains(r.err, "no credentials") {
			t.Errorf("monitor with [s3] listen, without credentials: %v", r)
		}
	})

	t.Run("bad flag", func(t *testing.T) {
		z := runner{t: t, cfg: s3Config(t, cl, dir, config.S3{})}
		for _, listen := range []string{"9000", "127.0.0.1:x", "a b:9000"} {
			if r := z.run("s3", "--listen", listen); r.code != ExitUsage || !strings.Contains(r.err, "--listen") || !strings.Contains(r.err, "Usage: zstor") {
				t.Errorf("--listen %q: %v", listen, r)
			}
		}
		if r := z.run("s3", "extra"); r.code != ExitUsage {
			t.Errorf("an argument: %v", r)
		}
	})

	t.Run("config errors", func(t *testing.T) {
		path := s3Config(t, cl, dir, config.S3{})
		base, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(base), "\n")
		for _, tc := range []struct {
			s3   string
			want string
		}{
			{"[s3]\naccess_key = \"AKIDEXAMPLE\"\n", fmt.Sprintf("line %d: s3.access_key: set without a secret key", n+2)},
			{"[s3]\nsecret_key = \"0123456789abcdef\"\n", fmt.Sprintf("line %d: s3.secret_key: set without an access key", n+2)},
			{"[s3]\naccess_key = \"AKIDEXAMPLE\"\nsecret_key = \"1234\"\n", fmt.Sprintf("line %d: s3.secret_key: too short", n+3)},
			{"[s3]\nlisten = \"localhost\"\n", fmt.Sprintf("line %d: s3.listen: \"localhost\" is not host:port", n+2)},
			{"[s3]\nlisen = \"127.0.0.1:9000\"\n", fmt.Sprintf("line %d: s3.lisen: unknown key", n+2)},
		} {
			if err := os.WriteFile(path, append(append([]byte(nil), base...), tc.s3...), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runner{t: t, cfg: path}.run("s3", "--listen", "127.0.0.1:0")
			if r.code != ExitFailure || !strings.Contains(r.err, "invalid configuration "+path) || !strings.Contains(r.err, tc.want) {
				t.Errorf("[s3] %q: %v\nwant %q", tc.s3, r, tc.want)
			}
			if strings.Contains(r.err, "0123456789abcdef") {
				t.Errorf("the error shows the secret key: %s", r.err)
			}
		}
	})

	t.Run("serve", func(t *testing.T) {
		const secret = "s3cr3t-for-the-test-only"
		cfg := s3Config(t, cl, dir, config.S3{AccessKey: "TESTACCESSKEY", SecretKey: secret, Region: "eu-test-1", UploadExpiry: time.Hour})
		z := runner{t: t, cfg: cfg}
		d := start(t, "-c", cfg, "s3", "--listen", "127.0.0.1:0")
		addr := d.waitFor(t, listeningRE)[1]
		d.waitFor(t, `msg="daemon listening"`)
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("GET on the gateway: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "fake gateway" {
			t.Errorf("the gateway answered %q", body)
		}
		o := gwOpts.get()
		if o == nil || len(o.Credentials) != 1 || o.Credentials["TESTACCESSKEY"] != secret || o.Region != "eu-test-1" ||
			o.UploadExpiry != time.Hour || o.AllowAnonymous || o.Logger == nil {
			t.Errorf("gateway options %+v", o)
		}
		// The daemon serves the socket beside the gateway: commands go
		// through it, and a second daemon is refused.
		z.with(strings.NewReader("through the daemon")).ok("store", "-f", "-", "-k", "/s3/x")
		for _, cmd := range [][]string{{"s3", "--listen", "127.0.0.1:0"}, {"monitor"}} {
			if r := z.run(cmd...); r.code != ExitFailure || !strings.Contains(r.err, "another daemon answers on the socket") {
				t.Errorf("zstor %s beside the running one: %v", cmd[0], r)
			}
		}
		if code := d.stop(t); code != 0 {
			t.Errorf("zstor s3 exited %d after the interrupt:\n%s", code, d.logs.String())
		}
		logs := d.logs.String()
		if !strings.Contains(logs, "access_key=TESTACCESSKEY") || strings.Contains(logs, secret) {
			t.Errorf("the log lacks the access key or shows the secret:\n%s", logs)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Error("the gateway still listens after the stop")
		}
		// The object is in the store.
		z.ok("stat", "-k", "/s3/x")
	})

	t.Run("environment", func(t *testing.T) {
		// The environment completes, or overrides, the file.
		cfg := s3Config(t, cl, dir, config.S3{AccessKey: "FILEACCESSKEY", Listen: "127.0.0.1:0"})
		t.Setenv(config.EnvS3SecretKey, "secret-from-the-environment")
		d := start(t, "-c", cfg, "s3")
		d.waitFor(t, listeningRE)
		if o := gwOpts.get(); o == nil || o.Credentials["FILEACCESSKEY"] != "secret-from-the-environment" {
			t.Errorf("gateway options %+v", o)
		}
		d.stop(t)
		t.Setenv(config.EnvS3AccessKey, "ENVACCESSKEY")
		d = start(t, "-c", cfg, "s3")
		d.waitFor(t, listeningRE)
		if o := gwOpts.get(); o == nil || len(o.Credentials) != 1 || o.Credentials["ENVACCESSKEY"] != "secret-from-the-environment" {
			t.Errorf("gateway options %+v", o)
		}
		if code := d.stop(t); code != 0 {
			t.Errorf("exit %d", code)
		}
		if logs := d.logs.String(); strings.Contains(logs, "secret-from-the-environment") {
			t.Errorf("the log shows the secret:\n%s", logs)
		}
	})

	t.Run("monitor", func(t *testing.T) {
		// monitor serves the gateway on [s3] listen.
		cfg := s3Config(t, cl, dir, config.S3{Listen: "127.0.0.1:0", AccessKey: "MONITORKEY", SecretKey: "monitor-secret"})
		d := start(t, "-c", cfg, "monitor")
		addr := d.waitFor(t, listeningRE)[1]
		if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
			t.Errorf("the gateway of monitor does not accept: %v", err)
		} else {
			c.Close()
		}
		if code := d.stop(t); code != 0 {
			t.Errorf("monitor exited %d:\n%s", code, d.logs.String())
		}
		// Without [s3] listen, monitor serves no gateway.
		cfg = s3Config(t, cl, dir, config.S3{AccessKey: "MONITORKEY", SecretKey: "monitor-secret"})
		d = start(t, "-c", cfg, "monitor")
		d.waitFor(t, `msg="daemon listening"`)
		d.stop(t)
		if strings.Contains(d.logs.String(), "s3 gateway") {
			t.Errorf("monitor without [s3] listen started the gateway:\n%s", d.logs.String())
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		// Anonymous reads need no credentials; beyond the loopback they
		// are warned about.
		cfg := s3Config(t, cl, dir, config.S3{AnonymousRead: true})
		d := start(t, "-c", cfg, "s3", "--listen", ":0")
		d.waitFor(t, listeningRE)
		d.waitFor(t, `level=WARN msg="s3 gateway: anonymous_read is on`)
		if o := gwOpts.get(); o == nil || !o.AllowAnonymous || len(o.Credentials) != 0 {
			t.Errorf("gateway options %+v", o)
		}
		d.stop(t)
		d = start(t, "-c", cfg, "s3", "--listen", "127.0.0.1:0")
		d.waitFor(t, `msg="daemon listening"`)
		d.stop(t)
		if strings.Contains(d.logs.String(), "anonymous_read is on") {
			t.Errorf("warned about anonymous reads on the loopback:\n%s", d.logs.String())
		}
	})

	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		z := runner{t: t, cfg: s3Config(t, cl, dir, config.S3{AccessKey: "AK1", SecretKey: "secret-key-1"})}
		r := z.run("s3", "--listen", ln.Addr().String())
		if r.code != ExitFailure || !strings.Contains(r.err, "s3 gateway: listen tcp "+ln.Addr().String()) {
			t.Errorf("port in use: %v", r)
		}
		if strings.Contains(r.err, "daemon listening") {
			t.Errorf("the daemon reported ready before the gateway failed:\n%s", r.err)
		}
		// The daemon stopped cleanly: the store opens directly.
		z.ok("list")
	})
}

// TestS3GatewayUnsignedDenied: the real gateway behind `zstor s3` refuses
// an unsigned request with 403 AccessDenied when anonymous reads are off.
func TestS3GatewayUnsignedDenied(t *testing.T) {
	noS3Env(t)
	cl := testcluster.Start(t, 3, testcluster.Options{Groups: 3})
	dir := testcluster.ShortDir(t)
	cfg := s3Config(t, cl, dir, config.S3{AccessKey: "TESTACCESSKEY", SecretKey: "s3cr3t-for-the-test-only"})
	d := start(t, "-c", cfg, "s3", "--listen", "127.0.0.1:0")
	addr := d.waitFor(t, listeningRE)[1]
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "AccessDenied") {
		t.Errorf("unsigned GET /: %d %s", resp.StatusCode, body)
	}
	if code := d.stop(t); code != 0 {
		t.Errorf("zstor s3 exited %d:\n%s", code, d.logs.String())
	}
}

// TestUpS3: `zstor up` writes [s3] with generated credentials, serves the
// gateway, prints how to use it (the secret to stdout, never to the log),
// and keeps the credentials at the next start.
func TestUpS3(t *testing.T) {
	noS3Env(t)
	useFakeS3(t)
	dir := filepath.Join(testcluster.ShortDir(t), "local")
	args := []string{"up", "--dir", dir, "--backends", "3", "--groups", "3", "-k", "2", "-m", "1", "--s3", "127.0.0.1:0"}
	d := start(t, args...)
	d.waitFor(t, "Ctrl-C stops it")
	out := d.out.String()
	cfg, err := config.Load(filepath.Join(dir, "zstor.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.S3
	if s.Listen != "127.0.0.1:0" || !regexp.MustCompile(`^[A-Z0-9]{20}$`).MatchString(s.AccessKey) || len(s.SecretKey) != 40 {
		t.Fatalf("[s3] of the generated configuration: %v", s)
	}
	addr := d.waitFor(t, listeningRE)[1]
	for _, want := range []string{
		"The S3 gateway listens on http://" + addr + " (region us-east-1)",
		"export AWS_ACCESS_KEY_ID=" + s.AccessKey + "\n",
		"export AWS_SECRET_ACCESS_KEY=" + shellQuote(s.SecretKey) + "\n",
		"aws --endpoint-url http://" + addr + " s3 ls\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	if logs := d.logs.String(); strings.Contains(logs, s.SecretKey) || !strings.Contains(logs, "access_key="+s.AccessKey) {
		t.Errorf("up's log shows the secret key, or not the access key:\n%s", logs)
	}
	if fi, err := os.Stat(filepath.Join(dir, "zstor.toml")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode: %v, %v", fi, err)
	}
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
		t.Errorf("the gateway does not accept: %v", err)
	} else {
		c.Close()
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("up exited %d:\n%s", code, d.logs.String())
	}

	// The next start keeps the credentials; --s3 "" turns the gateway off
	// (and the file says so), without dropping them.
	d = start(t, "up", "--dir", dir, "--s3", "")
	d.waitFor(t, "Ctrl-C stops it")
	if out := d.out.String(); !strings.Contains(out, "The S3 gateway is off") || strings.Contains(out, "AWS_") {
		t.Errorf("up with --s3 \"\":\n%s", out)
	}
	d.stop(t)
	again, err := config.Load(filepath.Join(dir, "zstor.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if again.S3.Listen != "" || again.S3.AccessKey != s.AccessKey || again.S3.SecretKey != s.SecretKey {
		t.Errorf("[s3] after up --s3 \"\": %v, want the same credentials, no listen", again.S3)
	}
	// --s3 ADDR turns it back on, with the same credentials; --json
	// tells where.
	d = start(t, "--json", "up", "--dir", dir, "--s3", "127.0.0.1:0")
	d.waitFor(t, `"s3":\{"access_key":"`+s.AccessKey+`","endpoint":"http://127\.0\.0\.1:\d+","region":"us-east-1"\}`)
	if strings.Contains(d.out.String(), s.SecretKey) {
		t.Errorf("--json output shows the secret key: %s", d.out.String())
	}
	d.stop(t)
	if r := (runner{t: t}).run("up", "--s3", "nope"); r.code != ExitUsage || !strings.Contains(r.err, "--s3") {
		t.Errorf("up --s3 nope: %v", r)
	}
}
