package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	terminator = "aws4_request"
	// emptySHA256 is the hex SHA-256 of nothing, a fixed line of every
	// chunk's string to sign.
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// deriveKey is the SigV4 signing key of secret for one day, region and
// service.
func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}

// keyCacheSize bounds the signing-key cache. A key is valid for one day,
// region and service, so a busy gateway needs one entry per access key and
// day; the bound only stops a flood of requests with made-up scopes from
// growing the map.
const keyCacheSize = 1024

type cacheKey struct {
	secret, date, region, service string
}

// keyCache saves the four HMACs of key derivation on every request. It
// is emptied when full rather than evicting one entry at a time: refilling
// costs four HMACs per access key, and this keeps it trivially correct.
type keyCache struct {
	mu sync.Mutex
	m  map[cacheKey][]byte
}

func (c *keyCache) get(secret, date, region, service string) []byte {
	k := cacheKey{secret, date, region, service}
	c.mu.Lock()
	key, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return key
	}
	key = deriveKey(secret, date, region, service)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= keyCacheSize {
		c.m = make(map[cacheKey][]byte)
	}
	c.m[k] = key
	c.mu.Unlock()
	return key
}
