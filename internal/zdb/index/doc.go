// Package index holds the in-memory indexes of zdb: for every key of a
// namespace, the Loc (data file, offset, size, CRC) of its latest record in
// the append-only data files.
//
// Memory is the design constraint: after loading N keys, the process must
// grow by at most 64 bytes + key length per key in user mode and 16 bytes
// per key in sequential mode. So there is no Go map and no heap object per
// key: all per-key data lives in memory mapped with anonymous private mmap
// (see mmap.go), which the garbage collector never scans and which is given
// back to the OS with munmap as soon as it is no longer needed.
//
// # User mode
//
// User is an open-addressing hash table with linear probing.
//
// The key arena is a list of chunks (16 KiB doubling up to 4 MiB). Entries
// are appended as
//
//	[keylen u8][key bytes][Loc: File, Offset, Size, CRC as 4 x u32 LE]
//
// and never span chunks; an arena offset is chunk<<22 | offset in chunk.
// Overwriting a key rewrites its Loc in place. Deleting a key leaves its
// entry as garbage (counted, not marked: only slots point at entries).
//
// The table is a power-of-two array of uint64 slots: arena offset (40 bits)
// << 24 | tag (24 high bits of the key's maphash, per-table seed). Tag 0 is
// an empty slot, 1 a tombstone; live tags are >= 2. The tag filters out
// nearly all non-matching slots without touching the arena. A deletion whose
// next slot is empty clears its slot (and the tombstones before it) instead
// of leaving a tombstone.
//
// The table grows (doubling) when live + tombstone slots would exceed 7/8;
// it is rebuilt (rehashing keys read back from the arena) when tombstones
// exceed 1/4 of the slots or the load drops below 1/16, and the arena is
// compacted during the rebuild when more than half of it (and at least 64
// KiB) is dead. Each rebuild needs a number of operations proportional to
// its cost, so everything is amortized O(1).
//
// Per key: 17 + key length arena bytes, plus 8 bytes / load for the slots
// (load 7/16..7/8: 9.1..18.3 bytes). For 1,000,000 keys of 16 bytes that is
// about 33 + 16.8 = 50 bytes, against a budget of 64 + 16.
//
// # Sequential mode
//
// Seq stores the Loc of id i at index i of a directory of off-heap chunks of
// 65536 entries x 12 bytes (768 KiB), mapped on first use, so each id costs
// exactly 12 bytes (untouched pages of the last chunk take no RAM). Deleted
// and unassigned ids are all-zero entries; live ones have bit 31 of the
// stored Size set. A chunk whose ids were all assigned and then deleted is
// unmapped.
//
// # Concurrency and lifetime
//
// Neither type is safe for concurrent mutation; the caller serializes with a
// RWMutex. Readers (Get, Len, MemBytes, Range) write nothing shared except an
// atomic counter, so they may run together under a read lock. Keys passed to
// Range callbacks point into off-heap memory that is unmapped by later
// mutations and by Close: they must not be retained.
package index
