package testcluster

import (
	"encoding/hex"

	"github.com/zerostor/zerostor/internal/config"
)

// ZstorConfig describes the cluster as a zstor configuration: k data and
// m parity shards, one zstor group per cluster group (same names, same
// backends in index order, with their namespace and password), metadata
// in metaDir and key as the master key; defaults filled in
// (config.Config.EnsureDefaults). Callers add what else they need (block
// size, root, socket, ...) to the result.
func (c *Cluster) ZstorConfig(k, m int, metaDir string, key [32]byte) *config.Config {
	cfg := &config.Config{MinimalShards: k, ExpectedShards: k + m, MetaDir: metaDir}
	cfg.Encryption.Key = hex.EncodeToString(key[:])
	for _, g := range c.Groups() {
		var grp config.Group
		for _, b := range g {
			grp.Name = b.Group
			grp.Backends = append(grp.Backends, config.Backend{Address: b.Addr, Namespace: b.Namespace, Password: b.Password})
		}
		cfg.Groups = append(cfg.Groups, grp)
	}
	cfg.EnsureDefaults()
	return cfg
}
