package cli

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

type retrieveOptions struct {
	File string
	Key  string
	Out  string
}

func newRetrieveCommand() *command {
	var o retrieveOptions
	return &command{
		name:  "retrieve",
		args:  "-f FILE [-k KEY] [-o OUT]",
		short: "retrieve an object into a file (or stdout with -o -)",
		long: `
As in 0-stor, -f FILE names both the object (its key is FILE's path under
root, unless -k KEY is given) and where it is written back. -o OUT writes
elsewhere; -o - streams to stdout. The object is written to a temporary file
beside the target and renamed into place only once all of it was read and
its checksum verified, so a failed retrieve never leaves a partial file.`,
		addFlags: o.addFlags,
		run:      func(ctx context.Context, g *globals, args []string) error { return runRetrieve(ctx, g, o, args) },
	}
}

func (o *retrieveOptions) addFlags(fs *flag.FlagSet) {
	fileKeyFlags(fs, &o.File, &o.Key, "`file` to restore (its path is the key unless -k is given)", "object `key`")
	fs.StringVar(&o.Out, "o", "", "write to `path` instead of FILE; - for stdout")
	fs.StringVar(&o.Out, "output", "", "same as -o")
}

func runRetrieve(ctx context.Context, g *globals, o retrieveOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	out := o.Out
	if out == "" {
		out = o.File
	}
	if out == "" {
		return usageErrorf("give -f FILE, or -k KEY with -o OUT")
	}
	if o.File == "-" {
		return usageErrorf("-f - is not a file to restore; use -k KEY -o -")
	}
	st, key, err := g.openKey(ctx, o.Key, o.File)
	if err != nil {
		return err
	}
	r, err := st.Get(ctx, key, zstor.GetOptions{})
	if err != nil {
		return notFound(key, err)
	}
	defer r.Close()
	info := r.Info()
	p := g.newProgress("retrieve "+quoteKey(key), info.Size)
	if out == "-" {
		err = copyVerified(g.env.Stdout, r, info, p)
		p.finish()
		if err != nil {
			return err
		}
		if g.json {
			// stdout holds the object; the JSON goes to stderr.
			fmt.Fprintf(g.env.Stderr, "%s\n", mustJSON(daemon.ObjectToJSON(info)))
		}
		return nil
	}
	err = writeFileAtomic(out, func(w io.Writer) error { return copyVerified(w, r, info, p) })
	p.finish()
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(struct {
			daemon.ObjectJSON
			Path string `json:"path"`
		}{daemon.ObjectToJSON(info), out})
	}
	return nil
}

// copyVerified copies the object to w and checks the whole content's
// BLAKE3 against the object's checksum (each block was verified already;
// this checks the assembly end to end).
func copyVerified(w io.Writer, r io.Reader, info zstor.ObjectInfo, p *progress) error {
	h := blake3.New()
	var done int64
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			done += int64(n)
			p.update(done)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if done != info.Size {
		return fmt.Errorf("%w: %s: read %d bytes, the object has %d", zstor.ErrCorrupt, quoteKey(info.Key), done, info.Size)
	}
	if info.Checksum != "" && hex.EncodeToString(h.Sum(nil)) != info.Checksum {
		return fmt.Errorf("%w: %s: content does not match its checksum", zstor.ErrCorrupt, quoteKey(info.Key))
	}
	return nil
}

// writeFileAtomic writes path through fill: into a temporary file in the
// same directory, synced, then renamed over path. On any error path is
// untouched and the temporary file removed. An existing file's mode is
// kept; a new file gets 0644.
func writeFileAtomic(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".zstor-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = fill(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
