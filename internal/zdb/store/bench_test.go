package store

import (
	"fmt"
	"testing"
)

// BenchmarkApply16x4K writes pipelined batches of 16 × 4 KiB values, as a
// connection does under redis-benchmark -P 16.
func BenchmarkApply16x4K(b *testing.B) {
	for _, pre := range []bool{true, false} {
		b.Run(fmt.Sprintf("prealloc=%v", pre), func(b *testing.B) { benchApply(b, pre) })
	}
}

func benchApply(b *testing.B, prealloc bool) {
	s, err := Open(Options{DataDir: b.TempDir(), CompactRatio: -1})
	if err != nil {
		b.Fatal(err)
	}
	s.noPrealloc = !prealloc
	defer s.Close()
	val := make([]byte, 4096)
	ops := make([]Op, 16)
	res := make([]Result, 16)
	keys := make([][]byte, 100000)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%012d", i))
	}
	b.SetBytes(16 * 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ops {
			val[0], val[1] = byte(i), byte(j)
			ops[j] = Op{Key: keys[(i*16+j)%len(keys)], Value: val}
		}
		if err := s.Apply(ops, res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet4K(b *testing.B) {
	s, err := Open(Options{DataDir: b.TempDir(), CompactRatio: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := make([]byte, 4096)
	keys := make([][]byte, 10000)
	res := make([]Result, 1)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%012d", i))
		s.Apply([]Op{{Key: keys[i], Value: val}}, res)
	}
	buf := make([]byte, 0, 8192)
	b.SetBytes(4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Get(buf[:0], keys[i%len(keys)], nil); err != nil {
			b.Fatal(err)
		}
	}
}
