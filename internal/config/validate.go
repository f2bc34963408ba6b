package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// problems collects FieldErrors.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fieldErr(key, format, args...))
}

// Validate checks the whole configuration and reports every problem at once
// (errors.Join of *FieldError, each naming its key; all match ErrInvalid).
// It reads $ZSTOR_KEY and encryption.key_file to check the master key.
func (c *Config) Validate() error {
	var p problems
	c.validateShards(&p)
	c.validateGroups(&p)
	c.validateEncryption(&p)
	c.validateMeta(&p)
	c.validateRepair(&p)
	c.validateS3(&p)

	switch c.Compression.Algorithm {
	case "zstd", "snappy", "none":
	case "":
		p.add("compression.algorithm", "missing (use zstd, snappy or none)")
	default:
		p.add("compression.algorithm", "unknown algorithm %q (use zstd, snappy or none; names are lower case)", c.Compression.Algorithm)
	}
	if c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize {
		p.add("block_size", "%s is out of bounds (%s to %s)", c.BlockSize, MinBlockSize, MaxBlockSize)
	}
	if c.SmallObjectSize < 0 || c.SmallObjectSize > MaxSmallObjectSize {
		p.add("small_object_size", "%s is out of bounds (0 to %s)", c.SmallObjectSize, MaxSmallObjectSize)
	}
	if c.MetaDir == "" {
		p.add("meta_dir", "not set, and no default: set meta_dir, $%s or $HOME", EnvMetaDir)
	}
	if c.PrometheusPort < 0 || c.PrometheusPort > 65535 {
		p.add("prometheus_port", "%d is not a port (0 to 65535; 0 disables metrics)", c.PrometheusPort)
	}
	if c.MaxZdbDataDirSize < 0 {
		p.add("max_zdb_data_dir_size", "%d is negative", c.MaxZdbDataDirSize)
	}
	for i, s := range c.Placement.Pin {
		if err := checkSelector(s); err != nil {
			p.add(fmt.Sprintf("placement.pin[%d]", i), "%v", err)
		}
	}
	for i, s := range c.Placement.Exclude {
		if err := checkSelector(s); err != nil {
			p.add(fmt.Sprintf("placement.exclude[%d]", i), "%v", err)
		}
	}
	return errors.Join(p...)
}

func (c *Config) validateShards(p *problems) {
	k, n := c.MinimalShards, c.ExpectedShards
	kOK := k >= 1
	if !kOK {
		p.add("minimal_shards", "must be at least 1 (got %d)", k)
	}
	nOK := true
	switch {
	case n > MaxShards:
		p.add("expected_shards", "%d exceeds the maximum of %d", n, MaxShards)
		nOK = false
	case kOK && n < k:
		p.add("expected_shards", "%d is less than minimal_shards = %d (expected_shards counts all shards, data and parity)", n, k)
		nOK = false
	case !kOK && n < 1:
		p.add("expected_shards", "must be at least 1 (got %d)", n)
		nOK = false
	}
	if c.RedundantGroups < 0 {
		p.add("redundant_groups", "%d is negative", c.RedundantGroups)
	} else if len(c.Groups) > 0 && c.RedundantGroups >= len(c.Groups) {
		p.add("redundant_groups", "%d: cannot lose that many of %d groups and still read the data", c.RedundantGroups, len(c.Groups))
	}
	if c.RedundantNodes < 0 {
		p.add("redundant_nodes", "%d is negative", c.RedundantNodes)
	}
	if !kOK || !nOK {
		return // write_quorum bounds depend on k and N
	}
	lo := k + 1
	if n == k {
		lo = k
	}
	if c.WriteQuorum < lo || c.WriteQuorum > n {
		if lo == n {
			p.add("write_quorum", "%d: must be %d with minimal_shards = %d and expected_shards = %d", c.WriteQuorum, n, k, n)
		} else {
			p.add("write_quorum", "%d is out of bounds (%d to %d, i.e. minimal_shards+1 to expected_shards)", c.WriteQuorum, lo, n)
		}
	}
}

func (c *Config) validateGroups(p *problems) {
	if len(c.Groups) == 0 {
		p.add("groups", "no groups: at least one [[groups]] with [[groups.backends]] is needed")
		return
	}
	names := map[string]int{}
	where := map[string]string{}
	for i, g := range c.Groups {
		gkey := fmt.Sprintf("groups[%d]", i)
		name := GroupName(g, i)
		if j, dup := names[name]; dup {
			p.add(gkey+".name", "%q is also the name of groups[%d]", name, j)
		} else {
			names[name] = i
		}
		checkLabels(p, gkey+".labels", g.Labels)
		if len(g.Backends) == 0 {
			p.add(gkey+".backends", "group %q has no backends", name)
		}
		for j, b := range g.Backends {
			c.checkBackend(p, fmt.Sprintf("%s.backends[%d]", gkey, j), b, where)
		}
	}
	if n := c.ExpectedShards; n > 0 && len(where) < n {
		p.add("groups", "%d distinct backends (address/namespace) cannot hold expected_shards = %d shards of a block: add backends or lower expected_shards", len(where), n)
	}
}

// checkBackend checks backend b, at key, and that it is none of those in
// seen (backend id to key), to which it adds itself.
func (c *Config) checkBackend(p *problems, key string, b Backend, seen map[string]string) {
	if err := checkAddress(b.Address); err != nil {
		p.add(key+".address", "%v", err)
	}
	if err := checkNamespace(b.Namespace); err != nil {
		p.add(key+".namespace", "%v", err)
	}
	checkLabels(p, key+".labels", b.Labels)
	id := c.BackendID(b)
	if prev, dup := seen[id]; dup {
		p.add(key, "duplicate backend %s (also %s)", id, prev)
	} else {
		seen[id] = key
	}
}

func (c *Config) validateEncryption(p *problems) {
	before := len(*p)
	checkEncryption(p, "encryption", c.Encryption)
	if len(*p) > before {
		return
	}
	if _, err := c.MasterKey(); err != nil {
		*p = append(*p, err)
	}
}

// checkEncryption checks an [encryption] table without reading any file.
func checkEncryption(p *problems, key string, e Encryption) {
	if !validAlgorithm(e.Algorithm) {
		p.add(key+".algorithm", "unknown algorithm %q (use AES, i.e. AES-256-GCM)", e.Algorithm)
	}
	if e.Key != "" && e.KeyFile != "" {
		p.add(key+".key_file", "set key or key_file, not both")
	}
	if e.Key != "" {
		if _, err := parseHexKey(e.Key); err != nil {
			p.add(key+".key", "%v", err)
		}
	}
}

func validAlgorithm(a string) bool {
	return strings.EqualFold(a, "AES") || strings.EqualFold(a, "AES-256-GCM")
}

func (c *Config) validateMeta(p *problems) {
	mc := c.Meta.Config
	switch c.Meta.Type {
	case MetaTypeZdb:
		if len(mc.Backends) == 0 {
			p.add("meta.config.backends", "type %q needs at least one backend (0-stor uses 4)", MetaTypeZdb)
		}
	case "":
		if len(mc.Backends) > 0 {
			p.add("meta.type", "missing: set type = %q to use meta.config.backends", MetaTypeZdb)
		}
	default:
		p.add("meta.type", "unknown type %q (only %q is supported; leave [meta] out to keep metadata copies on the data backends)", c.Meta.Type, MetaTypeZdb)
	}
	if e := mc.Encryption; e != (Encryption{}) {
		checkEncryption(p, "meta.config.encryption", e)
	}
	seen := map[string]string{}
	for j, b := range mc.Backends {
		c.checkBackend(p, fmt.Sprintf("meta.config.backends[%d]", j), b, seen)
	}
}

func (c *Config) validateRepair(p *problems) {
	r := c.Repair
	atLeast := func(key string, d, lo time.Duration) {
		switch {
		case d < 0:
			p.add(key, "%s is negative", formatDuration(d))
		case d < lo:
			p.add(key, "%s is below the minimum of %s", formatDuration(d), formatDuration(lo))
		}
	}
	atLeast("repair.terminal_after", r.TerminalAfter, MinTerminalAfter)
	if d := r.ProbeInterval; d < 0 {
		p.add("repair.probe_interval", "%s is negative", formatDuration(d))
	} else if d < MinProbeInterval || d > MaxProbeInterval {
		p.add("repair.probe_interval", "%s is out of bounds (%s to %s)", formatDuration(d), formatDuration(MinProbeInterval), formatDuration(MaxProbeInterval))
	}
	for _, rate := range []struct {
		key  string
		v    ByteSize
		zero string // what 0 means
	}{
		{"repair.rate", r.Rate, "unlimited"},
		{"repair.idle_rate", r.IdleRate, "unlimited"},
		{"repair.scrub_rate", r.ScrubRate, "no background scrub"},
	} {
		if rate.v < 0 {
			p.add(rate.key, "%d is negative (0 means %s)", int64(rate.v), rate.zero)
		}
	}
	atLeast("repair.scrub_interval", r.ScrubInterval, MinScrubInterval)
	if r.AuditInterval != 0 {
		atLeast("repair.audit_interval", r.AuditInterval, MinAuditInterval)
	}
	if r.Workers < 1 || r.Workers > MaxRepairWorkers {
		p.add("repair.workers", "%d is out of bounds (1 to %d)", r.Workers, MaxRepairWorkers)
	}
}

func (c *Config) validateS3(p *problems) {
	s := c.S3
	if s.Listen != "" {
		if err := CheckListen(s.Listen); err != nil {
			p.add("s3.listen", "%v", err)
		}
	}
	if err := checkRegion(s.Region); err != nil {
		p.add("s3.region", "%v", err)
	}
	if d := s.UploadExpiry; d < MinS3UploadExpiry {
		p.add("s3.upload_expiry", "%s is below the minimum of %s", formatDuration(d), formatDuration(MinS3UploadExpiry))
	}
	if _, _, err := c.S3Credentials(); err != nil {
		*p = append(*p, err)
	}
}

// CheckListen checks a TCP listen address, host:port: the host may be
// empty (every interface), a name or an IP address (IPv6 in brackets); the
// port is from 0 (any free port) to 65535.
func CheckListen(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. \"127.0.0.1:9000\", \":9000\" for every interface, IPv6 as \"[::1]:9000\")", a)
	}
	if pn, err := strconv.Atoi(port); err != nil || pn < 0 || pn > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", a, port)
	}
	if host == "" {
		return nil
	}
	return checkHost(a, host)
}

// checkRegion: a region goes into every signature's scope
// ("date/region/s3/aws4_request"): letters, digits, '-' and '_'.
func checkRegion(r string) error {
	if r == "" {
		return errors.New("empty")
	}
	if len(r) > 64 {
		return errors.New("longer than 64 characters")
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%q: only letters, digits, '-' and '_' (e.g. %q)", r, DefaultS3Region)
		}
	}
	return nil
}

// checkAddress accepts host:port (IPv6 in brackets) and absolute unix socket
// paths.
func checkAddress(a string) error {
	if a == "" {
		return errors.New("missing")
	}
	if strings.HasPrefix(a, "/") {
		if strings.ContainsRune(a, 0) {
			return errors.New("unix socket path contains a NUL byte")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is neither host:port (IPv6 as [addr]:port) nor an absolute unix socket path", a)
	}
	if pn, err := strconv.Atoi(port); err != nil || pn < 1 || pn > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", a, port)
	}
	if host == "" {
		return fmt.Errorf("%q: missing host", a)
	}
	return checkHost(a, host)
}

// checkHost checks the host part of the address a: a name, an IPv4 or an
// IPv6 address.
func checkHost(a, host string) error {
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q: %q is not an IPv6 address", a, host)
		}
		return nil
	}
	for _, r := range host {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("%q: %q is not a host name or IP address", a, host)
		}
	}
	return nil
}

func checkNamespace(ns string) error {
	if ns == "" {
		return nil // "default"
	}
	if len(ns) > 128 {
		return fmt.Errorf("longer than 128 bytes")
	}
	for _, r := range ns {
		if r == '/' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q contains %q", ns, r)
		}
	}
	return nil
}

func checkLabels(p *problems, key string, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if err := checkLabelName(k); err != nil {
			p.add(key, "label name %q: %v", k, err)
		} else if k == "group" || k == "id" {
			p.add(key, "label name %q is reserved: the selectors group=<name> and id=<address>/<namespace> match the group name and the backend", k)
		}
	}
}

// checkLabelName: the names selectors can match (the rules of package
// placement's ParseSelector).
func checkLabelName(k string) error {
	if k == "" {
		return errors.New("empty")
	}
	for _, r := range k {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-' || r == '/'
		if !ok {
			return fmt.Errorf("only letters, digits and . _ - / are allowed")
		}
	}
	return nil
}

// checkSelector checks a placement selector: "key=value".
func checkSelector(s string) error {
	k, v, ok := strings.Cut(strings.TrimSpace(s), "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || k == "" || v == "" {
		return fmt.Errorf("%q is not a key=value selector (e.g. \"country=BE\", \"group=g2\")", s)
	}
	if strings.HasSuffix(k, "!") {
		return fmt.Errorf("%q: negation is not supported (use placement.exclude)", s)
	}
	if err := checkLabelName(k); err != nil {
		return fmt.Errorf("%q: label name %q: %v", s, k, err)
	}
	return nil
}
