package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// Local generates the configuration of a throwaway local deployment: the
// backends at addrs (namespace "default", no password) spread over groups
// groups as evenly as the count allows (the first groups get one more),
// named g0, g1, ... with label region=local-<i>; a fresh random master key;
// meta_dir dir/meta and socket dir/zstor.sock; and [s3] with listen
// DefaultS3Listen and fresh credentials (NewS3Credentials). The result
// validates, or Local returns why not.
func Local(dir string, addrs []string, groups int, k, m int) (*Config, error) {
	if groups < 1 {
		return nil, fmt.Errorf("config: local: %d groups, need at least 1", groups)
	}
	if len(addrs) < groups {
		return nil, fmt.Errorf("config: local: %d addresses cannot fill %d groups", len(addrs), groups)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("config: local: %w", err)
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("config: local: %w", err)
	}
	ak, sk, err := NewS3Credentials()
	if err != nil {
		return nil, fmt.Errorf("config: local: %w", err)
	}
	c := &Config{
		MinimalShards:   k,
		ExpectedShards:  k + m,
		Socket:          filepath.Join(abs, "zstor.sock"),
		MetaDir:         filepath.Join(abs, "meta"),
		Encryption:      Encryption{Algorithm: DefaultEncryption, Key: hex.EncodeToString(key[:])},
		S3:              S3{Listen: DefaultS3Listen, AccessKey: ak, SecretKey: sk},
		SmallObjectSize: DefaultSmallObjectSize,
	}
	per, extra := len(addrs)/groups, len(addrs)%groups
	next := 0
	for i := range groups {
		g := Group{Name: fmt.Sprintf("g%d", i), Labels: map[string]string{"region": fmt.Sprintf("local-%d", i)}}
		n := per
		if i < extra {
			n++
		}
		for _, a := range addrs[next : next+n] {
			g.Backends = append(g.Backends, Backend{Address: a, Namespace: DefaultNamespace})
		}
		next += n
		c.Groups = append(c.Groups, g)
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: local: %w", err)
	}
	return c, nil
}

// S3 credentials made by NewS3Credentials: AWS's shapes.
const (
	s3AccessKeyLen   = 20
	s3AccessKeyChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	s3SecretKeyBytes = 30 // 40 base64 characters
)

// NewS3Credentials returns a random access key (20 upper-case letters and
// digits, as AWS's) and secret key (40 base64 characters, 240 random bits).
func NewS3Credentials() (accessKey, secretKey string, err error) {
	ak := make([]byte, 0, s3AccessKeyLen)
	var buf [64]byte
	// 252 = 7*36: bytes from 252 up are dropped so that every character
	// is equally likely.
	for len(ak) < s3AccessKeyLen {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", "", err
		}
		for _, b := range buf {
			if b < 252 && len(ak) < s3AccessKeyLen {
				ak = append(ak, s3AccessKeyChars[int(b)%len(s3AccessKeyChars)])
			}
		}
	}
	sk := make([]byte, s3SecretKeyBytes)
	if _, err := rand.Read(sk); err != nil {
		return "", "", err
	}
	return string(ak), base64.RawStdEncoding.EncodeToString(sk), nil
}
