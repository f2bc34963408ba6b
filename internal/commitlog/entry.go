package commitlog

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/zeebo/blake3"
)

// Op is the kind of change an entry records.
type Op uint8

// The operations. Zero is not an operation, so that an Entry left zero
// does not pass for a store.
const (
	OpStore  Op = 1 // an object version was committed
	OpDelete Op = 2 // an object was deleted
	OpRepair Op = 3 // an object's shards were rebuilt in place
	OpRotate Op = 4 // an object's data key was re-wrapped under a new master key
)

// String returns the operation's lower-case name, or "op(N)" for an
// unknown value.
func (o Op) String() string {
	switch o {
	case OpStore:
		return "store"
	case OpDelete:
		return "delete"
	case OpRepair:
		return "repair"
	case OpRotate:
		return "rotate"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

func (o Op) valid() bool { return o >= OpStore && o <= OpRotate }

// MaxKeyLen is the longest object key an entry can carry, in bytes.
const MaxKeyLen = 64 << 10

// Entry is one committed change.
type Entry struct {
	// Seq numbers entries from 1, contiguously over the whole log. A Log
	// assigns it.
	Seq uint64
	// Time is when the change was appended, to the nanosecond. A Log
	// assigns it when zero and keeps it non-decreasing.
	Time time.Time
	Op   Op
	// Key is the object key, at most MaxKeyLen bytes.
	Key string
	// Version is the object version the change produced or touched.
	Version [16]byte
	// Root is the object's Merkle root; zero for a delete.
	Root [32]byte
	// Size is the object's size in bytes, never negative.
	Size int64
}

// entryFixed is the size of an encoded entry without its key.
const entryFixed = 8 + 8 + 1 + 8 + 16 + 32 + 4

// zeroTime is how a zero Time is encoded: it has no UnixNano, and Unix
// nanosecond 0 (1970) must stay distinct from it.
const zeroTime = math.MinInt64

var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// validate reports why e cannot be encoded, or nil.
func (e *Entry) validate() error {
	switch {
	case !e.Op.valid():
		return fmt.Errorf("%w entry (seq %d): unknown %v", ErrInvalid, e.Seq, e.Op)
	case len(e.Key) > MaxKeyLen:
		return fmt.Errorf("%w entry (seq %d): key of %d bytes, at most %d", ErrInvalid, e.Seq, len(e.Key), MaxKeyLen)
	case e.Size < 0:
		return fmt.Errorf("%w entry (seq %d): negative size %d", ErrInvalid, e.Seq, e.Size)
	case !e.Time.IsZero() && (e.Time.Before(minTime) || e.Time.After(maxTime)):
		return fmt.Errorf("%w entry (seq %d): time %v outside what nanoseconds since 1970 in an int64 can hold", ErrInvalid, e.Seq, e.Time)
	}
	return nil
}

// encodedLen is the length of e's encoding.
func (e *Entry) encodedLen() int { return entryFixed + len(e.Key) }

// appendTo appends e's encoding to b; e must be valid.
func (e *Entry) appendTo(b []byte) []byte {
	t := int64(zeroTime)
	if !e.Time.IsZero() {
		t = e.Time.UnixNano()
	}
	b = binary.LittleEndian.AppendUint64(b, e.Seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	b = append(b, byte(e.Op))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Size))
	b = append(b, e.Version[:]...)
	b = append(b, e.Root[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Key)))
	return append(b, e.Key...)
}

// MarshalBinary returns e's canonical encoding (equal entries, times
// compared with Equal, encode to equal bytes). It fails with ErrInvalid
// for an unknown Op, a key over MaxKeyLen, a negative Size or a Time that
// Unix nanoseconds cannot hold.
func (e Entry) MarshalBinary() ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e.appendTo(make([]byte, 0, e.encodedLen())), nil
}

// UnmarshalBinary decodes exactly one entry from data: a short, long or
// invalid encoding fails with ErrCorrupt. A decoded Time is in UTC.
func (e *Entry) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	got := d.entry()
	if d.err == nil && d.left() != 0 {
		d.fail("%d trailing bytes after the entry", d.left())
	}
	if d.err != nil {
		return fmt.Errorf("decode entry: %w", d.err)
	}
	*e = got
	return nil
}

// Hash is BLAKE3-256 of e's encoding: the entry's leaf in its batch's
// Merkle tree is built from it.
func (e Entry) Hash() ([32]byte, error) {
	b, err := e.MarshalBinary()
	if err != nil {
		return [32]byte{}, err
	}
	return blake3.Sum256(b), nil
}

// decoder reads the package's encodings. The first failure sticks in err
// and makes every later read return zeros, so callers check once.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) left() int { return len(d.b) - d.off }

// next returns the next n bytes (a sub-slice of the input, not a copy).
func (d *decoder) next(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.left() {
		d.fail("%s at offset %d: truncated (%d bytes needed, %d left)", what, d.off, n, d.left())
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) byte(what string) byte {
	if p := d.next(what, 1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) uint32(what string) uint32 {
	if p := d.next(what, 4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) uint64(what string) uint64 {
	if p := d.next(what, 8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// entry decodes one entry at the current offset.
func (d *decoder) entry() Entry {
	var e Entry
	start := d.off
	e.Seq = d.uint64("entry seq")
	if t := int64(d.uint64("entry time")); d.err == nil && t != zeroTime {
		e.Time = time.Unix(0, t).UTC()
	}
	e.Op = Op(d.byte("entry op"))
	if d.err == nil && !e.Op.valid() {
		d.fail("entry at offset %d (seq %d): unknown %v", start, e.Seq, e.Op)
	}
	e.Size = int64(d.uint64("entry size"))
	if d.err == nil && e.Size < 0 {
		d.fail("entry at offset %d (seq %d): negative size %d", start, e.Seq, e.Size)
	}
	copy(e.Version[:], d.next("entry version", len(e.Version)))
	copy(e.Root[:], d.next("entry root", len(e.Root)))
	n := d.uint32("entry key length")
	if d.err == nil && n > MaxKeyLen {
		d.fail("entry at offset %d (seq %d): key length %d over %d", start, e.Seq, n, MaxKeyLen)
	}
	e.Key = string(d.next("entry key", int(n)))
	if d.err != nil {
		return Entry{}
	}
	return e
}
