package testcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// BinaryEnv names an environment variable that, when set, is the path of
// the zdb binary to run; nothing is built then. Child processes of a test
// can be given the parent's binary this way (see [Binary]).
const BinaryEnv = "ZEROSTOR_ZDB_BIN"

// buildTimeout bounds "go build ./cmd/zdb" (a cold build on a busy
// machine is slow, but it must not hang a test run forever).
const buildTimeout = 5 * time.Minute

var binary = sync.OnceValues(buildBinary)

// Binary returns the path of the zdb daemon binary. The first call in a
// process builds ./cmd/zdb of this module (or takes $ZEROSTOR_ZDB_BIN);
// later calls, concurrent ones included, return the same result.
//
// The binary is kept in a per-user, per-checkout directory under the
// system temporary directory and replaced atomically by every build, so
// that test processes neither leak binaries nor run a half-written one.
func Binary() (string, error) { return binary() }

func buildBinary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("testcluster: $%s: %w", BinaryEnv, err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return "", fmt.Errorf("testcluster: $%s: %w", BinaryEnv, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("testcluster: $%s=%s is not an executable file", BinaryEnv, abs)
		}
		return abs, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("zerostor-testcluster-%d", os.Getuid()), hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("testcluster: binary cache: %w", err)
	}
	removeStaleBuilds(dir)
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("testcluster: binary cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "zdb")

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/zdb")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testcluster: go build ./cmd/zdb in %s: %w\n%s", root, err, msg)
	}
	final := filepath.Join(dir, "zdb")
	if err := os.Rename(out, final); err != nil {
		return "", fmt.Errorf("testcluster: binary cache: %w", err)
	}
	return final, nil
}

// moduleRoot finds the directory of the zerostor module: the module of the
// working directory (tests run in their package directory, "go run" in the
// checkout), else the checkout this file was compiled from.
func moduleRoot() (string, error) {
	ok := func(dir string) bool {
		st, err := os.Stat(filepath.Join(dir, "cmd", "zdb"))
		return err == nil && st.IsDir()
	}
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		gomod := strings.TrimSpace(string(out))
		if gomod != "" && gomod != os.DevNull && ok(filepath.Dir(gomod)) {
			return filepath.Dir(gomod), nil
		}
	}
	if _, file, _, found := runtime.Caller(0); found && filepath.IsAbs(file) {
		dir := filepath.Dir(filepath.Dir(filepath.Dir(file))) // internal/testcluster/build.go
		if ok(dir) {
			return dir, nil
		}
	}
	return "", errors.New("testcluster: cannot find the zerostor module (with cmd/zdb) to build zdb from; run inside the checkout or set $" + BinaryEnv)
}

// removeStaleBuilds removes build directories that a process killed while
// building left behind (anything over an hour old).
func removeStaleBuilds(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "build-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
