// Package codec turns one block of an object into k+m verifiable shards and
// back, and does no I/O: compression (zstd, snappy or none; a block that
// does not shrink is kept raw), AES-256-GCM encryption under a per-object
// data key with a unique nonce per block, Reed-Solomon coding into k data
// and m parity shards (klauspost/reedsolomon), a BLAKE3 Merkle root per shard
// (ShardHash, provable leaf by leaf), and
// a Merkle root over an object's block hashes.
//
// The data key is random per object and is stored only wrapped (sealed)
// under the master key, so the master key never sits beside the data and
// can be rotated by re-wrapping. Every failure (wrong key, missing,
// truncated or tampered shard) is an error wrapping one of the package's
// sentinel errors; nothing here panics on hostile input, and nothing
// returns bytes that did not verify.
package codec
