package config

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// Local generates the configuration of a throwaway local deployment: the
// backends at addrs (namespace "default", no password) spread over groups
// groups as evenly as the count allows (the first groups get one more),
// named g0, g1, ... with label region=local-<i>; a fresh random master key;
// meta_dir dir/meta and socket dir/zstor.sock. The result validates, or
// Local returns why not.
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
	c := &Config{
		MinimalShards:  k,
		ExpectedShards: k + m,
		Socket:         filepath.Join(abs, "zstor.sock"),
		MetaDir:        filepath.Join(abs, "meta"),
		Encryption:     Encryption{Algorithm: DefaultEncryption, Key: hex.EncodeToString(key[:])},
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
