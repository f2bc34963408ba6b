package config

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Redacted replaces secrets in every printed form of Config, Encryption,
// Backend and S3.
const Redacted = "***"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// format implements fmt.Formatter for a type with String and GoString: %#v
// is GoString, every other verb formats String, so no verb reaches the
// fields.
func format(f fmt.State, verb rune, s, gs string) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, gs)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s)
}

// String describes the encryption with the key redacted.
func (e Encryption) String() string {
	var b strings.Builder
	b.WriteString(e.Algorithm)
	if e.Algorithm == "" {
		b.WriteString("(no algorithm)")
	}
	if e.Key != "" {
		b.WriteString(" key=" + Redacted)
	}
	if e.KeyFile != "" {
		b.WriteString(" key_file=" + e.KeyFile)
	}
	return b.String()
}

type encryptionPlain Encryption

// GoString is Go syntax with the key redacted.
func (e Encryption) GoString() string {
	p := encryptionPlain(e)
	p.Key = redact(p.Key)
	return strings.Replace(fmt.Sprintf("%#v", p), "config.encryptionPlain", "config.Encryption", 1)
}

// Format keeps the key out of every fmt verb.
func (e Encryption) Format(f fmt.State, verb rune) { format(f, verb, e.String(), e.GoString()) }

// String is "address/namespace", with the password redacted and the labels.
func (b Backend) String() string {
	var s strings.Builder
	s.WriteString(b.Address)
	s.WriteString("/")
	if b.Namespace == "" {
		s.WriteString(DefaultNamespace)
	} else {
		s.WriteString(b.Namespace)
	}
	if b.Password != "" {
		s.WriteString(" password=" + Redacted)
	}
	if len(b.Labels) > 0 {
		s.WriteString(" " + labelString(b.Labels))
	}
	return s.String()
}

type backendPlain Backend

// GoString is Go syntax with the password redacted.
func (b Backend) GoString() string {
	p := backendPlain(b)
	p.Password = redact(p.Password)
	return strings.Replace(fmt.Sprintf("%#v", p), "config.backendPlain", "config.Backend", 1)
}

// Format keeps the password out of every fmt verb.
func (b Backend) Format(f fmt.State, verb rune) { format(f, verb, b.String(), b.GoString()) }

// String describes [s3] with the secret key redacted.
func (s S3) String() string {
	var b strings.Builder
	listen := s.Listen
	if listen == "" {
		listen = "none"
	}
	fmt.Fprintf(&b, "listen=%s", listen)
	if s.AccessKey != "" {
		fmt.Fprintf(&b, " access_key=%s", s.AccessKey)
	}
	if s.SecretKey != "" {
		b.WriteString(" secret_key=" + Redacted)
	}
	fmt.Fprintf(&b, " region=%s upload_expiry=%s anonymous_read=%t", s.Region, formatDuration(s.UploadExpiry), s.AnonymousRead)
	return b.String()
}

type s3Plain S3

// GoString is Go syntax with the secret key redacted.
func (s S3) GoString() string {
	p := s3Plain(s)
	p.SecretKey = redact(p.SecretKey)
	return strings.Replace(fmt.Sprintf("%#v", p), "config.s3Plain", "config.S3", 1)
}

// Format keeps the secret key out of every fmt verb.
func (s S3) Format(f fmt.State, verb rune) { format(f, verb, s.String(), s.GoString()) }

// MarshalJSON keeps the secret key out of JSON.
func (s S3) MarshalJSON() ([]byte, error) {
	p := s3Plain(s)
	p.SecretKey = redact(p.SecretKey)
	return json.Marshal(p)
}

func labelString(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// String is a human summary of the configuration; keys, passwords and the
// S3 secret key are redacted.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shards: minimal_shards=%d expected_shards=%d (k=%d m=%d) write_quorum=%d redundant_groups=%d redundant_nodes=%d\n",
		c.MinimalShards, c.ExpectedShards, c.K(), c.M(), c.WriteQuorum, c.RedundantGroups, c.RedundantNodes)
	fmt.Fprintf(&b, "blocks: block_size=%s compression=%s encryption=%s\n", c.BlockSize, c.Compression.Algorithm, c.Encryption.String())
	fmt.Fprintf(&b, "meta_dir: %s\n", c.MetaDir)
	if c.Meta.Type != "" || len(c.Meta.Config.Backends) > 0 {
		mc := c.Meta.Config
		fmt.Fprintf(&b, "meta: type=%s prefix=%q", c.Meta.Type, mc.Prefix)
		if mc.Encryption != (Encryption{}) {
			fmt.Fprintf(&b, " encryption=%s", mc.Encryption.String())
		} else {
			b.WriteString(" encryption=derived from the master key")
		}
		b.WriteString("\n")
		for _, be := range mc.Backends {
			fmt.Fprintf(&b, "  %s\n", be.String())
		}
	}
	for i, g := range c.Groups {
		fmt.Fprintf(&b, "group %s", GroupName(g, i))
		if len(g.Labels) > 0 {
			b.WriteString(" " + labelString(g.Labels))
		}
		fmt.Fprintf(&b, ": %d backends\n", len(g.Backends))
		for _, be := range g.Backends {
			fmt.Fprintf(&b, "  %s\n", be.String())
		}
	}
	if len(c.Placement.Pin) > 0 || len(c.Placement.Exclude) > 0 {
		fmt.Fprintf(&b, "placement: pin=%q exclude=%q\n", c.Placement.Pin, c.Placement.Exclude)
	}
	r := c.Repair
	fmt.Fprintf(&b, "repair: terminal_after=%s probe_interval=%s rate=%s idle_rate=%s scrub_rate=%s scrub_interval=%s audit_interval=%s workers=%d\n",
		formatDuration(r.TerminalAfter), formatDuration(r.ProbeInterval), rateString(r.Rate, "unlimited"), rateString(r.IdleRate, "unlimited"),
		rateString(r.ScrubRate, "off"), formatDuration(r.ScrubInterval), offIfZero(r.AuditInterval), r.Workers)
	fmt.Fprintf(&b, "s3: %s\n", c.S3.String())
	for _, kv := range [][2]string{{"root", c.Root}, {"socket", c.Socket}, {"zdb_data_dir_path", c.ZdbDataDirPath}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
		}
	}
	if c.PrometheusPort != 0 {
		fmt.Fprintf(&b, "prometheus_port: %d\n", c.PrometheusPort)
	}
	if c.MaxZdbDataDirSize != 0 {
		fmt.Fprintf(&b, "max_zdb_data_dir_size: %d MiB\n", c.MaxZdbDataDirSize)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// rateString is a rate of [repair] in bytes per second; zero when it is 0.
func rateString(v ByteSize, zero string) string {
	if v == 0 {
		return zero
	}
	return v.String() + "/s"
}

func offIfZero(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return formatDuration(d)
}

type configPlain Config

// GoString is Go syntax; the nested Encryption, Backend and S3 values
// print with their secrets redacted.
func (c Config) GoString() string {
	return strings.Replace(fmt.Sprintf("%#v", configPlain(c)), "config.configPlain", "config.Config", 1)
}

// Format keeps secrets out of every fmt verb: %#v is GoString, any other
// verb formats String.
func (c Config) Format(f fmt.State, verb rune) { format(f, verb, c.String(), c.GoString()) }

// MarshalJSON keeps the key out of JSON (logs with slog's JSON handler, for
// one); the TOML file is written by Config.Marshal, which keeps it.
func (e Encryption) MarshalJSON() ([]byte, error) {
	p := encryptionPlain(e)
	p.Key = redact(p.Key)
	return json.Marshal(p)
}

// MarshalJSON keeps the password out of JSON.
func (b Backend) MarshalJSON() ([]byte, error) {
	p := backendPlain(b)
	p.Password = redact(p.Password)
	return json.Marshal(p)
}
