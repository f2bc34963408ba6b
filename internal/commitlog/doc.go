// Package commitlog is a signed, hash-chained log of every change committed
// to the store (store, delete, repair, rotate): the "write markers" that
// let an auditor check, from the storage alone and the instance's public
// key, that the history it is shown is the one the instance wrote.
//
// Entries are buffered in memory and sealed into batches. A batch carries a
// Merkle root over its entries, the BLAKE3 hash of the previous batch and an
// ed25519 signature over everything else, so changing, removing, reordering
// or inserting an entry or a batch anywhere but at the tail breaks a check
// that Verify names. Batches are written through a small Store interface
// (one object per batch, see BatchKey) strictly in order, and a batch that
// could not be written is kept and written again: entries are never lost
// to a failed write, only to a crash before their batch landed, or when the
// bounded buffer overflows (counted in Stats).
//
// The byte formats and the exact guarantees are in docs/commit-log.md.
package commitlog
