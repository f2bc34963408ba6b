package benchkit

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// The stream gives the same bytes however it is read.
func TestStreamChunking(t *testing.T) {
	const size = 100_003
	want := make([]byte, size)
	Fill(42, want)
	for _, chunk := range []int{1, 3, 7, 8, 9, 4096, 65537, size + 10} {
		s := NewStream(42, size)
		var got bytes.Buffer
		buf := make([]byte, chunk)
		for {
			n, err := s.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("chunk %d: stream differs", chunk)
		}
	}
	other := make([]byte, 64)
	Fill(43, other)
	if bytes.Equal(other, want[:64]) {
		t.Fatal("seeds 42 and 43 give the same bytes")
	}
}

func TestPct(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(100-i) * time.Millisecond
	}
	if p := Pct(lat, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := Pct(lat, 99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if p := Pct(lat[:1], 50); p != 100*time.Millisecond {
		t.Errorf("p50 of one = %v", p)
	}
}
