package sigv4

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The check values of the CRC catalogue (the CRC of "123456789") and the
// FIPS 180 digests of the same string.
func TestChecksumVectors(t *testing.T) {
	for _, tt := range []struct {
		alg  string
		want string // hex, big-endian
	}{
		{"CRC32", "cbf43926"},
		{"CRC32C", "e3069283"},
		{"CRC64NVME", "ae8b14860a799888"},
		{"SHA1", "f7c3bc1d808e04732adf679965ccc34ca7ae3441"},
		{"SHA256", "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"},
	} {
		a := checksumByName(tt.alg)
		if a == nil {
			t.Fatalf("%s unknown", tt.alg)
		}
		h := a.new()
		io.WriteString(h, "123456789")
		if got := hex.EncodeToString(h.Sum(nil)); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.alg, got, tt.want)
		}
		if len(h.Sum(nil)) != a.size {
			t.Errorf("%s: size %d", tt.alg, a.size)
		}
	}
	// The base64 form S3 uses for CRC32 of "" is AAAAAA==.
	if got := b64(binary.BigEndian.AppendUint32(nil, 0)); got != "AAAAAA==" {
		t.Fatal(got)
	}
}

func TestChecksumHeader(t *testing.T) {
	for _, tt := range []struct {
		h         http.Header
		alg, want string
		ok        bool
	}{
		{http.Header{}, "", "", false},
		{http.Header{"X-Amz-Checksum-Algorithm": {"CRC32"}}, "", "", false}, // CreateMultipartUpload: no value
		{http.Header{"X-Amz-Checksum-Crc32": {"abc="}}, "CRC32", "abc=", true},
		{http.Header{"X-Amz-Checksum-Crc64nvme": {"v"}}, "CRC64NVME", "v", true},
		{http.Header{"X-Amz-Checksum-Sha256": {"s"}, "X-Amz-Checksum-Crc32c": {"c"}}, "CRC32C", "c", true},
		{http.Header{"X-Amz-Checksum-Sha256": {"s"}, "X-Amz-Checksum-Crc32c": {"c"}, "X-Amz-Sdk-Checksum-Algorithm": {"sha256"}}, "SHA256", "s", true},
		{http.Header{"X-Amz-Checksum-Sha1": {"s"}, "X-Amz-Sdk-Checksum-Algorithm": {"CRC32"}}, "SHA1", "s", true},
	} {
		alg, want, ok := ChecksumHeader(tt.h)
		if alg != tt.alg || want != tt.want || ok != tt.ok {
			t.Errorf("%v: %q %q %v", tt.h, alg, want, ok)
		}
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestVerifyChecksumReader(t *testing.T) {
	data := testPayload(100000)
	for _, tt := range []struct {
		alg, want string
		code      string
		readNone  bool
	}{
		{"CRC32", crc32Of(data), "", false},
		{"crc32c", crc32cOf(data), "", false},
		{"x-amz-checksum-crc64nvme", crc64Of(data), "", false},
		{"SHA1", sha1Of(data), "", false},
		{"SHA256", sha256Of(data), "", false},
		{"CRC32", crc32Of(data[1:]), "BadDigest", false},
		{"SHA256", sha1Of(data), "InvalidRequest", true}, // a SHA-1 is no SHA-256
		{"CRC32", "not base64!", "InvalidRequest", true},
		{"MD5", "x", "InvalidRequest", true},
	} {
		body := &closeRecorder{Reader: strings.NewReader(string(data))}
		r := VerifyChecksumReader(body, tt.alg, tt.want)
		got, err := io.ReadAll(iotestHalfReader{r})
		if s3Code(err) != tt.code {
			t.Fatalf("%s %s: %v, want %q", tt.alg, tt.want, err, tt.code)
		}
		if tt.code == "BadDigest" && !strings.Contains(err.Error(), "CRC32") {
			t.Fatalf("message does not name the algorithm: %v", err)
		}
		if tt.readNone && len(got) != 0 || !tt.readNone && len(got) != len(data) {
			t.Fatalf("%s: read %d bytes", tt.alg, len(got))
		}
		if r.Close() != nil || !body.closed {
			t.Fatal("Close not passed on")
		}
	}
}

func TestChecksumReaderPassesErrors(t *testing.T) {
	boom := errors.New("connection reset")
	r := VerifyChecksumReader(io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{boom})), "CRC32", crc32Of([]byte("abc")))
	if _, err := io.ReadAll(r); err != boom {
		t.Fatal(err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
