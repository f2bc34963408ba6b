package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// Marshal encodes the configuration as TOML that Parse reads back to the same
// Config. Of [repair] and [s3] it writes the keys that differ from their
// defaults, and no table when none does. It writes the key and the S3
// secret key in clear (the file is their home: keep it mode 0600, as
// WriteFile does); keys taken from the environment ($ZSTOR_KEY,
// $ZSTOR_S3_ACCESS_KEY, $ZSTOR_S3_SECRET_KEY) are not part of Config and
// are not written.
func (c *Config) Marshal() ([]byte, error) {
	k, n := c.MinimalShards, c.ExpectedShards
	r := rawConfig{
		MinimalShards:     &k,
		ExpectedShards:    &n,
		RedundantGroups:   c.RedundantGroups,
		RedundantNodes:    c.RedundantNodes,
		Root:              c.Root,
		Socket:            c.Socket,
		PidFile:           c.Legacy.PidFile,
		PrometheusPort:    c.PrometheusPort,
		ZdbDataDirPath:    c.ZdbDataDirPath,
		ZdbIndexDirPath:   c.Legacy.ZdbIndexDirPath,
		MaxZdbDataDirSize: c.MaxZdbDataDirSize,
		ZdbfsMountpoint:   c.Legacy.ZdbfsMountpoint,
		Network:           c.Legacy.Network,
		IdentityName:      c.Legacy.IdentityName,
		IdentityEmail:     c.Legacy.IdentityEmail,
		IdentityID:        c.Legacy.IdentityID,
		MetaDir:           c.MetaDir,
		WriteQuorum:       c.WriteQuorum,
		Encryption:        fromEncryption(c.Encryption),
	}
	if c.BlockSize != 0 {
		bs := c.BlockSize
		r.BlockSize = &bs
	}
	if c.SmallObjectSize != DefaultSmallObjectSize {
		so := c.SmallObjectSize
		r.SmallObject = &so
	}
	if c.Compression.Algorithm != "" {
		r.Compression = &rawCompression{Algorithm: c.Compression.Algorithm}
	}
	mc := c.Meta.Config
	if c.Meta.Type != "" || mc.Prefix != "" || len(mc.Backends) > 0 || mc.Encryption != (Encryption{}) {
		r.Meta = &rawMeta{Type: c.Meta.Type, Config: &rawMetaConfig{
			Prefix:     mc.Prefix,
			Encryption: fromEncryption(mc.Encryption),
			Backends:   fromBackends(mc.Backends),
		}}
	}
	if len(c.Placement.Pin) > 0 || len(c.Placement.Exclude) > 0 {
		r.Placement = &rawPlacement{Pin: c.Placement.Pin, Exclude: c.Placement.Exclude}
	}
	r.Repair = fromRepair(c.Repair)
	r.S3 = fromS3(c.S3)
	for _, g := range c.Groups {
		r.Groups = append(r.Groups, rawGroup{Name: g.Name, Labels: fromLabels(g.Labels), Backends: fromBackends(g.Backends)})
	}
	var buf bytes.Buffer
	buf.WriteString("# zstor configuration; every key is described in docs/configuration.md.\n")
	buf.WriteString("# It holds the encryption key: keep it private (mode 0600).\n\n")
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

func fromEncryption(e Encryption) *rawEncryption {
	if e == (Encryption{}) {
		return nil
	}
	return &rawEncryption{Algorithm: e.Algorithm, Key: e.Key, KeyFile: e.KeyFile}
}

// fromRepair is [repair] with the keys that differ from their defaults;
// nil, no table, when none does. The zero Repair of a Config that did not
// go through EnsureDefaults is written as it is, every key 0, since that is
// what Parse reads from such a file.
func fromRepair(r Repair) *rawRepair {
	d := DefaultRepair()
	if r == d {
		return nil
	}
	return &rawRepair{
		TerminalAfter: unlessDefault(duration(r.TerminalAfter), duration(d.TerminalAfter)),
		ProbeInterval: unlessDefault(duration(r.ProbeInterval), duration(d.ProbeInterval)),
		Rate:          unlessDefault(r.Rate, d.Rate),
		IdleRate:      unlessDefault(r.IdleRate, d.IdleRate),
		ScrubRate:     unlessDefault(r.ScrubRate, d.ScrubRate),
		ScrubInterval: unlessDefault(duration(r.ScrubInterval), duration(d.ScrubInterval)),
		AuditInterval: unlessDefault(duration(r.AuditInterval), duration(d.AuditInterval)),
		Workers:       unlessDefault(r.Workers, d.Workers),
	}
}

// fromS3 is [s3] with the keys that differ from their defaults; nil, no
// table, when none does. An empty region and a zero upload_expiry are the
// defaults, as Parse reads them.
func fromS3(s S3) *rawS3 {
	if s.Region == DefaultS3Region {
		s.Region = ""
	}
	if s.UploadExpiry == DefaultS3UploadExpiry {
		s.UploadExpiry = 0
	}
	if s == (S3{}) {
		return nil
	}
	return &rawS3{
		Listen:        s.Listen,
		AccessKey:     s.AccessKey,
		SecretKey:     s.SecretKey,
		Region:        s.Region,
		UploadExpiry:  unlessDefault(duration(s.UploadExpiry), 0),
		AnonymousRead: s.AnonymousRead,
	}
}

// unlessDefault is &v, or nil (key not written) when v is the default.
func unlessDefault[T comparable](v, def T) *T {
	if v == def {
		return nil
	}
	return &v
}

func fromBackends(bs []Backend) []rawBackend {
	var out []rawBackend
	for _, b := range bs {
		out = append(out, rawBackend{Address: b.Address, Namespace: b.Namespace, Password: b.Password, Labels: fromLabels(b.Labels)})
	}
	return out
}

func fromLabels(m map[string]string) map[string]labelValue {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]labelValue, len(m))
	for k, v := range m {
		out[k] = labelValue(v)
	}
	return out
}

// WriteFile writes the configuration to path atomically (a temporary file in
// the same directory, synced, then renamed over path) with mode 0600, since
// it holds the key.
func WriteFile(path string, c *Config) (err error) {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return nil
}
