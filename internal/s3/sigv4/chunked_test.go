package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"
)

// chunkOpts describes an aws-chunked body for encodeChunked, which
// follows the S3 documentation ("Signature calculations for the
// Authorization header: transferring payload in multiple chunks" and
// "... including trailing headers"), written independently of the
// decoder.
type chunkOpts struct {
	signed    bool
	key       []byte
	timestamp string
	scope     string
	seed      string
	chunkSize int         // 0: the whole payload in one chunk
	trailer   bool        // a trailer section follows
	trailers  [][2]string // name, value
	minio     bool        // minio-go's layout of the trailer
}

func (o chunkOpts) chunkSig(prev string, data []byte) string {
	m := hmac.New(sha256.New, o.key)
	fmt.Fprintf(m, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", o.timestamp, o.scope, prev, sha256Hex(nil), sha256Hex(data))
	return hex.EncodeToString(m.Sum(nil))
}

func encodeChunked(payload []byte, o chunkOpts) []byte {
	var b bytes.Buffer
	prev := o.seed
	size := o.chunkSize
	if size == 0 {
		size = max(len(payload), 1)
	}
	for off := 0; ; off += size {
		data := payload[min(off, len(payload)):min(off+size, len(payload))]
		if o.signed {
			prev = o.chunkSig(prev, data)
			fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(data), prev)
		} else {
			fmt.Fprintf(&b, "%x\r\n", len(data))
		}
		if len(data) == 0 {
			break
		}
		b.Write(data)
		b.WriteString("\r\n")
	}
	if !o.trailer {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var canon strings.Builder
	for _, tr := range o.trailers {
		canon.WriteString(tr[0] + ":" + tr[1] + "\n")
		if o.minio {
			b.WriteString(tr[0] + ":" + tr[1] + "\n")
		} else {
			b.WriteString(tr[0] + ":" + tr[1] + "\r\n")
		}
	}
	if o.minio {
		b.WriteString("\r\n")
	}
	if o.signed {
		m := hmac.New(sha256.New, o.key)
		fmt.Fprintf(m, "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", o.timestamp, o.scope, prev, sha256Hex([]byte(canon.String())))
		b.WriteString("x-amz-trailer-signature:" + hex.EncodeToString(m.Sum(nil)) + "\r\n")
	}
	b.WriteString("\r\n")
	if o.minio && !o.signed {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// streamingRequest signs a streaming upload of payload with the SDK signer
// (the seed), encodes its body, and returns it as the server reads it.
func streamingRequest(t testing.TB, payload []byte, mode string, o chunkOpts, hdr http.Header) *http.Request {
	t.Helper()
	o.signed = mode == streamingSigned || mode == streamingSignedTrailer
	o.trailer = mode != streamingSigned
	o.timestamp = testNow.Format(iso8601)
	o.scope = testNow.Format(yyyymmdd) + "/" + testRegion + "/s3/aws4_request"
	o.key = testSigningKey(testSecret, testNow.Format(yyyymmdd), testRegion)
	o.seed = strings.Repeat("0", 64)
	encodedLen := len(encodeChunked(payload, o))

	r := clientRequest(t, http.MethodPut, "streamed object", nil, nil)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(payload)))
	var names []string
	for _, tr := range o.trailers {
		names = append(names, tr[0])
	}
	if len(names) > 0 {
		r.Header.Set("X-Amz-Trailer", strings.Join(names, ","))
	}
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	r.ContentLength = int64(encodedLen)
	sign(t, r, mode, testNow, testCreds, testRegion)
	o.seed = seedSignature(t, r)
	body := encodeChunked(payload, o)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return toServer(t, r)
}

func testPayload(n int) []byte {
	p := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(p)
	return p
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func crc32Of(p []byte) string { return b64(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(p))) }
func crc32cOf(p []byte) string {
	return b64(binary.BigEndian.AppendUint32(nil, crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))))
}
func crc64Of(p []byte) string {
	return b64(binary.BigEndian.AppendUint64(nil, crc64.Checksum(p, crc64.MakeTable(0x9A6C9329AC4BC9B5))))
}
func sha1Of(p []byte) string   { s := sha1.Sum(p); return b64(s[:]) }
func sha256Of(p []byte) string { s := sha256.Sum256(p); return b64(s[:]) }

func TestStreamingSigned(t *testing.T) {
	for _, tt := range []struct {
		size, chunk int
	}{
		{0, 0}, {1, 0}, {65536, 65536}, {200*1024 + 3, 65536}, {100000, 8192}, {3 << 20, 1 << 20},
	} {
		payload := testPayload(tt.size)
		sr := streamingRequest(t, payload, streamingSigned, chunkOpts{chunkSize: tt.chunk}, http.Header{
			"Content-Encoding": {"gzip,aws-chunked"},
		})
		if _, err := newVerifier().Verify(sr); err != nil {
			t.Fatalf("size %d: %v", tt.size, err)
		}
		if sr.ContentLength != int64(tt.size) || sr.Header.Get("Content-Length") != fmt.Sprint(tt.size) {
			t.Fatalf("content length %d %q", sr.ContentLength, sr.Header.Get("Content-Length"))
		}
		if ce := sr.Header.Values("Content-Encoding"); len(ce) != 1 || ce[0] != "gzip" {
			t.Fatalf("content-encoding %q", ce)
		}
		got, err := io.ReadAll(iotestHalfReader{sr.Body})
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("size %d: got %d bytes, %v", tt.size, len(got), err)
		}
	}
}

// iotestHalfReader reads in small, odd-sized pieces to exercise partial
// reads.
type iotestHalfReader struct{ r io.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) {
	if len(p) > 7777 {
		p = p[:7777]
	}
	return h.r.Read(p)
}

// The example of the S3 documentation, with its published signatures:
// 66560 bytes of 'a' in chunks of 65536 and 1024 bytes.
func TestStreamingAWSDocumentationExample(t *testing.T) {
	const seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	sigs := []string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	var body bytes.Buffer
	for i, n := range []int{65536, 1024, 0} {
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n%s\r\n", n, sigs[i], strings.Repeat("a", n))
	}
	raw := "PUT /examplebucket/chunkObject.txt HTTP/1.1\r\n" +
		"Host: s3.amazonaws.com\r\n" +
		"x-amz-date: 20130524T000000Z\r\n" +
		"x-amz-storage-class: REDUCED_REDUNDANCY\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=" + seed + "\r\n" +
		"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\n" +
		"Content-Encoding: aws-chunked\r\n" +
		"x-amz-decoded-content-length: 66560\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", body.Len()) + body.String()
	if body.Len() != 66824 {
		t.Fatalf("encoded length %d, the documentation says 66824", body.Len())
	}
	v := &Verifier{
		Lookup: func(string) (string, bool) { return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true },
		Now:    func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) },
	}
	r := readRaw(t, raw)
	if _, err := v.Verify(r); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != strings.Repeat("a", 66560) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if r.Header.Get("Content-Encoding") != "" {
		t.Fatal("aws-chunked left in Content-Encoding")
	}
}

func TestStreamingSignedTampered(t *testing.T) {
	payload := testPayload(5*8192 + 100)
	o := chunkOpts{chunkSize: 8192}
	headerLen := len(fmt.Sprintf("%x;chunk-signature=%s\r\n", 8192, strings.Repeat("0", 64)))
	chunkLen := headerLen + 8192 + 2

	run := func(name string, body []byte, code string, maxGood int) {
		t.Helper()
		sr := streamingRequest(t, payload, streamingSigned, o, nil)
		sr.Body = io.NopCloser(bytes.NewReader(body))
		if _, err := newVerifier().Verify(sr); err != nil {
			t.Fatalf("%s: verify: %v", name, err)
		}
		got, err := io.ReadAll(sr.Body)
		if s3Code(err) != code {
			t.Fatalf("%s: got %v, want %s", name, err, code)
		}
		// Nothing of a chunk that failed its signature reaches the caller.
		if maxGood >= 0 && (len(got) > maxGood || !bytes.Equal(got, payload[:len(got)])) {
			t.Fatalf("%s: %d bytes returned, at most %d verified", name, len(got), maxGood)
		}
	}

	// The body as encoded for the signed request.
	encoded := encodeForRequest(t, payload, o)

	flip := append([]byte{}, encoded...)
	flip[2*chunkLen+headerLen+5] ^= 1
	run("flipped byte in chunk 3", flip, "SignatureDoesNotMatch", 2*8192)

	swapped := append([]byte{}, encoded[:chunkLen]...)
	swapped = append(swapped, encoded[2*chunkLen:3*chunkLen]...)
	swapped = append(swapped, encoded[chunkLen:2*chunkLen]...)
	swapped = append(swapped, encoded[3*chunkLen:]...)
	run("swapped chunks", swapped, "SignatureDoesNotMatch", 8192)

	noSig := bytes.Replace(encoded, []byte(";chunk-signature="), []byte(";chunk-signaturx="), 1)
	run("no signature", noSig, "SignatureDoesNotMatch", 0)

	// Truncated anywhere before its last CRLF.
	for cut := 0; cut < len(encoded)-2; cut += 97 {
		run(fmt.Sprintf("cut at %d", cut), encoded[:cut], "IncompleteBody", cut)
	}
	run("cut before last CRLF", encoded[:len(encoded)-2], "", -1)
	run("garbage after end", append(append([]byte{}, encoded[:len(encoded)-2]...), "junk\r\n"...), "InvalidRequest", -1)
}

// encodeForRequest returns the body streamingRequest sends: the request
// is the same each time, and so is its seed signature.
func encodeForRequest(t testing.TB, payload []byte, o chunkOpts) []byte {
	t.Helper()
	sr := streamingRequest(t, payload, streamingSigned, o, nil)
	b, err := io.ReadAll(sr.Body) // not verified yet: still encoded
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamingDecodedLength(t *testing.T) {
	payload := testPayload(10000)
	for _, tt := range []struct {
		decoded string
		code    string
	}{
		{"10001", "IncompleteBody"},
		{"9999", "InvalidRequest"},
		{"", ""},
	} {
		h := http.Header{}
		if tt.decoded != "" {
			h.Set("X-Amz-Decoded-Content-Length", tt.decoded)
		}
		sr := streamingRequest(t, payload, streamingSigned, chunkOpts{chunkSize: 4096}, h)
		if tt.decoded == "" {
			sr.Header.Del("X-Amz-Decoded-Content-Length")
			// Unsigned now, so sign again without it.
			sr = streamingRequestWithout(t, payload)
		}
		if _, err := newVerifier().Verify(sr); err != nil {
			t.Fatalf("%q: %v", tt.decoded, err)
		}
		got, err := io.ReadAll(sr.Body)
		if s3Code(err) != tt.code {
			t.Fatalf("%q: got %v, want %q", tt.decoded, err, tt.code)
		}
		if tt.code == "" && (!bytes.Equal(got, payload) || sr.ContentLength != -1) {
			t.Fatalf("decoded %d bytes, ContentLength %d", len(got), sr.ContentLength)
		}
	}
	sr := streamingRequest(t, payload, streamingSigned, chunkOpts{}, http.Header{"X-Amz-Decoded-Content-Length": {"-1"}})
	if _, err := newVerifier().Verify(sr); s3Code(err) != "InvalidArgument" {
		t.Fatal(err)
	}
}

// streamingRequestWithout is a signed streaming request without
// x-amz-decoded-content-length.
func streamingRequestWithout(t testing.TB, payload []byte) *http.Request {
	t.Helper()
	o := chunkOpts{chunkSize: 4096, signed: true}
	o.timestamp = testNow.Format(iso8601)
	o.scope = testNow.Format(yyyymmdd) + "/" + testRegion + "/s3/aws4_request"
	o.key = testSigningKey(testSecret, testNow.Format(yyyymmdd), testRegion)
	o.seed = strings.Repeat("0", 64)
	r := clientRequest(t, http.MethodPut, "obj", nil, nil)
	r.ContentLength = int64(len(encodeChunked(payload, o)))
	sign(t, r, streamingSigned, testNow, testCreds, testRegion)
	o.seed = seedSignature(t, r)
	r.Body = io.NopCloser(bytes.NewReader(encodeChunked(payload, o)))
	return toServer(t, r)
}

func TestStreamingLimits(t *testing.T) {
	payload := testPayload(100)
	for _, tt := range []struct {
		name, body, code string
	}{
		{"chunk over 16 MiB", fmt.Sprintf("%x;chunk-signature=%s\r\n", 16<<20+1, strings.Repeat("a", 64)), "InvalidRequest"},
		{"16 MiB chunk cut short", fmt.Sprintf("%x;chunk-signature=%s\r\nabc", 16<<20, strings.Repeat("a", 64)), "IncompleteBody"},
		{"long header line", strings.Repeat("1", 5000) + "\r\n", "InvalidRequest"},
		{"size overflow", "fffffffffffffffff;chunk-signature=x\r\n", "InvalidRequest"},
		{"signed size", "-1;chunk-signature=x\r\n", "InvalidRequest"},
		{"empty", "", "IncompleteBody"},
	} {
		sr := streamingRequest(t, payload, streamingSigned, chunkOpts{}, http.Header{"X-Amz-Decoded-Content-Length": {"99999999"}})
		sr.Body = io.NopCloser(strings.NewReader(tt.body))
		if _, err := newVerifier().Verify(sr); err != nil {
			t.Fatal(err)
		}
		_, err := io.ReadAll(sr.Body)
		if s3Code(err) != tt.code {
			t.Fatalf("%s: got %v, want %s", tt.name, err, tt.code)
		}
		if c := sr.Body.(*chunkedReader); cap(c.buf) > 64<<10 {
			t.Fatalf("%s: buffer grew to %d bytes for a few bytes of data", tt.name, cap(c.buf))
		}
	}
}

func TestStreamingTrailers(t *testing.T) {
	payload := testPayload(150000)
	other := append(append([]byte{}, payload[:len(payload)-1]...), 0)
	algs := []struct {
		name, header string
		sum          func([]byte) string
	}{
		{"CRC32", "x-amz-checksum-crc32", crc32Of},
		{"CRC32C", "x-amz-checksum-crc32c", crc32cOf},
		{"CRC64NVME", "x-amz-checksum-crc64nvme", crc64Of},
		{"SHA1", "x-amz-checksum-sha1", sha1Of},
		{"SHA256", "x-amz-checksum-sha256", sha256Of},
	}
	for _, mode := range []string{streamingSignedTrailer, streamingUnsignedTrailer} {
		for _, alg := range algs {
			for _, minio := range []bool{false, true} {
				for _, chunk := range []int{0, 65536} {
					name := fmt.Sprintf("%s/%s/minio=%v/chunk=%d", mode, alg.name, minio, chunk)
					if mode == streamingSignedTrailer && chunk == 0 {
						chunk = 16 << 20 // one signed chunk
					}
					good := [][2]string{{alg.header, alg.sum(payload)}}
					sr := streamingRequest(t, payload, mode, chunkOpts{chunkSize: chunk, trailers: good, minio: minio}, nil)
					if _, err := newVerifier().Verify(sr); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					got, err := io.ReadAll(iotestHalfReader{sr.Body})
					if err != nil || !bytes.Equal(got, payload) {
						t.Fatalf("%s: %d bytes, %v", name, len(got), err)
					}
					if v := sr.Trailer.Get(alg.header); v != alg.sum(payload) {
						t.Fatalf("%s: trailer %q", name, v)
					}

					bad := [][2]string{{alg.header, alg.sum(other)}}
					sr = streamingRequest(t, payload, mode, chunkOpts{chunkSize: chunk, trailers: bad, minio: minio}, nil)
					if _, err := newVerifier().Verify(sr); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					_, err = io.ReadAll(sr.Body)
					if s3Code(err) != "BadDigest" || !strings.Contains(err.Error(), alg.name) {
						t.Fatalf("%s: wrong checksum: %v", name, err)
					}
				}
			}
		}
	}
}

func TestStreamingTrailerErrors(t *testing.T) {
	payload := testPayload(20000)
	crc := [][2]string{{"x-amz-checksum-crc32", crc32Of(payload)}}
	tests := []struct {
		name   string
		mode   string
		edit   func([]byte) []byte
		header http.Header
		code   string
	}{
		{name: "signed ok", mode: streamingSignedTrailer},
		{name: "unsigned ok", mode: streamingUnsignedTrailer},
		{name: "trailer signature wrong", mode: streamingSignedTrailer, edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			b[i] ^= 1
			return b
		}, code: "SignatureDoesNotMatch"},
		{name: "trailer value changed", mode: streamingSignedTrailer, edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte(crc[0][1]), []byte("AAAAAA=="), 1)
		}, code: "SignatureDoesNotMatch"},
		{name: "trailer signature missing", mode: streamingSignedTrailer, edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			return append(b[:i:i], "\r\n"...)
		}, code: "IncompleteBody"},
		{name: "unsigned value changed", mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte(crc[0][1]), []byte("AAAAAA=="), 1)
		}, code: "BadDigest"},
		{name: "unsigned value not base64", mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte(crc[0][1]), []byte("!!"), 1)
		}, code: "InvalidRequest"},
		{name: "trailer missing", mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-checksum"))
			return b[:i]
		}, code: "IncompleteBody"},
		{name: "trailer not declared", mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:"), []byte("x-amz-checksum-sha1:"), 1)
		}, code: "MalformedTrailerError"},
		{name: "trailer line without colon", mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:"), []byte("x-amz-checksum-crc32="), 1)
		}, code: "MalformedTrailerError"},
		{name: "signature in unsigned trailer", mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			return append(b[:len(b)-2:len(b)-2], "x-amz-trailer-signature:00\r\n\r\n"...)
		}, code: "MalformedTrailerError"},
		{name: "final CRLF missing", mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			return b[:len(b)-2]
		}},
		{name: "endless blank lines", mode: streamingSignedTrailer, edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			return append(b[:i:i], bytes.Repeat([]byte("\r\n"), 20000)...)
		}, code: "MalformedTrailerError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := chunkOpts{chunkSize: 8192, trailers: crc}
			sr := streamingRequest(t, payload, tt.mode, o, tt.header)
			if tt.edit != nil {
				body, err := io.ReadAll(sr.Body)
				if err != nil {
					t.Fatal(err)
				}
				sr.Body = io.NopCloser(bytes.NewReader(tt.edit(body)))
			}
			if _, err := newVerifier().Verify(sr); err != nil {
				t.Fatal(err)
			}
			_, err := io.ReadAll(sr.Body)
			if s3Code(err) != tt.code {
				t.Fatalf("got %v, want %q", err, tt.code)
			}
		})
	}
}

// An empty streamed object is decoded by Verify itself: a caller seeing
// ContentLength 0 may not read the body, and its final chunk and
// trailer must still be checked.
func TestStreamingEmptyObject(t *testing.T) {
	empty := []byte{}
	sr := streamingRequest(t, empty, streamingSigned, chunkOpts{}, nil)
	body, _ := io.ReadAll(sr.Body)
	body[bytes.Index(body, []byte("chunk-signature="))+len("chunk-signature=")] ^= 1
	sr = streamingRequest(t, empty, streamingSigned, chunkOpts{}, nil)
	sr.Body = io.NopCloser(bytes.NewReader(body))
	if _, err := newVerifier().Verify(sr); s3Code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("bad final chunk: %v", err)
	}

	wrong := [][2]string{{"x-amz-checksum-crc32", crc32Of([]byte("x"))}}
	sr = streamingRequest(t, empty, streamingUnsignedTrailer, chunkOpts{trailers: wrong}, nil)
	if _, err := newVerifier().Verify(sr); s3Code(err) != "BadDigest" {
		t.Fatalf("bad checksum: %v", err)
	}

	right := [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}
	for _, minio := range []bool{false, true} {
		sr = streamingRequest(t, empty, streamingSignedTrailer, chunkOpts{trailers: right, minio: minio}, nil)
		if _, err := newVerifier().Verify(sr); err != nil {
			t.Fatal(err)
		}
		if sr.ContentLength != 0 || sr.Trailer.Get("X-Amz-Checksum-Crc32") != "AAAAAA==" {
			t.Fatalf("ContentLength %d, trailer %v", sr.ContentLength, sr.Trailer)
		}
		if n, err := sr.Body.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("read %d, %v", n, err)
		}
	}
}
