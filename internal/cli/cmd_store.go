package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

type storeOptions struct {
	File        string
	Key         string
	KeyPath     string
	Delete      bool
	SaveFailure bool
}

func newStoreCommand() *command {
	var o storeOptions
	return &command{
		name:  "store",
		args:  "-f FILE [-k KEY] [-d]",
		short: "store a file, stdin (-f -) or every file under a directory",
		long: `
The key defaults to the file's absolute path, with the configuration's root
stripped (root = "/mnt/data" stores /mnt/data/a/b as /a/b). -k KEY names the
key instead; with -f - (stdin) it is required. When FILE is a directory,
every regular file under it is stored, and -k (or --key-path) is the
directory the files are stored as if they were in (0-stor's key path).
Prints "CHECKSUM  KEY" per object stored (BLAKE3-256 of the content).`,
		addFlags: o.addFlags,
		run:      func(ctx context.Context, g *globals, args []string) error { return runStore(ctx, g, o, args) },
	}
}

func (o *storeOptions) addFlags(fs *flag.FlagSet) {
	fileKeyFlags(fs, &o.File, &o.Key, "`file` to store; - for stdin; a directory stores every file under it",
		"object `key` (default: the file's path under root); for a directory, the key path")
	fs.StringVar(&o.KeyPath, "key-path", "", "store as if the file were in `directory` (0-stor's --key-path)")
	fs.BoolVar(&o.Delete, "d", false, "delete the local file once it is stored")
	fs.BoolVar(&o.Delete, "delete", false, "same as -d")
	fs.BoolVar(&o.SaveFailure, "s", false, "accepted for 0-stor compatibility; a failed store exits 1")
	fs.BoolVar(&o.SaveFailure, "save-failure", false, "same as -s")
}

func runStore(ctx context.Context, g *globals, o storeOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if o.File == "" {
		return usageErrorf("-f FILE is required")
	}
	if o.Key != "" && o.KeyPath != "" {
		return usageErrorf("give -k or --key-path, not both")
	}
	if o.File == "-" {
		if o.Key == "" {
			return usageErrorf("-f - (stdin) needs -k KEY")
		}
		if o.Delete {
			return usageErrorf("-d cannot delete stdin")
		}
	}
	var fi fs.FileInfo
	if o.File != "-" {
		var err error
		if fi, err = os.Stat(o.File); err != nil {
			return err
		}
	}
	st, cfg, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	switch {
	case o.File == "-":
		_, err := storeOne(ctx, g, st, o.Key, g.env.Stdin, -1)
		return err
	case fi.IsDir():
		return storeDir(ctx, g, st, cfg, o)
	}
	key := o.Key
	if key == "" {
		path := o.File
		if o.KeyPath != "" {
			path = filepath.Join(o.KeyPath, filepath.Base(o.File))
		}
		if key, err = pathKey(cfg, path); err != nil {
			return err
		}
	}
	return storeFile(ctx, g, st, o.File, key, o.Delete)
}

// storeFile stores the file at path under key.
func storeFile(ctx context.Context, g *globals, st daemon.Store, path, key string, del bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	if _, err := storeOne(ctx, g, st, key, f, size); err != nil {
		return err
	}
	if del {
		f.Close()
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("stored, but not deleted: %w", err)
		}
	}
	return nil
}

func storeOne(ctx context.Context, g *globals, st daemon.Store, key string, r io.Reader, size int64) (zstor.ObjectInfo, error) {
	p := g.newProgress("store "+quoteKey(key), size)
	info, err := st.Put(ctx, key, r, zstor.PutOptions{Progress: p.update})
	p.finish()
	if err != nil {
		return info, err
	}
	return info, g.result(daemon.ObjectToJSON(info), "%s  %s\n", info.Checksum, quoteKey(info.Key))
}

// storeDir stores every regular file under o.File. A failure does not stop
// the others; the command fails if any did.
func storeDir(ctx context.Context, g *globals, st daemon.Store, cfg *config.Config, o storeOptions) error {
	base := o.Key
	if base == "" {
		base = o.KeyPath
	}
	var dirs []string
	failed := 0
	err := filepath.WalkDir(o.File, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		if !d.Type().IsRegular() {
			g.log.Info("skipped: not a regular file", "path", path)
			return nil
		}
		keyPath := path
		if base != "" {
			rel, err := filepath.Rel(o.File, path)
			if err != nil {
				return err
			}
			keyPath = filepath.Join(base, rel)
		}
		key, err := pathKey(cfg, keyPath)
		if err == nil {
			err = storeFile(ctx, g, st, path, key, o.Delete)
		}
		if err != nil {
			failed++
			fmt.Fprintf(g.env.Stderr, "zstor: store %s: %v\n", path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if o.Delete {
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i]) // only succeeds once empty
		}
	}
	if failed > 0 {
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d file(s) not stored", failed)}
	}
	return nil
}
