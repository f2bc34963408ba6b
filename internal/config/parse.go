package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// rawConfig is the file as TOML sees it. Pointers tell an absent key from a
// zero; the 0-stor legacy keys are here so that they decode (and so are not
// unknown) even though Config drops some of them.
type rawConfig struct {
	MinimalShards   *int `toml:"minimal_shards"`
	ExpectedShards  *int `toml:"expected_shards"`
	DataShards      *int `toml:"data_shards"`   // 0-stor before minimal_shards
	ParityShards    *int `toml:"parity_shards"` // 0-stor before expected_shards
	RedundantGroups int  `toml:"redundant_groups"`
	RedundantNodes  int  `toml:"redundant_nodes"`

	Root              string `toml:"root,omitempty"`
	Socket            string `toml:"socket,omitempty"`
	PidFile           string `toml:"pid_file,omitempty"`
	PrometheusPort    int    `toml:"prometheus_port,omitzero"`
	ZdbDataDirPath    string `toml:"zdb_data_dir_path,omitempty"`
	ZdbIndexDirPath   string `toml:"zdb_index_dir_path,omitempty"`
	MaxZdbDataDirSize int64  `toml:"max_zdb_data_dir_size,omitzero"`
	ZdbfsMountpoint   string `toml:"zdbfs_mountpoint,omitempty"`
	Network           string `toml:"network,omitempty"`
	WalletSecret      string `toml:"wallet_secret,omitempty"` // dropped
	IdentityName      string `toml:"identity_name,omitempty"`
	IdentityEmail     string `toml:"identity_email,omitempty"`
	IdentityID        int64  `toml:"identity_id,omitzero"`
	IdentityMnemonic  string `toml:"identity_mnemonic,omitempty"` // dropped

	MetaDir     string    `toml:"meta_dir,omitempty"`
	BlockSize   *ByteSize `toml:"block_size"`
	SmallObject *ByteSize `toml:"small_object_size"`
	WriteQuorum int       `toml:"write_quorum,omitzero"`

	Encryption  *rawEncryption  `toml:"encryption"`
	Compression *rawCompression `toml:"compression"`
	Meta        *rawMeta        `toml:"meta"`
	Placement   *rawPlacement   `toml:"placement"`
	Repair      *rawRepair      `toml:"repair"`
	S3          *rawS3          `toml:"s3"`
	Groups      []rawGroup      `toml:"groups"`
}

type rawEncryption struct {
	Algorithm string `toml:"algorithm,omitempty"`
	Key       string `toml:"key,omitempty"`
	KeyFile   string `toml:"key_file,omitempty"`
}

type rawCompression struct {
	Algorithm string `toml:"algorithm,omitempty"`
}

type rawMeta struct {
	Type   string         `toml:"type,omitempty"`
	Config *rawMetaConfig `toml:"config"`
}

type rawMetaConfig struct {
	Prefix       string         `toml:"prefix,omitempty"`
	DataShards   *int           `toml:"data_shards"`   // old 0-stor, ignored
	ParityShards *int           `toml:"parity_shards"` // old 0-stor, ignored
	Encryption   *rawEncryption `toml:"encryption"`
	Backends     []rawBackend   `toml:"backends"`
}

type rawPlacement struct {
	Pin     []string `toml:"pin,omitempty"`
	Exclude []string `toml:"exclude,omitempty"`
}

// rawRepair is [repair]; nil pointers are absent keys, which take their
// defaults.
type rawRepair struct {
	TerminalAfter *duration `toml:"terminal_after"`
	ProbeInterval *duration `toml:"probe_interval"`
	Rate          *ByteSize `toml:"rate"`
	IdleRate      *ByteSize `toml:"idle_rate"`
	ScrubRate     *ByteSize `toml:"scrub_rate"`
	ScrubInterval *duration `toml:"scrub_interval"`
	AuditInterval *duration `toml:"audit_interval"`
	Workers       *int      `toml:"workers"`
}

// rawS3 is [s3]; an absent region or upload_expiry takes its default.
type rawS3 struct {
	Listen        string    `toml:"listen,omitempty"`
	AccessKey     string    `toml:"access_key,omitempty"`
	SecretKey     string    `toml:"secret_key,omitempty"`
	Region        string    `toml:"region,omitempty"`
	UploadExpiry  *duration `toml:"upload_expiry"`
	AnonymousRead bool      `toml:"anonymous_read,omitempty"`
}

type rawGroup struct {
	Name     string                `toml:"name,omitempty"`
	Labels   map[string]labelValue `toml:"labels,omitempty"`
	Backends []rawBackend          `toml:"backends"`
}

type rawBackend struct {
	Address   string                `toml:"address"`
	Namespace string                `toml:"namespace,omitempty"`
	Password  string                `toml:"password,omitempty"`
	Labels    map[string]labelValue `toml:"labels,omitempty"`
}

// labelValue is a label; numbers and booleans are accepted and kept as text
// (lat = 50.85 is lat = "50.85").
type labelValue string

func (l *labelValue) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*l = labelValue(v)
	case int64:
		*l = labelValue(strconv.FormatInt(v, 10))
	case float64:
		*l = labelValue(strconv.FormatFloat(v, 'g', -1, 64))
	case bool:
		*l = labelValue(strconv.FormatBool(v))
	default:
		return fmt.Errorf("a label value must be a string, number or boolean, not %T", v)
	}
	return nil
}

// duration is a time.Duration in TOML: a string that time.ParseDuration
// reads ("500ms", "5s", "15m", "1h30m", "168h", "0"), or the integer 0. It
// is never negative. Other integers are refused: they would have no unit.
type duration time.Duration

func (d *duration) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		x, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("duration %q: not a duration (a number and a unit: \"500ms\", \"5s\", \"15m\", \"168h\")", v)
		}
		if x < 0 {
			return fmt.Errorf("duration %q: negative", v)
		}
		*d = duration(x)
	case int64:
		if v != 0 {
			return fmt.Errorf("duration %d: no unit (write a string such as \"%ds\")", v, v)
		}
		*d = 0
	default:
		return fmt.Errorf("a duration must be a string such as \"15m\", not %T", v)
	}
	return nil
}

// MarshalText writes the duration as formatDuration does.
func (d duration) MarshalText() ([]byte, error) {
	return []byte(formatDuration(time.Duration(d))), nil
}

// formatDuration is time.Duration.String without the trailing zero units:
// "15m", "168h", "1h30m", "5s", "10ms", "0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Parse decodes a configuration and applies the defaults (EnsureDefaults);
// it does not Validate. Unknown keys are an error (ErrUnknownKey) naming the
// key and its line. Relative paths are left as they are.
func Parse(data []byte) (*Config, error) {
	return parse(data, "")
}

// ReadFile reads and parses the file at path, resolving relative paths in it
// against the file's directory, without validating. Errors name the file.
func ReadFile(path string) (*Config, error) {
	c, _, err := readFile(path)
	return c, err
}

func readFile(path string) (*Config, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := parse(data, base)
	if err != nil {
		return nil, nil, &fileError{path: path, err: err}
	}
	return c, data, nil
}

// Load reads, parses and validates the file at path. Relative paths in the
// file resolve against the file's directory. Every error names the file,
// and a problem with a key set on one line of the file names that line.
func Load(path string) (*Config, error) {
	c, data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		addLines(err, keyLines(data))
		return nil, &fileError{path: path, err: err}
	}
	return c, nil
}

// addLines gives the FieldErrors of err that have no line the line of
// their key, when the key is a plain dotted path ("s3.secret_key", not
// "groups[1].name") set on exactly one line.
func addLines(err error, lines map[string][]int) {
	switch e := err.(type) {
	case *FieldError:
		if l := lines[e.Key]; e.Line == 0 && len(l) == 1 {
			e.Line = l[0]
		}
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			addLines(x, lines)
		}
	case interface{ Unwrap() error }:
		if x := e.Unwrap(); x != nil {
			addLines(x, lines)
		}
	}
}

func parse(data []byte, base string) (*Config, error) {
	var raw rawConfig
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, decodeError(err)
	}
	if err := checkKeys(data, md); err != nil {
		return nil, err
	}
	c, err := raw.toConfig(base)
	if err != nil {
		return nil, err
	}
	c.ensureDefaults() // and toConfig applied those of [repair]
	return c, nil
}

func decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &FieldError{Key: pe.LastKey, Line: pe.Position.Line, Msg: pe.Message, Err: err}
	}
	return &FieldError{Msg: strings.TrimPrefix(err.Error(), "toml: "), Err: err}
}

// checkKeys reports keys that did not decode (unknown keys) and keys in
// the wrong case (the decoder matches field names case-insensitively).
func checkKeys(data []byte, md toml.MetaData) error {
	lines := keyLines(data)
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[strings.Join(k, ".")] = true
	}
	var errs []error // of *FieldError
	seen := map[string]bool{}
	for _, k := range md.Undecoded() {
		name := strings.Join(k, ".")
		if seen[name] || parentIn(k, undecoded) {
			continue
		}
		seen[name] = true
		errs = append(errs, unknownKey(name, lines[name], ""))
	}
	for _, k := range md.Keys() {
		name := strings.Join(k, ".")
		last := k[len(k)-1]
		if seen[name] || undecoded[name] || parentIn(k, undecoded) || last == strings.ToLower(last) {
			continue
		}
		if len(k) >= 2 && k[len(k)-2] == "labels" {
			continue // label names are free
		}
		seen[name] = true
		errs = append(errs, unknownKey(name, lines[name], fmt.Sprintf(" (keys are lower case: %q)", strings.ToLower(last))))
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		return a.(*FieldError).Line - b.(*FieldError).Line
	})
	return errors.Join(errs...)
}

func parentIn(k toml.Key, set map[string]bool) bool {
	for i := 1; i < len(k); i++ {
		if set[strings.Join(k[:i], ".")] {
			return true
		}
	}
	return false
}

func unknownKey(name string, lines []int, hint string) error {
	e := &FieldError{Key: name, Msg: "unknown key" + hint, Err: ErrUnknownKey}
	if len(lines) > 0 {
		e.Line = lines[0]
	}
	if len(lines) > 1 {
		more := make([]string, 0, len(lines)-1)
		for _, l := range lines[1:] {
			more = append(more, strconv.Itoa(l))
		}
		e.Msg += " (also on line " + strings.Join(more, ", ") + ")"
	}
	return e
}

// keyLines maps dotted key paths ("groups.backends.address") to the lines
// that set them, by a line scan good enough for configuration files: table
// headers, "key = value" lines, and multi-line strings and arrays skipped.
func keyLines(data []byte) map[string][]int {
	out := map[string][]int{}
	var table []string
	inMultiline := "" // the closing delimiter of a multi-line string
	depth := 0        // open brackets of a multi-line array or inline table
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		s := strings.TrimSpace(line)
		if inMultiline != "" {
			if strings.Count(s, inMultiline)%2 == 1 {
				inMultiline = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(s)
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		if strings.HasPrefix(s, "[") {
			h := strings.TrimLeft(s, "[")
			if j := strings.Index(h, "]"); j >= 0 {
				h = h[:j]
			}
			table = splitKey(h)
			name := strings.Join(table, ".")
			out[name] = append(out[name], n)
			continue
		}
		eq := strings.Index(s, "=")
		if eq < 0 {
			continue
		}
		key := append(append([]string(nil), table...), splitKey(s[:eq])...)
		name := strings.Join(key, ".")
		out[name] = append(out[name], n)
		val := strings.TrimSpace(s[eq+1:])
		for _, d := range []string{`"""`, `'''`} {
			if strings.HasPrefix(val, d) && strings.Count(val, d)%2 == 1 {
				inMultiline = d
			}
		}
		if inMultiline == "" {
			depth = max(bracketDelta(val), 0)
		}
	}
	return out
}

// bracketDelta counts [ and { minus ] and }, outside of simple strings.
func bracketDelta(s string) int {
	d := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return d
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}

// splitKey splits a dotted TOML key, honouring quotes.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func (r *rawConfig) toConfig(base string) (*Config, error) {
	c := &Config{
		RedundantGroups:   r.RedundantGroups,
		RedundantNodes:    r.RedundantNodes,
		Root:              resolve(base, r.Root),
		Socket:            resolve(base, r.Socket),
		PrometheusPort:    r.PrometheusPort,
		ZdbDataDirPath:    resolve(base, r.ZdbDataDirPath),
		MaxZdbDataDirSize: r.MaxZdbDataDirSize,
		MetaDir:           resolve(base, r.MetaDir),
		WriteQuorum:       r.WriteQuorum,
		Legacy: Legacy{
			ZdbIndexDirPath: resolve(base, r.ZdbIndexDirPath),
			ZdbfsMountpoint: resolve(base, r.ZdbfsMountpoint),
			PidFile:         resolve(base, r.PidFile),
			Network:         r.Network,
			IdentityName:    r.IdentityName,
			IdentityEmail:   r.IdentityEmail,
			IdentityID:      r.IdentityID,
		},
	}
	// wallet_secret and identity_mnemonic are deliberately not copied.
	r.WalletSecret, r.IdentityMnemonic = "", ""

	if err := r.shards(c); err != nil {
		return nil, err
	}
	if r.BlockSize != nil {
		c.BlockSize = *r.BlockSize
	}
	c.SmallObjectSize = DefaultSmallObjectSize
	if r.SmallObject != nil {
		c.SmallObjectSize = *r.SmallObject
	}
	if r.Encryption != nil {
		c.Encryption = r.Encryption.toEncryption(base)
	}
	if r.Compression != nil {
		c.Compression.Algorithm = r.Compression.Algorithm
	}
	if r.Meta != nil {
		c.Meta.Type = r.Meta.Type
		if mc := r.Meta.Config; mc != nil {
			c.Meta.Config.Prefix = mc.Prefix
			if mc.Encryption != nil {
				c.Meta.Config.Encryption = mc.Encryption.toEncryption(base)
			}
			c.Meta.Config.Backends = toBackends(mc.Backends)
		}
	}
	if r.Placement != nil {
		c.Placement = Placement{Pin: r.Placement.Pin, Exclude: r.Placement.Exclude}
	}
	c.Repair = r.Repair.toRepair()
	if r.S3 != nil {
		c.S3 = S3{
			Listen:        r.S3.Listen,
			AccessKey:     r.S3.AccessKey,
			SecretKey:     r.S3.SecretKey,
			Region:        r.S3.Region,
			AnonymousRead: r.S3.AnonymousRead,
		}
		if r.S3.UploadExpiry != nil {
			c.S3.UploadExpiry = time.Duration(*r.S3.UploadExpiry)
		}
	}
	for _, g := range r.Groups {
		c.Groups = append(c.Groups, Group{Name: g.Name, Labels: toLabels(g.Labels), Backends: toBackends(g.Backends)})
	}
	return c, nil
}

// shards maps minimal_shards/expected_shards, or the older
// data_shards (k) / parity_shards (m), onto k and N.
func (r *rawConfig) shards(c *Config) error {
	if r.MinimalShards != nil {
		c.MinimalShards = *r.MinimalShards
	}
	if r.ExpectedShards != nil {
		c.ExpectedShards = *r.ExpectedShards
	}
	if r.DataShards != nil {
		if r.MinimalShards != nil && *r.MinimalShards != *r.DataShards {
			return fieldErr("data_shards", "%d conflicts with minimal_shards = %d (data_shards is the old name of minimal_shards: keep one)", *r.DataShards, *r.MinimalShards)
		}
		c.MinimalShards = *r.DataShards
	}
	if r.ParityShards != nil {
		if r.DataShards == nil && r.MinimalShards == nil {
			return fieldErr("parity_shards", "needs data_shards (or minimal_shards)")
		}
		n := c.MinimalShards + *r.ParityShards
		if r.ExpectedShards != nil && *r.ExpectedShards != n {
			return fieldErr("parity_shards", "%d conflicts with expected_shards = %d (expected_shards = data_shards + parity_shards: keep one)", *r.ParityShards, *r.ExpectedShards)
		}
		c.ExpectedShards = n
	}
	return nil
}

// toRepair is [repair] with the defaults of absent keys; DefaultRepair()
// when the table is absent (r == nil).
func (r *rawRepair) toRepair() Repair {
	out := DefaultRepair()
	if r == nil {
		return out
	}
	setDuration := func(dst *time.Duration, v *duration) {
		if v != nil {
			*dst = time.Duration(*v)
		}
	}
	setSize := func(dst *ByteSize, v *ByteSize) {
		if v != nil {
			*dst = *v
		}
	}
	setDuration(&out.TerminalAfter, r.TerminalAfter)
	setDuration(&out.ProbeInterval, r.ProbeInterval)
	setSize(&out.Rate, r.Rate)
	setSize(&out.IdleRate, r.IdleRate)
	setSize(&out.ScrubRate, r.ScrubRate)
	setDuration(&out.ScrubInterval, r.ScrubInterval)
	setDuration(&out.AuditInterval, r.AuditInterval)
	if r.Workers != nil {
		out.Workers = *r.Workers
	}
	return out
}

func (e *rawEncryption) toEncryption(base string) Encryption {
	return Encryption{Algorithm: e.Algorithm, Key: e.Key, KeyFile: resolve(base, e.KeyFile)}
}

func toBackends(rb []rawBackend) []Backend {
	var out []Backend
	for _, b := range rb {
		out = append(out, Backend{Address: b.Address, Namespace: b.Namespace, Password: b.Password, Labels: toLabels(b.Labels)})
	}
	return out
}

// toLabels copies the labels; none (an empty table too) is nil, as Marshal
// writes no labels for it.
func toLabels(m map[string]labelValue) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func resolve(base, p string) string {
	if base == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}
