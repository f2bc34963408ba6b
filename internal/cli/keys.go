package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
)

// keyOptions name one object: -f FILE (its path under root is the key) or
// -k KEY.
type keyOptions struct {
	File string
	Key  string
}

func (o *keyOptions) addFlags(fs *flag.FlagSet) {
	fileKeyFlags(fs, &o.File, &o.Key, "the object stored from `file` (its path under root is the key)", "object `key`")
}

// fileKeyFlags registers -f (--file) into file and -k (--key) into key,
// the 0-stor way of naming an object.
func fileKeyFlags(fs *flag.FlagSet, file, key *string, fileUsage, keyUsage string) {
	fs.StringVar(file, "f", "", fileUsage)
	fs.StringVar(file, "file", "", "same as -f")
	fs.StringVar(key, "k", "", keyUsage)
	fs.StringVar(key, "key", "", "same as -k")
}

// check refuses positional arguments and a missing -f / -k.
func (o keyOptions) check(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if o.File == "" && o.Key == "" {
		return usageErrorf("give -f FILE or -k KEY")
	}
	return nil
}

// objectCommand completes c into a command on the one object that -f FILE
// or -k KEY names (keyOptions): run gets the open store and the key.
func objectCommand(c *command, run func(ctx context.Context, g *globals, st daemon.Store, key string) error) *command {
	var o keyOptions
	c.addFlags = o.addFlags
	c.run = func(ctx context.Context, g *globals, args []string) error {
		if err := o.check(args); err != nil {
			return err
		}
		st, key, err := g.openKey(ctx, o.Key, o.File)
		if err != nil {
			return err
		}
		return run(ctx, g, st, key)
	}
	return c
}

// pathKey is the key of the file at path, as 0-stor makes it: the
// absolute path, with the config's root (a virtual root) stripped, so
// root=/mnt/data stores /mnt/data/a/b as "/a/b". A path outside the root
// is an error.
func pathKey(cfg *config.Config, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if cfg.Root == "" {
		return filepath.ToSlash(abs), nil
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the configured root %s", abs, root)
	}
	if rel == "." {
		return "", fmt.Errorf("%s is the configured root itself, not a file under it", abs)
	}
	return "/" + filepath.ToSlash(rel), nil
}

// keyOf is the key a command works on: -k when given, else the key of -f.
func keyOf(cfg *config.Config, key, file string) (string, error) {
	switch {
	case key != "":
		return key, nil
	case file == "-":
		return "", usageErrorf("-f - (stdin) needs -k KEY")
	case file != "":
		return pathKey(cfg, file)
	}
	return "", usageErrorf("give -f FILE or -k KEY")
}
