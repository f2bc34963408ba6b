package index

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// MaxKeyLen is the longest key a User index accepts. Keys are 1..MaxKeyLen
// bytes long.
const MaxKeyLen = 255

// Slot encoding: a slot is a uint64 holding the arena offset of its entry in
// the high offBits bits and a 24-bit tag taken from the key hash in the low
// tagBits bits. Tags of live slots are >= 2, so slotEmpty and slotTomb never
// collide with a live slot.
const (
	slotEmpty = 0 // never used: ends every probe sequence
	slotTomb  = 1 // deleted: probe sequences continue past it

	tagBits     = 24
	tagMask     = 1<<tagBits - 1
	offBits     = 64 - tagBits // arena offsets are 40 bits: 1 TiB of keys
	minLiveTag  = 2
	minSlots    = 512 // one 4 KiB page of slots
	entOverhead = 1 + locSize

	// The key arena is a list of chunks; chunk i covers the arena offsets
	// [i<<arenaChunkShift, i<<arenaChunkShift + len(chunk i)). The first
	// chunks of a small table are smaller than arenaChunkSize.
	arenaChunkShift = 22
	arenaChunkSize  = 1 << arenaChunkShift // 4 MiB
	arenaChunkMask  = arenaChunkSize - 1
	arenaMinChunk   = 16 << 10
	maxArenaChunks  = 1 << (offBits - arenaChunkShift)

	// compactMinDead is the amount of deleted arena bytes below which the
	// arena is never compacted, so that tiny tables that repeatedly add and
	// remove a key do not remap memory on every other operation.
	compactMinDead = 64 << 10
)

// arena stores the entries of a User: [keylen u8][key][Loc 16 bytes],
// appended one after the other. An entry never spans two chunks.
type arena struct {
	chunks [][]byte // off-heap mappings from allocBytes
	used   int      // bytes used in the last chunk
	total  int      // bytes of all entries appended (live and dead)
	next   int      // size of the next chunk to map (clamped)
}

// alloc reserves n bytes (n <= arenaMinChunk) and returns their offset and a
// slice of exactly n bytes.
func (a *arena) alloc(n int) (uint64, []byte) {
	k := len(a.chunks) - 1
	if k < 0 || a.used+n > len(a.chunks[k]) {
		a.grow()
		k++
	}
	off := uint64(k)<<arenaChunkShift | uint64(a.used)
	b := a.chunks[k][a.used : a.used+n : a.used+n]
	a.used += n
	a.total += n
	return off, b
}

func (a *arena) grow() {
	if len(a.chunks) >= maxArenaChunks {
		panic("index: key arena exceeds 1 TiB")
	}
	size := min(max(a.next, arenaMinChunk), arenaChunkSize)
	a.chunks = append(a.chunks, allocBytes(size))
	a.used = 0
	a.next = 2 * size
}

// entry returns the arena bytes starting at off, up to the end of its chunk.
func (a *arena) entry(off uint64) []byte {
	return a.chunks[off>>arenaChunkShift][off&arenaChunkMask:]
}

// memBytes is the off-heap memory in use: every chunk but the last is
// (nearly) full; of the last only the touched pages count.
func (a *arena) memBytes() int {
	n := 0
	for i, c := range a.chunks {
		if i == len(a.chunks)-1 {
			n += roundUp(a.used, pageSize)
		} else {
			n += len(c)
		}
	}
	return n
}

func (a *arena) free() {
	for i, c := range a.chunks {
		a.chunks[i] = nil
		freeBytes(c)
	}
	*a = arena{}
}

// User is a hash index from binary keys (1..MaxKeyLen bytes) to Locs.
//
// Keys and Locs live in an off-heap arena; the table is an off-heap array of
// uint64 slots probed linearly. See the package documentation for the
// layout and memory budget.
//
// A User is not safe for concurrent use, except that Get, Len, MemBytes and
// Range may run concurrently with each other (none of them writes anything
// but Range's atomic counter).
type User struct {
	seed  maphash.Seed
	hmask uint64 // ANDed into every hash; all ones except in collision tests

	mem   []byte   // mapping backing slots
	slots []uint64 // len is a power of two, or 0 before the first Put
	mask  uint64   // len(slots)-1
	live  int      // live slots
	tombs int      // tombstone slots

	ar   arena
	dead int // arena bytes of deleted entries

	ranging atomic.Int32 // number of Range calls in progress
	closed  bool
}

// NewUser returns an empty index. It holds no off-heap memory until the
// first Put.
func NewUser() *User {
	return &User{seed: maphash.MakeSeed(), hmask: ^uint64(0)}
}

func (u *User) hash(key []byte) uint64 {
	return maphash.Bytes(u.seed, key) & u.hmask
}

// tagOf returns the 24-bit slot tag of hash h: its top bits, which are
// independent of the low bits used for the home slot.
func tagOf(h uint64) uint64 {
	t := h >> offBits
	if t < minLiveTag {
		t += minLiveTag
	}
	return t
}

func validKey(key []byte) bool { return len(key) >= 1 && len(key) <= MaxKeyLen }

// keyIs reports whether the entry at arena offset off has key key.
func (u *User) keyIs(off uint64, key []byte) bool {
	e := u.ar.entry(off)
	return int(e[0]) == len(key) && string(e[1:1+len(key)]) == string(key)
}

// locBytes returns the 16 Loc bytes of the entry at off whose key has length
// klen.
func (u *User) locBytes(off uint64, klen int) []byte {
	return u.ar.entry(off)[1+klen : 1+klen+locSize]
}

// find returns the slot index holding key.
func (u *User) find(key []byte, h uint64) (uint64, bool) {
	if len(u.slots) == 0 {
		return 0, false
	}
	tag, mask, slots := tagOf(h), u.mask, u.slots
	for i := h & mask; ; i = (i + 1) & mask {
		s := slots[i]
		if s == slotEmpty {
			return 0, false
		}
		if s&tagMask == tag && u.keyIs(s>>tagBits, key) {
			return i, true
		}
	}
}

// lookup returns the slot index holding key and true, or the index of the
// slot where key is to be inserted (the first tombstone or the empty slot
// ending the probe sequence) and false. len(u.slots) must be > 0.
func (u *User) lookup(key []byte, h uint64) (uint64, bool) {
	const none = ^uint64(0)
	tag, mask, slots := tagOf(h), u.mask, u.slots
	ins := none
	for i := h & mask; ; i = (i + 1) & mask {
		switch s := slots[i]; {
		case s == slotEmpty:
			if ins == none {
				ins = i
			}
			return ins, false
		case s == slotTomb:
			if ins == none {
				ins = i
			}
		case s&tagMask == tag && u.keyIs(s>>tagBits, key):
			return i, true
		}
	}
}

// Get returns the Loc of key. It does not modify u.
func (u *User) Get(key []byte) (Loc, bool) {
	if !validKey(key) {
		return Loc{}, false
	}
	i, ok := u.find(key, u.hash(key))
	if !ok {
		return Loc{}, false
	}
	return getLoc(u.locBytes(u.slots[i]>>tagBits, len(key))), true
}

// Put maps key to loc and returns the previous Loc, if any. It panics if the
// key length is not in 1..MaxKeyLen, if u is closed, or if it is called from
// a Range callback with a key that is not in the index.
func (u *User) Put(key []byte, loc Loc) (old Loc, existed bool) {
	if !validKey(key) {
		panic(fmt.Sprintf("index: key length %d out of range 1..%d", len(key), MaxKeyLen))
	}
	if u.closed {
		panic("index: Put on closed User")
	}
	if len(u.slots) == 0 {
		u.rebuild(minSlots, false)
	} else {
		u.maintain()
	}
	h := u.hash(key)
	i, found := u.lookup(key, h)
	if found {
		b := u.locBytes(u.slots[i]>>tagBits, len(key))
		old = getLoc(b)
		putLoc(b, loc)
		return old, true
	}
	if u.ranging.Load() != 0 {
		panic("index: new key inserted into User during Range")
	}
	if u.slots[i] == slotEmpty && u.live+u.tombs >= maxLoad(len(u.slots)) {
		u.rebuild(sizeFor(u.live+1), false)
		i, _ = u.lookup(key, h)
	}
	off, e := u.ar.alloc(entOverhead + len(key))
	e[0] = byte(len(key))
	copy(e[1:], key)
	putLoc(e[1+len(key):], loc)
	if u.slots[i] == slotTomb {
		u.tombs--
	}
	u.slots[i] = off<<tagBits | tagOf(h)
	u.live++
	return Loc{}, false
}

// Delete removes key and returns its Loc, if it was present. It may be
// called from a Range callback.
func (u *User) Delete(key []byte) (old Loc, existed bool) {
	if !validKey(key) {
		return Loc{}, false
	}
	i, ok := u.find(key, u.hash(key))
	if !ok {
		return Loc{}, false
	}
	old = getLoc(u.locBytes(u.slots[i]>>tagBits, len(key)))
	u.dead += entOverhead + len(key)
	u.live--
	mask := u.mask
	if u.slots[(i+1)&mask] == slotEmpty {
		// No probe sequence goes on past slot i, so it can become empty,
		// and so can the tombstones just before it.
		u.slots[i] = slotEmpty
		for j := (i - 1) & mask; u.slots[j] == slotTomb; j = (j - 1) & mask {
			u.slots[j] = slotEmpty
			u.tombs--
		}
	} else {
		u.slots[i] = slotTomb
		u.tombs++
	}
	u.maintain()
	return old, true
}

// CompareAndSwap sets key to nw only if it currently maps to old. It may be
// called from a Range callback.
func (u *User) CompareAndSwap(key []byte, old, nw Loc) bool {
	if !validKey(key) {
		return false
	}
	i, ok := u.find(key, u.hash(key))
	if !ok {
		return false
	}
	b := u.locBytes(u.slots[i]>>tagBits, len(key))
	if getLoc(b) != old {
		return false
	}
	putLoc(b, nw)
	return true
}

// Len returns the number of keys.
func (u *User) Len() int { return u.live }

// Range calls fn for every key in unspecified order, until fn returns false.
// key points into the index's off-heap memory: it is valid only during the
// call and must not be retained or modified (copy it if needed). fn may call
// Get, Delete, CompareAndSwap, and Put of a key that is present; putting a new
// key panics. Table maintenance caused by deletions is deferred until the
// next Put or Delete after Range returns. Range must not run concurrently
// with mutations.
func (u *User) Range(fn func(key []byte, loc Loc) bool) {
	u.ranging.Add(1)
	defer u.ranging.Add(-1)
	// Nothing moves during Range, so u.slots and u.ar stay valid.
	for _, s := range u.slots {
		if s < minLiveTag {
			continue
		}
		e := u.ar.entry(s >> tagBits)
		klen := int(e[0])
		if !fn(e[1:1+klen:1+klen], getLoc(e[1+klen:])) {
			return
		}
	}
}

// MemBytes returns the off-heap memory held: the slot table plus the arena
// pages in use.
func (u *User) MemBytes() int { return len(u.mem) + u.ar.memBytes() }

// Close releases all memory. u must not be used afterwards: Get and Delete
// find nothing and Put panics.
func (u *User) Close() {
	mem := u.mem
	u.mem, u.slots, u.mask = nil, nil, 0
	u.live, u.tombs, u.dead = 0, 0, 0
	u.closed = true
	freeBytes(mem)
	u.ar.free()
}

// maxLoad is the number of used (live or tombstone) slots allowed in a table
// of n slots: 7/8.
func maxLoad(n int) int { return n - n/8 }

// sizeFor returns the table size for n live keys: the smallest power of two
// (at least minSlots) loaded at most 7/16, so that it can take as many keys
// again before growing.
func sizeFor(n int) int {
	want := (n*16 + 6) / 7
	if want <= minSlots {
		return minSlots
	}
	return 1 << bits.Len(uint(want-1))
}

// maintain rebuilds the table when it holds too many tombstones, is much too
// large for its keys, or when the arena is mostly dead. Each trigger needs a
// number of deletions proportional to the table size since the last
// rebuild, so the cost is amortized O(1) per operation.
func (u *User) maintain() {
	if u.ranging.Load() != 0 {
		return
	}
	n := len(u.slots)
	compact := u.dead >= compactMinDead && 2*u.dead > u.ar.total
	if compact || 4*u.tombs > n || (n > minSlots && 16*u.live < n) {
		u.rebuild(sizeFor(u.live), compact)
	}
}

// rebuild rehashes every live key into a new table of n slots. If compact
// is set, the live entries are also copied into a new arena, dropping the
// dead ones. The old memory is unmapped at once.
func (u *User) rebuild(n int, compact bool) {
	mem := allocBytes(n * 8)
	slots := uint64s(mem)
	mask := uint64(n - 1)
	var na arena
	if compact {
		liveBytes := u.ar.total - u.dead
		na.next = roundUp(liveBytes+liveBytes/8+1, pageSize)
	}
	for _, s := range u.slots {
		if s < minLiveTag {
			continue
		}
		off := s >> tagBits
		e := u.ar.entry(off)
		size := entOverhead + int(e[0])
		h := u.hash(e[1 : 1+int(e[0])])
		if compact {
			var b []byte
			off, b = na.alloc(size)
			copy(b, e[:size])
		}
		i := h & mask
		for slots[i] != slotEmpty {
			i = (i + 1) & mask
		}
		slots[i] = off<<tagBits | s&tagMask
	}
	old := u.mem
	u.mem, u.slots, u.mask, u.tombs = mem, slots, mask, 0
	freeBytes(old)
	if compact {
		u.ar.free()
		u.ar, u.dead = na, 0
	}
}
