// Package config is zstor's configuration: one TOML file, a drop-in for the
// configuration of 0-stor_v2 (a 0-stor file loads unchanged) plus keys of
// zstor's own, marked "zstor" below. docs/configuration.md is the operators'
// version of this text.
//
// # Reading and checking
//
// Load reads a file, applies the defaults and validates it; relative paths in
// the file resolve against the file's directory, and every error names the
// file. ReadFile does the same without validating; Parse decodes bytes and
// applies the defaults (EnsureDefaults), leaving paths as they are. Validate
// reports every problem at once (errors.Join of *FieldError, each naming its
// key, such as "groups[1].backends[0].address"; 0-based indexes); from Load,
// a problem with a key set on one line of the file names that line too. All
// of these errors match ErrInvalid.
//
// A key zstor does not know is an error (ErrUnknownKey) naming the key and its
// line: a typo is never silently ignored. Keys are lower case; label names are
// free.
//
// # Shards
//
//	minimal_shards   int, required    k: shards needed to read a block (>= 1)
//	expected_shards  int, required    N: shards written per block, k <= N <= 256;
//	                                  the parity count is m = N - k
//	redundant_groups int, default 0   whole groups that may be lost (< number of groups)
//	redundant_nodes  int, default 0   backends per remaining group that may be lost
//	write_quorum     int (zstor)      shards that must be acknowledged before a
//	                                  block counts as written; default k+1 capped to
//	                                  N; valid k+1..N, or exactly k when m = 0
//
// The older 0-stor names data_shards (k) and parity_shards (m) are accepted:
// minimal_shards = data_shards, expected_shards = data_shards + parity_shards.
// Giving both an old and a new name with different values is an error.
// Marshal writes the new names.
//
// # Paths and daemon
//
//	root                  path       virtual root: stored paths are taken relative to it (0-stor)
//	socket                path       unix socket of the daemon (0-stor)
//	prometheus_port       0..65535   port of the Prometheus metrics; 0 or absent: none
//	zdb_data_dir_path     path       local 0-db data directory kept within a size (0-stor)
//	max_zdb_data_dir_size int, MiB   that size; 0 or absent: no limit
//	meta_dir              path       (zstor) directory of the local metadata store (bbolt);
//	                                 default $ZSTOR_META_DIR, else $XDG_STATE_HOME/zstor,
//	                                 else ~/.local/state/zstor
//	block_size            size       (zstor) data is cut into blocks of this size before
//	                                 compression, encryption and erasure coding; an integer
//	                                 of bytes or a string with a unit ("4MiB", "512KiB",
//	                                 "4MB" = 4 000 000); default 4MiB, bounds 64KiB..64MiB;
//	                                 0 means the default
//	small_object_size     size       (zstor) objects of at most this size are stored as 1+m
//	                                 copies (k=1) instead of k+m slivers: one read brings
//	                                 one back, m backends may still be lost; default 16KiB,
//	                                 0 turns it off, at most 1MiB
//
// # [encryption]
//
//	algorithm  "AES" (AES-256-GCM; case-insensitive; "AES-256-GCM" also accepted); default AES
//	key        the master key: 64 hexadecimal characters (32 bytes)
//	key_file   (zstor) instead of key: a file holding the key as 64 hex characters
//	           (white space around them ignored) or as 32 raw bytes; keep it mode 0600
//
// The environment variable ZSTOR_KEY (64 hex characters) overrides key and
// key_file: the file then need not hold the key at all. Setting both key and
// key_file is an error. See Config.MasterKey.
//
// # [compression]
//
//	algorithm  "zstd" (default when the table or key is absent), "snappy" (0-stor's), or "none"
//
// # [meta]: copies of the metadata
//
// The metadata (which shards of which object are where) lives in a local
// store in meta_dir. zstor also keeps encrypted copies of it on 0-db
// backends, so that a lost meta_dir can be recovered:
//
//	[meta] type                   "zdb": copies on the backends of [meta.config];
//	                              absent: the copies go to the data backends
//	[meta.config] prefix          key prefix of the copies; default "zstor"
//	[meta.config.encryption]      algorithm, key, key_file as in [encryption]: the key of
//	                              the copies (0-stor's metadata key). Absent: derived from
//	                              the master key with HKDF-SHA256 (no salt, info
//	                              "zstor metadata key v1", see MetaKeyContext)
//	[[meta.config.backends]]      address, namespace, password, labels as for data
//	                              backends; at least one (0-stor requires exactly 4)
//
// In [meta.config], 0-stor's older data_shards and parity_shards are accepted
// and ignored.
//
// # [[groups]]: the data backends
//
// A group is a set of backends that may fail together (one site, one farm).
//
//	name                     (zstor) default "group-<index>" (0-based); unique
//	labels                   (zstor) table of name = value, e.g. country = "BE",
//	                         region = "eu", lat = "50.85"; numbers and booleans are
//	                         kept as text. Names: letters, digits and . _ - /;
//	                         "group" and "id" are reserved
//	[[groups.backends]]      one 0-db namespace each:
//	  address                "host:port" (IPv6 as "[addr]:port") or an absolute unix
//	                         socket path ("/run/zdb.sock")
//	  namespace              default "default"
//	  password               namespace password, if any
//	  labels                 (zstor) labels of this backend; they override the group's
//
// A backend is identified by "address/namespace" (Config.BackendID); the same
// backend twice is an error, and there must be at least expected_shards
// distinct backends (0-stor checks the same).
//
// # [placement] (zstor)
//
//	pin      list of "key=value" selectors: when non-empty, only backends matching
//	         at least one of them receive shards
//	exclude  list of "key=value" selectors: backends matching any never receive shards
//
// A selector matches the labels of a backend (its own over its group's); the
// key "group" matches the group name and "id" the backend id
// ("address/namespace").
//
// # [repair] (zstor): self-healing
//
// zstor probes every backend, rebuilds the shards of lost backends on others,
// scrubs (reads back and verifies) every shard now and then, and audits random
// shards (proof of storage). Every key is optional; without the table, all
// take their defaults (DefaultRepair). Durations are strings with a unit, as
// time.ParseDuration reads them ("500ms", "5s", "15m", "168h"; "0" or the
// integer 0 for zero); rates are sizes as for block_size, in shard bytes per
// second.
//
//	terminal_after  duration   a backend down this long is lost: its shards are
//	                           rebuilt elsewhere; default "15m" (0-stor's), at least 1s
//	probe_interval  duration   how often every backend is probed (reachability,
//	                           latency, free space); default "5s", 100ms..10m
//	rate            size/s     repair bandwidth while stores and retrieves run;
//	                           default "64MiB", 0 = unlimited
//	idle_rate       size/s     repair bandwidth when no store or retrieve runs;
//	                           default 0 = unlimited
//	scrub_rate      size/s     background scrub bandwidth (shard bytes verified per
//	                           second); default "32MiB", 0 disables the background scrub
//	scrub_interval  duration   time between the starts of two full scrub passes;
//	                           default "168h" (a week), at least 1m
//	audit_interval  duration   time between two random proof-of-storage audits;
//	                           default "10s", "0" disables audits, else at least 10ms
//	workers         int        objects repaired at once; default 2, 1..64
//
// A negative or unreadable value is an error naming the key and its line;
// Validate checks the bounds. Marshal writes the keys that differ from their
// defaults, and no [repair] when none does.
//
// # [s3] (zstor): the S3 gateway
//
// `zstor s3` runs the daemon with an S3-compatible gateway over the store;
// `zstor monitor` runs it too when listen is set. Every key is optional.
//
//	listen          host:port  address of the gateway ("127.0.0.1:9000"; ":9000" is every
//	                           interface, IPv6 as "[::1]:9000", port 0 any free port).
//	                           Default "": the daemon does not serve S3; `zstor s3` then
//	                           listens on --listen, else DefaultS3Listen (127.0.0.1:9000)
//	access_key      string     access key id of the one user: 3 to 128 letters, digits
//	                           and - _ . @ +
//	secret_key      string     its secret key (secret): at least 8 characters
//	region          string     region the gateway answers for and expects in signatures;
//	                           default "us-east-1"
//	upload_expiry   duration   multipart uploads neither completed nor aborted are
//	                           aborted after this; default "24h" (0 too), at least 1m
//	anonymous_read  bool       unsigned requests may read (GET, HEAD, listings); writes
//	                           always need a signature; default false
//
// The environment variables ZSTOR_S3_ACCESS_KEY and ZSTOR_S3_SECRET_KEY
// override access_key and secret_key, each its own (Config.S3Credentials).
// access_key without secret_key, or the reverse, is an error. The gateway
// needs credentials unless anonymous_read is set. Marshal writes the keys
// that differ from their defaults, and no [s3] when none does.
//
// # 0-stor keys accepted and ignored
//
// zdb_index_dir_path, zdbfs_mountpoint, pid_file, network, identity_name,
// identity_email and identity_id are accepted, kept in Config.Legacy and
// written back by Marshal, but zstor does not use them. wallet_secret and
// identity_mnemonic are accepted and dropped as soon as they are read: zstor
// neither uses nor holds those secrets, and does not write them back.
//
// # Secrets
//
// The master key, the metadata key, the backend passwords and the S3 secret
// key never appear in fmt output (any verb, %v, %+v and %#v included),
// String, or JSON of Config, Encryption, Backend and S3: they read "***".
// Errors never quote a key. Marshal writes the keys and passwords (the file
// is where they live); WriteFile replaces the file atomically with mode
// 0600. Local generates the file of a throwaway local deployment.
package config
