package config

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MetaKeyContext is the HKDF-SHA256 info string that derives the metadata key
// from the master key when [meta.config.encryption] has no key. Changing it
// makes existing metadata copies unreadable.
const MetaKeyContext = "zstor metadata key v1"

// maxKeyFile bounds the size of a key file read.
const maxKeyFile = 4096

// MasterKey is the key that encrypts the data: $ZSTOR_KEY (64 hex characters)
// when set, else encryption.key, else the content of encryption.key_file.
// Errors never contain the key.
func (c *Config) MasterKey() ([32]byte, error) {
	if env := os.Getenv(EnvKey); env != "" {
		k, err := parseHexKey(env)
		if err != nil {
			return [32]byte{}, &FieldError{Key: "$" + EnvKey, Msg: err.Error()}
		}
		return k, nil
	}
	return c.Encryption.key("encryption", fmt.Sprintf("no master key: set encryption.key, encryption.key_file or $%s", EnvKey))
}

// MetaKey is the key that encrypts the metadata copies on the backends:
// meta.config.encryption.key (or key_file) when set, as in 0-stor; else
// HKDF-SHA256(master key, salt none, info MetaKeyContext).
func (c *Config) MetaKey() ([32]byte, error) {
	e := c.Meta.Config.Encryption
	if e.Key != "" || e.KeyFile != "" {
		return e.key("meta.config.encryption", "")
	}
	master, err := c.MasterKey()
	if err != nil {
		return [32]byte{}, err
	}
	return deriveMetaKey(master), nil
}

func deriveMetaKey(master [32]byte) [32]byte {
	b, err := hkdf.Key(sha256.New, master[:], nil, MetaKeyContext, 32)
	if err != nil {
		panic("config: hkdf: " + err.Error()) // cannot happen: 32 bytes is far below the limit
	}
	var k [32]byte
	copy(k[:], b)
	return k
}

// key resolves key or key_file; table names the table in errors, missing is
// the message when neither is set.
func (e Encryption) key(table, missing string) ([32]byte, error) {
	switch {
	case e.Key != "" && e.KeyFile != "":
		return [32]byte{}, fieldErr(table+".key_file", "set key or key_file, not both")
	case e.Key != "":
		k, err := parseHexKey(e.Key)
		if err != nil {
			return [32]byte{}, &FieldError{Key: table + ".key", Msg: err.Error()}
		}
		return k, nil
	case e.KeyFile != "":
		k, err := readKeyFile(e.KeyFile)
		if err != nil {
			return [32]byte{}, &FieldError{Key: table + ".key_file", Msg: err.Error(), Err: err}
		}
		return k, nil
	}
	return [32]byte{}, fieldErr(table+".key", "%s", missing)
}

// parseHexKey decodes 64 hex characters. The error does not quote the key.
func parseHexKey(s string) ([32]byte, error) {
	var k [32]byte
	s = strings.TrimSpace(s)
	if len(s) != 64 {
		return k, fmt.Errorf("must be 64 hexadecimal characters (32 bytes), got %d characters", len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return [32]byte{}, fmt.Errorf("must be 64 hexadecimal characters (32 bytes): not hexadecimal")
	}
	return k, nil
}

// readKeyFile reads a key file: 64 hex characters (surrounding white space
// ignored) or exactly 32 raw bytes.
func readKeyFile(path string) ([32]byte, error) {
	var k [32]byte
	// Refuse FIFOs and devices: opening or reading them may block forever.
	if fi, err := os.Stat(path); err != nil {
		return k, err
	} else if !fi.Mode().IsRegular() {
		return k, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return k, err
	}
	defer f.Close()
	buf := make([]byte, maxKeyFile+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return k, err
	}
	buf = buf[:n]
	if n > maxKeyFile {
		return k, fmt.Errorf("%s: too large for a key file", path)
	}
	if t := bytes.TrimSpace(buf); len(t) == 64 {
		if k, err := parseHexKey(string(t)); err == nil {
			return k, nil
		}
	}
	if len(buf) == 32 {
		copy(k[:], buf)
		return k, nil
	}
	return k, fmt.Errorf("%s: must hold 64 hexadecimal characters or 32 raw bytes", path)
}

// S3Credentials are the S3 gateway's access key and secret key: each from
// its environment variable ($ZSTOR_S3_ACCESS_KEY, $ZSTOR_S3_SECRET_KEY)
// when that is set, else from [s3]. Two empty strings and no error: no
// credentials are configured. One without the other, an access key that
// cannot be one, or a secret key shorter than MinS3SecretKey is an error
// naming the key or the variable it came from. Errors never contain the
// secret key.
func (c *Config) S3Credentials() (accessKey, secretKey string, err error) {
	ak, akName := c.S3.AccessKey, "s3.access_key"
	if v := os.Getenv(EnvS3AccessKey); v != "" {
		ak, akName = v, "$"+EnvS3AccessKey
	}
	sk, skName := c.S3.SecretKey, "s3.secret_key"
	if v := os.Getenv(EnvS3SecretKey); v != "" {
		sk, skName = v, "$"+EnvS3SecretKey
	}
	switch {
	case ak == "" && sk == "":
		return "", "", nil
	case sk == "":
		return "", "", fieldErr(akName, "set without a secret key: set s3.secret_key (or $%s) too", EnvS3SecretKey)
	case ak == "":
		return "", "", fieldErr(skName, "set without an access key: set s3.access_key (or $%s) too", EnvS3AccessKey)
	}
	if err := checkAccessKey(ak); err != nil {
		return "", "", fieldErr(akName, "%v", err)
	}
	if err := checkSecretKey(sk); err != nil {
		return "", "", fieldErr(skName, "%v", err)
	}
	return ak, sk, nil
}

// checkAccessKey: an access key goes into every signature's credential
// ("AKID/date/region/s3/aws4_request"): letters, digits and - _ . @ +.
func checkAccessKey(k string) error {
	if len(k) < MinS3AccessKey || len(k) > MaxS3AccessKey {
		return fmt.Errorf("%d characters: must be %d to %d", len(k), MinS3AccessKey, MaxS3AccessKey)
	}
	for _, r := range k {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == '@' || r == '+'
		if !ok {
			return fmt.Errorf("%q: only letters, digits and - _ . @ + are allowed", k)
		}
	}
	return nil
}

// checkSecretKey checks a secret key without quoting it.
func checkSecretKey(k string) error {
	if len(k) < MinS3SecretKey {
		return fmt.Errorf("too short: %d characters, at least %d are needed", len(k), MinS3SecretKey)
	}
	if len(k) > MaxS3SecretKey {
		return fmt.Errorf("too long: %d characters, at most %d", len(k), MaxS3SecretKey)
	}
	for _, r := range k {
		if r <= ' ' || r == 0x7f {
			return errors.New("contains a space or a control character (a newline from a file?)")
		}
	}
	return nil
}
