package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the size of master and data keys (AES-256).
const KeySize = 32

// Errors, for errors.Is.
var (
	ErrBadKey     = errors.New("codec: wrong key or tampered data")
	ErrCorrupt    = errors.New("codec: corrupt data")
	ErrNotEnough  = errors.New("codec: not enough verified shards")
	ErrBadWrapped = errors.New("codec: malformed wrapped key")
)

// Key is an AES-256 key.
type Key [KeySize]byte

// NewDataKey returns a random per-object data key.
func NewDataKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("codec: random key: %w", err)
	}
	return k, nil
}

// AEAD is AES-256-GCM under k (standard nonce and tag sizes).
func (k Key) AEAD() (cipher.AEAD, error) {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// wrapVersion prefixes wrapped keys so the format can evolve.
const wrapVersion = 1

// WrapKey seals a data key under the master key: version, random nonce,
// then the sealed key. Only the wrapped form is ever stored.
func WrapKey(master, data Key) ([]byte, error) {
	a, err := master.AEAD()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+KeySize+a.Overhead())
	out[0] = wrapVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("codec: random nonce: %w", err)
	}
	return a.Seal(out, out[1:], data[:], out[:1]), nil
}

// UnwrapKey opens a wrapped data key; a wrong master key or a damaged
// wrapped key gives ErrBadKey or ErrBadWrapped.
func UnwrapKey(master Key, wrapped []byte) (Key, error) {
	var k Key
	a, err := master.AEAD()
	if err != nil {
		return k, err
	}
	if len(wrapped) != 1+a.NonceSize()+KeySize+a.Overhead() || wrapped[0] != wrapVersion {
		return k, ErrBadWrapped
	}
	plain, err := a.Open(nil, wrapped[1:1+a.NonceSize()], wrapped[1+a.NonceSize():], wrapped[:1])
	if err != nil {
		return k, ErrBadKey
	}
	copy(k[:], plain)
	return k, nil
}

// blockNonce is the GCM nonce of block idx of an object: the object's
// random 4-byte salt and the block index. Under a per-object key every
// block therefore has its own nonce (the flaw to avoid: Zus seals every
// fragment of a file under one key and one nonce).
func blockNonce(salt uint32, idx uint64) [12]byte {
	var n [12]byte
	binary.LittleEndian.PutUint32(n[:4], salt)
	binary.LittleEndian.PutUint64(n[4:], idx)
	return n
}
