package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults and bounds.
const (
	// DefaultBlockSize is the block size when block_size is absent or 0.
	DefaultBlockSize ByteSize = 4 * MiB
	// MinBlockSize and MaxBlockSize bound block_size.
	MinBlockSize ByteSize = 64 * KiB
	MaxBlockSize ByteSize = 64 * MiB
	// DefaultSmallObjectSize is small_object_size when the key is absent:
	// objects up to this size are stored as 1+m copies.
	DefaultSmallObjectSize ByteSize = 16 * KiB
	// MaxSmallObjectSize bounds small_object_size.
	MaxSmallObjectSize ByteSize = 1 * MiB
	// MaxShards bounds expected_shards (Reed-Solomon over GF(2^8)).
	MaxShards = 256
	// DefaultNamespace is the 0-db namespace of a backend without one.
	DefaultNamespace = "default"
	// DefaultCompression is the compression when [compression] is absent.
	DefaultCompression = "zstd"
	// DefaultEncryption is the encryption algorithm when none is given.
	DefaultEncryption = "AES"
	// DefaultMetaPrefix is the key prefix of metadata copies when
	// meta.config.prefix is empty (applied by the client, not stored).
	DefaultMetaPrefix = "zstor"
	// MetaTypeZdb is the only remote metadata type: encrypted copies of the
	// metadata on 0-db namespaces in user mode.
	MetaTypeZdb = "zdb"
)

// Defaults and bounds of [repair] (see DefaultRepair).
const (
	// DefaultTerminalAfter is repair.terminal_after: how long a backend may
	// be down before it counts as lost (0-stor's 15 minutes).
	DefaultTerminalAfter = 15 * time.Minute
	// MinTerminalAfter bounds repair.terminal_after.
	MinTerminalAfter = time.Second
	// DefaultProbeInterval is repair.probe_interval.
	DefaultProbeInterval = 5 * time.Second
	// MinProbeInterval and MaxProbeInterval bound repair.probe_interval.
	MinProbeInterval = 100 * time.Millisecond
	MaxProbeInterval = 10 * time.Minute
	// DefaultRepairRate is repair.rate, in shard bytes per second.
	DefaultRepairRate ByteSize = 64 * MiB
	// DefaultRepairIdleRate is repair.idle_rate: 0, unlimited.
	DefaultRepairIdleRate ByteSize = 0
	// DefaultScrubRate is repair.scrub_rate, in shard bytes per second.
	DefaultScrubRate ByteSize = 32 * MiB
	// DefaultScrubInterval is repair.scrub_interval (a week).
	DefaultScrubInterval = 168 * time.Hour
	// MinScrubInterval bounds repair.scrub_interval.
	MinScrubInterval = time.Minute
	// DefaultAuditInterval is repair.audit_interval.
	DefaultAuditInterval = 10 * time.Second
	// MinAuditInterval bounds repair.audit_interval when it is not 0.
	MinAuditInterval = 10 * time.Millisecond
	// DefaultRepairWorkers is repair.workers.
	DefaultRepairWorkers = 2
	// MaxRepairWorkers bounds repair.workers (1 to MaxRepairWorkers).
	MaxRepairWorkers = 64
)

// Environment variables read by this package.
const (
	// EnvKey holds the master key (64 hex characters); it overrides
	// encryption.key and encryption.key_file.
	EnvKey = "ZSTOR_KEY"
	// EnvMetaDir is the default meta_dir.
	EnvMetaDir = "ZSTOR_META_DIR"
	// EnvS3AccessKey and EnvS3SecretKey hold the S3 gateway's credentials;
	// each overrides its key of [s3] (s3.access_key, s3.secret_key).
	EnvS3AccessKey = "ZSTOR_S3_ACCESS_KEY"
	EnvS3SecretKey = "ZSTOR_S3_SECRET_KEY"
)

// Defaults and bounds of [s3].
const (
	// DefaultS3Listen is where `zstor s3` serves when neither --listen nor
	// s3.listen says; the daemon (`zstor monitor`) serves S3 only when
	// s3.listen is set.
	DefaultS3Listen = "127.0.0.1:9000"
	// DefaultS3Region is s3.region.
	DefaultS3Region = "us-east-1"
	// DefaultS3UploadExpiry is s3.upload_expiry.
	DefaultS3UploadExpiry = 24 * time.Hour
	// MinS3UploadExpiry bounds s3.upload_expiry.
	MinS3UploadExpiry = time.Minute
	// MinS3SecretKey is the shortest s3.secret_key, in bytes.
	MinS3SecretKey = 8
	// MinS3AccessKey and MaxS3AccessKey bound the length of s3.access_key.
	MinS3AccessKey = 3
	MaxS3AccessKey = 128
	// MaxS3SecretKey bounds the length of s3.secret_key.
	MaxS3SecretKey = 256
)

// Config is zstor's configuration. Field comments name the TOML key; see the
// package documentation for every key, its default and its bounds.
//
// Config holds secrets (the master key, backend passwords): its String,
// GoString and Format methods redact them, so printing a Config, or any part
// of it, with fmt never shows them.
type Config struct {
	MinimalShards   int // minimal_shards (k): shards needed to read a block
	ExpectedShards  int // expected_shards (N = k+m): shards written per block
	RedundantGroups int // redundant_groups: groups that may be lost
	RedundantNodes  int // redundant_nodes: backends per group that may be lost

	Root              string // root: virtual root stripped from stored paths
	Socket            string // socket: unix socket of the daemon
	PrometheusPort    int    // prometheus_port: 0 disables metrics
	ZdbDataDirPath    string // zdb_data_dir_path: local 0-db data dir to watch
	MaxZdbDataDirSize int64  // max_zdb_data_dir_size: MiB

	Encryption  Encryption  // [encryption]
	Compression Compression // [compression]
	Meta        Meta        // [meta]
	Groups      []Group     // [[groups]]

	MetaDir   string   // meta_dir: directory of the local metadata store
	BlockSize ByteSize // block_size
	// SmallObjectSize is small_object_size: an object of at most this
	// many bytes is stored as 1+m copies (k=1: one read brings it back)
	// instead of k+m slivers. 0 turns it off. A file without the key
	// gets DefaultSmallObjectSize; a Config built in code has 0.
	SmallObjectSize ByteSize
	WriteQuorum     int       // write_quorum: acknowledged shards per block
	Placement       Placement // [placement]
	Repair          Repair    // [repair]
	S3              S3        // [s3]

	// Legacy holds 0-stor keys zstor accepts but does not use.
	Legacy Legacy
}

// Encryption is [encryption] (and [meta.config.encryption]).
type Encryption struct {
	Algorithm string // algorithm: "AES" (AES-256-GCM)
	Key       string // key: 64 hex characters (secret)
	KeyFile   string // key_file: file holding the key (hex or 32 raw bytes)
}

// Compression is [compression].
type Compression struct {
	Algorithm string // algorithm: "zstd", "snappy" or "none"
}

// Meta is [meta]: where copies of the metadata go besides meta_dir.
type Meta struct {
	Type   string     // type: "zdb", or "" for none
	Config MetaConfig // [meta.config]
}

// MetaConfig is [meta.config].
type MetaConfig struct {
	Prefix     string     // prefix: key prefix of the metadata copies
	Encryption Encryption // [meta.config.encryption]: key of the copies
	Backends   []Backend  // [[meta.config.backends]]
}

// Group is one [[groups]] entry: backends that share a failure domain.
type Group struct {
	Name     string            // name, default "group-<index>"
	Labels   map[string]string // [groups.labels]
	Backends []Backend         // [[groups.backends]]
}

// Backend is one 0-db namespace.
type Backend struct {
	Address   string            // address: host:port or /unix/socket/path
	Namespace string            // namespace, default "default"
	Password  string            // password (secret)
	Labels    map[string]string // [groups.backends.labels]
}

// Placement is [placement]: selectors ("key=value") on the labels of groups
// and backends.
type Placement struct {
	Pin     []string // pin: if set, only backends matching one of them
	Exclude []string // exclude: never backends matching any selector
}

// Repair is [repair]: self-healing: backend probes, repair, scrub, audits.
//
// In a file, every key of [repair] is optional and an absent key (or table)
// takes its default. In code, the zero Repair means "not configured":
// EnsureDefaults replaces it with DefaultRepair(). A non-zero Repair is
// taken as it is, since 0 means something for Rate, IdleRate (unlimited),
// ScrubRate and AuditInterval (disabled): start from DefaultRepair() to
// change a few fields.
type Repair struct {
	TerminalAfter time.Duration // terminal_after: a backend down this long is lost
	ProbeInterval time.Duration // probe_interval
	Rate          ByteSize      // rate: bytes/s while foreground traffic runs, 0 unlimited
	IdleRate      ByteSize      // idle_rate
	ScrubRate     ByteSize      // scrub_rate: 0 disables background scrub
	ScrubInterval time.Duration // scrub_interval
	AuditInterval time.Duration // audit_interval: 0 disables audits
	Workers       int           // workers
}

// S3 is [s3]: the S3 gateway (`zstor s3`, or the daemon when Listen is
// set). Its credentials are those of Config.S3Credentials, where the
// environment overrides AccessKey and SecretKey.
type S3 struct {
	Listen        string        // listen: host:port; "" = the daemon does not serve S3
	AccessKey     string        // access_key
	SecretKey     string        // secret_key (secret)
	Region        string        // region, default DefaultS3Region
	UploadExpiry  time.Duration // upload_expiry: abandoned multipart uploads are aborted after this
	AnonymousRead bool          // anonymous_read: unsigned requests may read
}

// DefaultRepair is [repair] with every key at its default.
func DefaultRepair() Repair {
	return Repair{
		TerminalAfter: DefaultTerminalAfter,
		ProbeInterval: DefaultProbeInterval,
		Rate:          DefaultRepairRate,
		IdleRate:      DefaultRepairIdleRate,
		ScrubRate:     DefaultScrubRate,
		ScrubInterval: DefaultScrubInterval,
		AuditInterval: DefaultAuditInterval,
		Workers:       DefaultRepairWorkers,
	}
}

// Legacy holds keys of 0-stor_v2 that zstor accepts so that a 0-stor file
// loads unchanged, but ignores. They are kept so Marshal writes them back.
// wallet_secret and identity_mnemonic are accepted too but dropped at once:
// zstor never holds or writes those secrets.
type Legacy struct {
	ZdbIndexDirPath string // zdb_index_dir_path
	ZdbfsMountpoint string // zdbfs_mountpoint
	PidFile         string // pid_file
	Network         string // network
	IdentityName    string // identity_name
	IdentityEmail   string // identity_email
	IdentityID      int64  // identity_id
}

// K is the number of data shards (minimal_shards).
func (c *Config) K() int { return c.MinimalShards }

// M is the number of parity shards (expected_shards - minimal_shards). It is
// negative on a config that does not validate.
func (c *Config) M() int { return c.ExpectedShards - c.MinimalShards }

// BackendID identifies a backend as "address/namespace"; an empty namespace
// counts as "default".
func (c *Config) BackendID(b Backend) string {
	ns := b.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return b.Address + "/" + ns
}

// GroupName is the name of group i: its name, or "group-<i>".
func GroupName(g Group, i int) string {
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("group-%d", i)
}

// EnsureDefaults fills in the defaults of unset fields. Parse calls it. A
// zero Repair becomes DefaultRepair(); a non-zero one is left as it is (see
// Repair).
func (c *Config) EnsureDefaults() {
	c.ensureDefaults()
	if c.Repair == (Repair{}) {
		c.Repair = DefaultRepair()
	}
}

// ensureDefaults is EnsureDefaults but for Repair, whose defaults Parse
// applies key by key (so that a file setting every [repair] key to 0 is
// not mistaken for one without [repair]).
func (c *Config) ensureDefaults() {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	c.Compression.Algorithm = strings.ToLower(c.Compression.Algorithm)
	if c.Compression.Algorithm == "" {
		c.Compression.Algorithm = DefaultCompression
	}
	if c.Encryption.Algorithm == "" {
		c.Encryption.Algorithm = DefaultEncryption
	}
	if c.Meta.Config.Encryption.Algorithm == "" && (c.Meta.Config.Encryption.Key != "" || c.Meta.Config.Encryption.KeyFile != "") {
		c.Meta.Config.Encryption.Algorithm = DefaultEncryption
	}
	c.Meta.Type = strings.ToLower(c.Meta.Type)
	for i := range c.Groups {
		c.Groups[i].Name = GroupName(c.Groups[i], i)
		for j := range c.Groups[i].Backends {
			if c.Groups[i].Backends[j].Namespace == "" {
				c.Groups[i].Backends[j].Namespace = DefaultNamespace
			}
		}
	}
	for j := range c.Meta.Config.Backends {
		if c.Meta.Config.Backends[j].Namespace == "" {
			c.Meta.Config.Backends[j].Namespace = DefaultNamespace
		}
	}
	if c.WriteQuorum == 0 {
		c.WriteQuorum = defaultQuorum(c.MinimalShards, c.ExpectedShards)
	}
	if c.MetaDir == "" {
		c.MetaDir = DefaultMetaDir()
	}
	if c.S3.Region == "" {
		c.S3.Region = DefaultS3Region
	}
	if c.S3.UploadExpiry == 0 {
		c.S3.UploadExpiry = DefaultS3UploadExpiry
	}
}

// defaultQuorum is k+1 capped to N, or 0 when k and N make no sense.
func defaultQuorum(k, n int) int {
	if k < 1 || n < k {
		return 0
	}
	return min(k+1, n)
}

// DefaultMetaDir is meta_dir when the file does not set it: $ZSTOR_META_DIR,
// else $XDG_STATE_HOME/zstor, else ~/.local/state/zstor; "" if none is known.
func DefaultMetaDir() string {
	if d := os.Getenv(EnvMetaDir); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "zstor")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state", "zstor")
	}
	return ""
}
