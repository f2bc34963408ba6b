package commitlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// The text forms of keys: a versioned prefix, then standard base64 of the
// 32-byte ed25519 seed (private) or public key, then a newline. The prefix
// keeps a log key from being mistaken for the master key or the other way
// round.
const (
	privateKeyPrefix = "zstor-log-key-v1:"
	publicKeyPrefix  = "zstor-log-pub-v1:"
)

// GenerateKey returns a new random signing key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate log signing key: %w", err)
	}
	return priv, nil
}

// MarshalPrivateKey returns priv's text form, to be kept in a file only
// its owner can read (mode 0600).
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w signing key: %d bytes, want %d", ErrInvalid, len(priv), ed25519.PrivateKeySize)
	}
	return marshalKey(privateKeyPrefix, priv.Seed()), nil
}

// ParsePrivateKey reads a key written by MarshalPrivateKey; surrounding
// white space is ignored.
func ParsePrivateKey(text []byte) (ed25519.PrivateKey, error) {
	seed, err := parseKey(privateKeyPrefix, text, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("parse log signing key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// MarshalPublicKey returns pub's text form, for `zstor log verify` to pin
// the key a log must be signed with.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w public key: %d bytes, want %d", ErrInvalid, len(pub), ed25519.PublicKeySize)
	}
	return marshalKey(publicKeyPrefix, pub), nil
}

// ParsePublicKey reads a key written by MarshalPublicKey; surrounding
// white space is ignored.
func ParsePublicKey(text []byte) (ed25519.PublicKey, error) {
	p, err := parseKey(publicKeyPrefix, text, ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("parse log public key: %w", err)
	}
	return ed25519.PublicKey(p), nil
}

func marshalKey(prefix string, key []byte) []byte {
	b := make([]byte, 0, len(prefix)+base64.StdEncoding.EncodedLen(len(key))+1)
	b = append(b, prefix...)
	b = base64.StdEncoding.AppendEncode(b, key)
	return append(b, '\n')
}

// parseKey never echoes the text it got: it may be a secret.
func parseKey(prefix string, text []byte, size int) ([]byte, error) {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(text), []byte(prefix))
	if !ok {
		return nil, fmt.Errorf("%w: does not start with %q", ErrInvalid, prefix)
	}
	key, err := base64.StdEncoding.AppendDecode(nil, rest)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64 after %q: %w", ErrInvalid, prefix, err)
	}
	if len(key) != size {
		return nil, fmt.Errorf("%w: %d key bytes after %q, want %d", ErrInvalid, len(key), prefix, size)
	}
	return key, nil
}
