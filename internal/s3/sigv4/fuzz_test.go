package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Beyond the committed corpus in testdata/fuzz, run for example
//
//	go test -run='^$' -fuzz=FuzzChunkedReader -fuzztime=30s ./internal/s3/sigv4/

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250314/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + validSig)
	f.Add("AWS AKID:c2ln")
	f.Fuzz(func(t *testing.T, h string) {
		p, err := parseAuthorization(h)
		if err != nil {
			if err.Code == "" || err.Status < 400 || err.Message == "" {
				t.Fatalf("incomplete error %+v", err)
			}
			if len(err.Message) > 1024 {
				t.Fatalf("error message of %d bytes", len(err.Message))
			}
		} else {
			if p.cred.accessKey == "" || len(p.signature) != 32 || len(p.signedHeaders) == 0 {
				t.Fatalf("accepted %q as %+v", h, p)
			}
			host := false
			for _, n := range p.signedHeaders {
				if n == "" || n != strings.ToLower(n) {
					t.Fatalf("signed header %q", n)
				}
				host = host || n == "host"
			}
			if !host {
				t.Fatal("host not signed")
			}
		}

		// The whole verifier, on a request carrying the header.
		r, rerr := http.NewRequest(http.MethodPut, "http://"+testHost+"/bucket/key?uploads", strings.NewReader("body"))
		if rerr != nil {
			t.Fatal(rerr)
		}
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", testNow.Format(iso8601))
		r.Header.Set("X-Amz-Content-Sha256", streamingSigned)
		res, verr := newVerifier().Verify(r)
		var e *Error
		if verr != nil && !errors.As(verr, &e) {
			t.Fatalf("error of type %T", verr)
		}
		if verr == nil && res.AccessKey != testAccessKey {
			t.Fatalf("verified as %+v", res)
		}
		if verr == nil {
			io.Copy(io.Discard, r.Body)
		}
	})
}

// The fixed signing context of FuzzChunkedReader; its seed corpus holds
// bodies correctly signed with it, so that mutations explore past the
// first signature check.
var fuzzSigner = chunkSigner{
	key:       testSigningKey(testSecret, "20250314", testRegion),
	timestamp: "20250314T150926Z",
	scope:     "20250314/" + testRegion + "/s3/aws4_request",
	prev:      strings.Repeat("a", 64),
}

// fuzzReader decodes data in one of the three aws-chunked modes.
func fuzzReader(data []byte, mode uint8) *chunkedReader {
	kind := (mode & 3) % 3 // 0 signed, 1 signed with trailer, 2 unsigned with trailer
	var signer *chunkSigner
	if kind != 2 {
		s := fuzzSigner
		signer = &s
	}
	trailer := kind != 0
	var names []string
	if trailer {
		names = []string{"x-amz-checksum-crc32", "x-amz-checksum-sha256"}
	}
	want := int64(-1)
	if mode&4 != 0 {
		want = 4 * int64(mode>>3)
	}
	return newChunkedReader(io.NopCloser(bytes.NewReader(data)), signer, trailer, names, want, http.Header{})
}

const fuzzPayload = "The quick brown fox jumps over the lazy dog."

type fuzzSeed struct {
	data []byte
	mode uint8
}

// fuzzSeeds are correct bodies in each mode (see fuzzReader), in the
// layouts of the AWS SDKs and of minio-go.
func fuzzSeeds() []fuzzSeed {
	o := chunkOpts{
		key:       fuzzSigner.key,
		timestamp: fuzzSigner.timestamp,
		scope:     fuzzSigner.scope,
		seed:      fuzzSigner.prev,
		chunkSize: 16,
	}
	payload := []byte(fuzzPayload)
	trailers := [][2]string{{"x-amz-checksum-crc32", crc32Of(payload)}, {"x-amz-checksum-sha256", sha256Of(payload)}}
	var seeds []fuzzSeed
	add := func(mode uint8, signed, trailer, minio bool) {
		o.signed, o.trailer, o.minio, o.trailers = signed, trailer, minio, nil
		if trailer {
			o.trailers = trailers
		}
		seeds = append(seeds, fuzzSeed{encodeChunked(payload, o), mode})
	}
	add(0, true, false, false)
	add(1, true, true, false)
	add(1, true, true, true)
	add(2, false, true, false)
	add(2, false, true, true)
	add(4|byte(len(payload)/4)<<3, true, false, false) // with the decoded length
	return seeds
}

func FuzzChunkedReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.data, s.mode)
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		c := fuzzReader(data, mode)
		var out bytes.Buffer
		_, err := io.Copy(&out, c)
		if out.Len() > len(data) {
			t.Fatalf("decoded %d bytes from %d", out.Len(), len(data))
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if e != nil && (e.Code == "" || e.Status < 400) {
			t.Fatalf("incomplete error %+v", e)
		}
		// Memory follows the data received, not the sizes claimed.
		if cap(c.buf) > 2*len(data)+64<<10 {
			t.Fatalf("buffer of %d bytes for %d bytes of input", cap(c.buf), len(data))
		}
		// Reads after the end repeat its outcome.
		if n, err2 := c.Read(make([]byte, 8)); n != 0 || (err == nil) != (err2 == io.EOF) {
			t.Fatalf("read after end: %d, %v (first: %v)", n, err2, err)
		}
		// The fuzzer cannot forge chunk signatures: a signed body that
		// decodes is the signed payload, however it was reframed.
		if err == nil && c.signer != nil && out.String() != fuzzPayload {
			t.Fatalf("forged signed body decoded to %q", out.Bytes())
		}
	})
}

// The seed corpus decodes as written.
func TestFuzzSeeds(t *testing.T) {
	for i, s := range fuzzSeeds() {
		got, err := io.ReadAll(fuzzReader(s.data, s.mode))
		if err != nil || string(got) != fuzzPayload {
			t.Fatalf("seed %d (mode %d): %q, %v", i, s.mode, got, err)
		}
	}
}
