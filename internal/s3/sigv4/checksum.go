package sigv4

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
)

// checksumAlg is one of S3's additional checksums (x-amz-checksum-*). The
// value is the base64 of the big-endian digest, which is what Sum of the
// hash/crc32 and hash/crc64 hashes returns.
type checksumAlg struct {
	name   string // as in x-amz-sdk-checksum-algorithm: "CRC32"
	header string // lower case: "x-amz-checksum-crc32"
	size   int    // digest bytes
	new    func() hash.Hash
}

var (
	castagnoliTable = crc32.MakeTable(crc32.Castagnoli)
	// crc64NVMETable is CRC-64/NVME (the polynomial 0xAD93D23594C93659,
	// given bit-reversed as hash/crc64 wants; init and xorout all ones,
	// which hash/crc64 always applies). Its check value, the CRC of
	// "123456789", is 0xAE8B14860A799888.
	crc64NVMETable = crc64.MakeTable(0x9A6C9329AC4BC9B5)
)

var checksumAlgs = []*checksumAlg{
	{"CRC32", "x-amz-checksum-crc32", 4, func() hash.Hash { return crc32.NewIEEE() }},
	{"CRC32C", "x-amz-checksum-crc32c", 4, func() hash.Hash { return crc32.New(castagnoliTable) }},
	{"CRC64NVME", "x-amz-checksum-crc64nvme", 8, func() hash.Hash { return crc64.New(crc64NVMETable) }},
	{"SHA1", "x-amz-checksum-sha1", sha1.Size, sha1.New},
	{"SHA256", "x-amz-checksum-sha256", sha256.Size, sha256.New},
}

// checksumByName finds an algorithm by its name ("crc32c") or its header
// ("x-amz-checksum-crc32c"), in any case.
func checksumByName(s string) *checksumAlg {
	for _, a := range checksumAlgs {
		if strings.EqualFold(s, a.name) || strings.EqualFold(s, a.header) {
			return a
		}
	}
	return nil
}

// checksumByHeader finds an algorithm by its lower-case header name.
func checksumByHeader(name string) *checksumAlg {
	for _, a := range checksumAlgs {
		if name == a.header {
			return a
		}
	}
	return nil
}

// decode returns the digest in a base64 value, or nil when the value is
// not a digest of this algorithm.
func (a *checksumAlg) decode(b64 string) []byte {
	want, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(want) != a.size {
		return nil
	}
	return want
}

func errBadChecksumValue(a *checksumAlg, where string) *Error {
	return errInvalidRequest("Value for " + a.header + " " + where + " is invalid.")
}

// runningChecksum is a checksum being computed over a body.
type runningChecksum struct {
	alg *checksumAlg
	h   hash.Hash
}

// ChecksumHeader returns the additional checksum a request carries as a
// header (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 or -sha256):
// the algorithm's name as S3 spells it ("CRC32", "CRC32C", "CRC64NVME",
// "SHA1", "SHA256") and the base64 value. The AWS SDKs send one with
// PutObject and UploadPart when the body is not aws-chunked (over plain
// HTTP, for instance). When x-amz-sdk-checksum-algorithm names one of
// several, that one wins. ok is false when there is none it knows.
func ChecksumHeader(h http.Header) (alg string, want string, ok bool) {
	if a := checksumByName(h.Get("X-Amz-Sdk-Checksum-Algorithm")); a != nil {
		if v := h.Get(a.header); v != "" {
			return a.name, v, true
		}
	}
	for _, a := range checksumAlgs {
		if v := h.Get(a.header); v != "" {
			return a.name, v, true
		}
	}
	return "", "", false
}

// VerifyChecksumReader wraps a body so that reading it to its end returns
// an *Error BadDigest instead of io.EOF when the body's checksum differs
// from wantBase64. alg is a name ChecksumHeader returns (or the header
// name); an unknown algorithm or a value that is not a digest of it makes
// the first Read fail with *Error InvalidRequest, before anything is read.
func VerifyChecksumReader(r io.ReadCloser, alg, wantBase64 string) io.ReadCloser {
	cr := &checksumReader{body: r}
	a := checksumByName(alg)
	switch {
	case a == nil:
		cr.err = errInvalidRequest("Unsupported checksum algorithm \"" + clip(alg) + "\".")
	case a.decode(wantBase64) == nil:
		cr.err = errBadChecksumValue(a, "header")
	default:
		cr.alg, cr.h, cr.want = a, a.new(), a.decode(wantBase64)
	}
	return cr
}

type checksumReader struct {
	body io.ReadCloser
	alg  *checksumAlg
	h    hash.Hash
	want []byte
	err  error // sticky
}

func (cr *checksumReader) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	n, err := cr.body.Read(p)
	cr.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(cr.h.Sum(nil), cr.want) {
		err = errBadDigest(cr.alg.name)
	}
	cr.err = err
	return n, err
}

func (cr *checksumReader) Close() error { return cr.body.Close() }
