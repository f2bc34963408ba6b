package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zerostor/zerostor/internal/zdb/store"
)

// Namespace access states set by NSSET lock/freeze (not persisted, as in 0-db).
const (
	stateOpen int32 = iota
	stateLocked
	stateFrozen
)

// settings are a namespace's persisted properties.
type settings struct {
	Version  int    `json:"version"`
	Password string `json:"password,omitempty"`
	Public   bool   `json:"public"`
	Worm     bool   `json:"worm"`
	MaxSize  int64  `json:"maxsize"`
	Mode     string `json:"mode"`
}

// namespace is one namespace: its settings and its store.
type namespace struct {
	name string
	// mu guards set and st against NSSET/FLUSH/RELOAD; commands read them
	// under RLock.
	mu      sync.RWMutex
	set     settings
	st      *store.Store
	state   atomic.Int32
	deleted atomic.Bool
	// waiters counts WAIT calls parked on this namespace.
	waiters atomic.Int32
}

// namespaces is the registry of all namespaces.
type namespaces struct {
	srv   *Server
	mu    sync.RWMutex
	byKey map[string]*namespace
	order []string // creation order, "default" first
}

const settingsFile = "zdb-namespace.json"

func validNSName(name string) error {
	switch {
	case len(name) > 128:
		return errNSTooLong
	case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00"):
		return errNSNotAllowed
	}
	return nil
}

func (r *namespaces) dirs(name string) (data, index string) {
	return filepath.Join(r.srv.cfg.DataDir, name), filepath.Join(r.srv.cfg.IndexDir, name)
}

// load opens every namespace found on disk and creates "default".
func (r *namespaces) load() error {
	r.byKey = make(map[string]*namespace)
	if err := os.MkdirAll(r.srv.cfg.IndexDir, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(r.srv.cfg.IndexDir)
	if err != nil {
		return err
	}
	names := []string{"default"}
	for _, e := range ents {
		if e.IsDir() && e.Name() != "default" {
			if _, err := os.Stat(filepath.Join(r.srv.cfg.IndexDir, e.Name(), settingsFile)); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names[1:])
	for _, name := range names {
		ns, err := r.open(name, name == "default")
		if err != nil {
			r.closeAll()
			return fmt.Errorf("namespace %q: %w", name, err)
		}
		r.byKey[name] = ns
		r.order = append(r.order, name)
	}
	return nil
}

// open loads (or with create, makes) one namespace.
func (r *namespaces) open(name string, create bool) (*namespace, error) {
	_, idir := r.dirs(name)
	ns := &namespace{name: name, set: settings{Version: 1, Public: true, Mode: r.srv.defaultMode().String()}}
	b, err := os.ReadFile(filepath.Join(idir, settingsFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &ns.set); err != nil {
			return nil, fmt.Errorf("read settings: %w", err)
		}
	case errors.Is(err, os.ErrNotExist) && create:
		if err := os.MkdirAll(idir, 0o700); err != nil {
			return nil, err
		}
		if err := r.save(ns); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if r.srv.cfg.Mode != "" {
		ns.set.Mode = r.srv.cfg.Mode
	}
	if name == "default" {
		// Start-up flags apply to default in memory only, as in 0-db.
		ns.set.Public = true
		ns.set.Password = ""
		if r.srv.cfg.Protect {
			ns.set.Password = r.srv.cfg.Admin
		}
		if r.srv.cfg.MaxSize > 0 {
			ns.set.MaxSize = r.srv.cfg.MaxSize
		}
	}
	if err := r.openStore(ns); err != nil {
		return nil, err
	}
	return ns, nil
}

func (r *namespaces) openStore(ns *namespace) error {
	mode, err := store.ParseMode(ns.set.Mode)
	if err != nil {
		return err
	}
	ddir, idir := r.dirs(ns.name)
	cfg := r.srv.cfg
	st, err := store.Open(store.Options{
		DataDir:       ddir,
		IndexDir:      idir,
		Mode:          mode,
		DataSize:      cfg.DataSize,
		MaxSize:       ns.set.MaxSize,
		Sync:          cfg.Sync,
		SyncInterval:  cfg.SyncInterval,
		CompactRatio:  cfg.CompactRatio,
		ScrubRate:     cfg.ScrubRate,
		ScrubInterval: cfg.ScrubInterval,
		Logger:        r.srv.log.With("namespace", ns.name),
		Events:        &nsEvents{srv: r.srv, ns: ns.name, ddir: ddir, idir: idir},
	})
	if err != nil {
		return err
	}
	ns.st = st
	return nil
}

// save persists a namespace's settings atomically. For "default" only the
// mode is meaningful on disk.
func (r *namespaces) save(ns *namespace) error {
	_, idir := r.dirs(ns.name)
	set := ns.set
	if ns.name == "default" {
		set.Password, set.MaxSize, set.Public = "", 0, true
	}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(idir, settingsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(idir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (r *namespaces) get(name string) *namespace {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byKey[name]
}

func (r *namespaces) list() []*namespace {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*namespace, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.byKey[n])
	}
	return out
}

// create makes a new namespace.
func (r *namespaces) create(name string) error {
	if err := validNSName(name); err != nil {
		return err
	}
	if name == "default" {
		return errNSNotAllowed
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey[name] != nil {
		return errNSExists
	}
	ddir, idir := r.dirs(name)
	if _, err := os.Stat(idir); err == nil {
		return errNSExists
	}
	ns, err := r.open(name, true)
	if err != nil {
		os.RemoveAll(idir)
		os.RemoveAll(ddir)
		return fmt.Errorf("%w: %v", errNSCreate, err)
	}
	r.byKey[name] = ns
	r.order = append(r.order, name)
	return nil
}

// remove deletes a namespace and all its data.
func (r *namespaces) remove(ns *namespace) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey[ns.name] != ns {
		return errNSNotFound
	}
	ns.deleted.Store(true)
	delete(r.byKey, ns.name)
	for i, n := range r.order {
		if n == ns.name {
			r.order = append(r.order[:i:i], r.order[i+1:]...)
			break
		}
	}
	ns.mu.Lock()
	ns.st.Close()
	ns.mu.Unlock()
	ddir, idir := r.dirs(ns.name)
	err := errors.Join(os.RemoveAll(ddir), os.RemoveAll(idir))
	if err != nil {
		return fmt.Errorf("%w: %v", errNSDelete, err)
	}
	return nil
}

// reset empties a namespace (FLUSH) or reopens it from disk (RELOAD, mode
// change), keeping its settings.
func (r *namespaces) reset(ns *namespace, wipe bool) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if err := ns.st.Close(); err != nil {
		r.srv.log.Warn("closing namespace store", "namespace", ns.name, "err", err)
	}
	if wipe {
		ddir, idir := r.dirs(ns.name)
		if err := os.RemoveAll(ddir); err != nil {
			return err
		}
		if err := removeExcept(idir, settingsFile); err != nil {
			return err
		}
	}
	return r.openStore(ns)
}

func removeExcept(dir, keep string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() != keep {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *namespaces) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ns := range r.byKey {
		ns.mu.Lock()
		if err := ns.st.Close(); err != nil {
			r.srv.log.Error("closing namespace", "namespace", ns.name, "err", err)
		}
		ns.mu.Unlock()
	}
}

var _ store.Events = (*nsEvents)(nil)

// nsEvents turns store events into hooks and metrics for one namespace.
type nsEvents struct {
	srv        *Server
	ns         string
	ddir, idir string
}

func (e *nsEvents) Rotated(prev, next uint32, dirty []uint32) {
	ids := make([]string, len(dirty))
	for i, id := range dirty {
		ids[i] = strconv.FormatUint(uint64(id), 10)
	}
	e.srv.hooks.run("jump-index", false, store.HintPath(e.idir, prev), store.HintPath(e.idir, next), strings.Join(ids, " "))
	e.srv.hooks.run("jump-data", false, store.DataPath(e.ddir, prev), store.DataPath(e.ddir, next))
}

func (e *nsEvents) Corrupt(file uint32, off int64, err error) {
	e.srv.metrics.corrupt.WithLabelValues(e.ns).Inc()
}

func (e *nsEvents) MissingData(path string) bool {
	return e.srv.hooks.run("missing-data", true, path) == nil
}
