package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zerostor/zerostor/internal/config"
)

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
