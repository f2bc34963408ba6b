package localdeploy_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/cli"
	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/localdeploy"
	"github.com/zerostor/zerostor/internal/testcluster"
)

// zstor runs the command line in-process.
func zstor(t testing.TB, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, args, cli.Env{Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return out.String(), errb.String(), code
}

// up starts a deployment in dir and returns it with a function that
// stops it and returns Run's error.
func up(t *testing.T, opts localdeploy.Options) (localdeploy.Deployment, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan localdeploy.Deployment, 1)
	done := make(chan error, 1)
	opts.Ready = func(d localdeploy.Deployment) { ready <- d }
	go func() { done <- localdeploy.Run(ctx, opts) }()
	select {
	case d := <-ready:
		var once sync.Once
		var err error
		stop := func() error {
			once.Do(func() {
				cancel()
				err = <-done
			})
			return err
		}
		t.Cleanup(func() { stop() })
		return d, stop
	case err := <-done:
		cancel()
		t.Fatalf("up: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("up did not become ready")
	}
	panic("unreachable")
}

// TestRestart: store through the socket, stop, start again: same ports,
// same key, the object is still there.
func TestRestart(t *testing.T) {
	dir := testcluster.ShortDir(t)
	opts := localdeploy.Options{Dir: dir, Backends: 6, Groups: 3, K: 4, M: 2}
	d1, stop := up(t, opts)
	if !d1.Created || len(d1.Backends) != 6 || d1.Groups != 3 || d1.Config.K() != 4 || d1.Config.M() != 2 {
		t.Errorf("first start: %+v", d1)
	}
	if fi, err := os.Stat(d1.ConfigPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if fi, err := os.Lstat(d1.Socket); err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, %v", fi, err)
	}
	for i := range 6 {
		if _, err := os.Stat(filepath.Join(dir, "zdb", string(rune('0'+i)), "data")); err != nil {
			t.Errorf("backend %d data: %v", i, err)
		}
	}
	data := bytes.Repeat([]byte("kept across restarts "), 150_000)
	if out, errs, code := zstor(t, data, "-c", d1.ConfigPath, "store", "-f", "-", "-k", "/kept"); code != 0 {
		t.Fatalf("store: %d %s %s", code, out, errs)
	}
	// It went through the daemon: the store is locked by it.
	if c, err := daemon.Dial(context.Background(), d1.Socket); err != nil {
		t.Fatal(err)
	} else if _, err := c.Stat(context.Background(), "/kept"); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Lstat(d1.Socket); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after stop: %v", err)
	}
	key := d1.Config.Encryption.Key

	opts.Backends, opts.K = 9, 5 // ignored: the configuration exists
	d2, _ := up(t, opts)
	if d2.Created || !reflect.DeepEqual(d2.Backends, d1.Backends) || d2.Config.Encryption.Key != key || d2.Config.K() != 4 {
		t.Errorf("restart did not reuse the configuration: %+v", d2)
	}
	out, errs, code := zstor(t, nil, "-c", d2.ConfigPath, "retrieve", "-k", "/kept", "-o", "-")
	if code != 0 || out != string(data) {
		t.Errorf("retrieve after restart: exit %d, %d bytes, %s", code, len(out), errs)
	}
	// A second deployment on the same directory is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := localdeploy.Run(ctx, opts); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second up on the same directory: %v", err)
	}
}

// TestUpCommand runs `zstor up` with its defaults (24 backends, 4 groups,
// 16+4) through the command line, and stops it as Ctrl-C would.
func TestUpCommand(t *testing.T) {
	dir := filepath.Join(testcluster.ShortDir(t), "local")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb testcluster.SyncBuffer
	done := make(chan int, 1)
	go func() {
		// Without the S3 gateway: it would take the fixed port 9000
		// (internal/cli tests `up` with it).
		done <- cli.Run(ctx, []string{"up", "--dir", dir, "--s3", ""}, cli.Env{Stdout: &out, Stderr: &errb})
	}()
	cfg := filepath.Join(dir, "zstor.toml")
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops it") {
		select {
		case code := <-done:
			t.Fatalf("up exited %d:\n%s\n%s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("up not ready:\n%s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"24 zdb backends in 4 groups, 16+4 shards", "zstor -c " + cfg + " store -f FILE", "retrieve -f FILE", " list", " status", "The S3 gateway is off"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("up output lacks %q:\n%s", want, out.String())
		}
	}
	data := bytes.Repeat([]byte{7}, 3<<20)
	if o, e, code := zstor(t, data, "-c", cfg, "store", "-f", "-", "-k", "x"); code != 0 {
		t.Fatalf("store: %d %s %s", code, o, e)
	}
	o, _, code := zstor(t, nil, "-c", cfg, "status")
	if code != 0 || !strings.Contains(o, "24 of 24 backends reachable") {
		t.Errorf("status: %d\n%s", code, o)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("up exited %d after the interrupt:\n%s", code, errb.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("up did not stop")
	}
}

// TestS3Config: the generated configuration has [s3] with generated
// credentials, kept across restarts; Options.S3 moves or turns off the
// gateway in the file, and gives credentials to a configuration without.
func TestS3Config(t *testing.T) {
	t.Setenv(config.EnvS3AccessKey, "")
	t.Setenv(config.EnvS3SecretKey, "")
	dir := testcluster.ShortDir(t)
	opts := localdeploy.Options{Dir: dir, Backends: 3, Groups: 3, K: 2, M: 1}
	d, stop := up(t, opts)
	s := d.Config.S3
	if s.Listen != config.DefaultS3Listen || len(s.AccessKey) != 20 || len(s.SecretKey) != 40 {
		t.Fatalf("[s3] of a new deployment: %v", s)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	load := func() config.S3 {
		t.Helper()
		c, err := config.Load(d.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		return c.S3
	}
	step := func(listen *string, want string) config.S3 {
		t.Helper()
		opts.S3 = listen
		d, stop := up(t, opts)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		got := load()
		if d.Config.S3 != got || got.Listen != want {
			t.Errorf("S3 option %v: running with %v, file %v; want listen %q", listen, d.Config.S3, got, want)
		}
		if fi, err := os.Stat(d.ConfigPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("config file: %v, %v; want mode 0600", fi, err)
		}
		return got
	}
	off, moved := "", "127.0.0.1:9123"
	for _, tc := range []struct {
		listen *string
		want   string
	}{{nil, config.DefaultS3Listen}, {&moved, moved}, {nil, moved}, {&off, ""}, {nil, ""}} {
		if got := step(tc.listen, tc.want); got.AccessKey != s.AccessKey || got.SecretKey != s.SecretKey {
			t.Errorf("the credentials changed: %v, were %v", got, s)
		}
	}
	// A configuration without credentials (an older zstor up's) gets
	// them when the gateway is turned on, and only then.
	c, err := config.Load(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	c.S3 = config.S3{}
	if err := config.WriteFile(d.ConfigPath, c); err != nil {
		t.Fatal(err)
	}
	if got := step(nil, ""); got.AccessKey != "" || got.SecretKey != "" {
		t.Errorf("credentials made for a gateway that is off: %v", got)
	}
	got := step(&moved, moved)
	if len(got.AccessKey) != 20 || len(got.SecretKey) != 40 || got.AccessKey == s.AccessKey {
		t.Errorf("[s3] turned on in an older configuration: %v", got)
	}
}
