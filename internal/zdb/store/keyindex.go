package store

import "github.com/zerostor/zerostor/internal/zdb/index"

// keyIndex is what the store needs from an in-memory index; one
// implementation per mode. Keys are wire keys: in seq mode the 8-byte
// little-endian id.
type keyIndex interface {
	get(key []byte) (index.Loc, bool)
	put(key []byte, loc index.Loc) (index.Loc, bool)
	del(key []byte) (index.Loc, bool)
	cas(key []byte, old, nw index.Loc) bool
	len() int
	memBytes() int
	close()
}

type userIndex struct{ u *index.User }

var _ keyIndex = userIndex{}

func (x userIndex) get(k []byte) (index.Loc, bool)              { return x.u.Get(k) }
func (x userIndex) put(k []byte, l index.Loc) (index.Loc, bool) { return x.u.Put(k, l) }
func (x userIndex) del(k []byte) (index.Loc, bool)              { return x.u.Delete(k) }
func (x userIndex) cas(k []byte, old, nw index.Loc) bool        { return x.u.CompareAndSwap(k, old, nw) }
func (x userIndex) len() int                                    { return x.u.Len() }
func (x userIndex) memBytes() int                               { return x.u.MemBytes() }
func (x userIndex) close()                                      { x.u.Close() }

// seqIndex maps 8-byte ids; any other key is simply absent.
type seqIndex struct{ s *index.Seq }

var _ keyIndex = seqIndex{}

func (x seqIndex) get(k []byte) (index.Loc, bool) {
	id, ok := index.ParseSeqKey(k)
	if !ok {
		return index.Loc{}, false
	}
	return x.s.Get(id)
}

func (x seqIndex) put(k []byte, l index.Loc) (index.Loc, bool) {
	id, ok := index.ParseSeqKey(k)
	if !ok {
		return index.Loc{}, false
	}
	old, existed := x.s.Get(id)
	if err := x.s.Set(id, l); err != nil {
		// Set fails only for ids the store never hands out.
		panic(err)
	}
	return old, existed
}

func (x seqIndex) del(k []byte) (index.Loc, bool) {
	id, ok := index.ParseSeqKey(k)
	if !ok {
		return index.Loc{}, false
	}
	return x.s.Delete(id)
}

func (x seqIndex) cas(k []byte, old, nw index.Loc) bool {
	id, ok := index.ParseSeqKey(k)
	return ok && x.s.CompareAndSwap(id, old, nw)
}

func (x seqIndex) len() int      { return x.s.Len() }
func (x seqIndex) memBytes() int { return x.s.MemBytes() }
func (x seqIndex) close()        { x.s.Close() }
