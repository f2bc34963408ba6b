package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// fakeS3 is just enough of S3 for real clients to put and get objects,
// verifying every request with the Verifier and recording the payload
// modes the clients chose.
type fakeS3 struct {
	t       testing.TB
	v       *Verifier
	mu      sync.Mutex
	objects map[string][]byte
	modes   map[string]bool
}

func newFakeS3(t testing.TB) *fakeS3 {
	v := newVerifier()
	v.Now = nil // real clients sign with the real time
	return &fakeS3{t: t, v: v, objects: map[string][]byte{}, modes: map[string]bool{}}
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := r.Header.Get("X-Amz-Content-Sha256")
	if len(mode) == 64 {
		mode = "<sha256>"
	}
	if r.Header.Get("X-Amz-Trailer") != "" {
		mode += " " + r.Header.Get("X-Amz-Trailer")
	}
	if _, err := f.v.Verify(r); err != nil {
		f.fail(w, err)
		return
	}
	f.mu.Lock()
	f.modes[r.Method+" "+mode] = true
	f.mu.Unlock()
	key := r.URL.Path
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			f.fail(w, err)
			return
		}
		if alg, want, ok := ChecksumHeader(r.Header); ok {
			if _, err := io.ReadAll(VerifyChecksumReader(io.NopCloser(bytes.NewReader(body)), alg, want)); err != nil {
				f.fail(w, err)
				return
			}
		}
		if r.ContentLength >= 0 && int64(len(body)) != r.ContentLength {
			f.t.Errorf("PUT %s: %d bytes, ContentLength %d", key, len(body), r.ContentLength)
		}
		f.mu.Lock()
		f.objects[key] = body
		f.mu.Unlock()
		sum := md5.Sum(body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	case http.MethodGet, http.MethodHead:
		f.mu.Lock()
		body, ok := f.objects[key]
		f.mu.Unlock()
		if !ok {
			f.fail(w, &Error{"NoSuchKey", "The specified key does not exist.", http.StatusNotFound})
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("ETag", `"x"`)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	default:
		f.fail(w, &Error{"NotImplemented", "not here", http.StatusNotImplemented})
	}
}

func (f *fakeS3) fail(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{"InternalError", err.Error(), http.StatusInternalServerError}
	}
	type body struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}
	out, _ := xml.Marshal(body{Code: e.Code, Message: e.Message})
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	w.Write(out)
}

var clientKeys = []string{"plain", "dir/a b+c=d&e", "unicodé 日本/x!'()*~.txt", "pct%2Fliteral"}

// TestRealClients runs the AWS SDK for Go v2 and minio-go against the
// verifier over HTTP and HTTPS: each picks its own payload mode (hashes,
// signed chunks, unsigned and signed trailers with checksums).
func TestRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	payloads := [][]byte{nil, []byte("small"), testPayload(300 << 10)}
	for _, tls := range []bool{false, true} {
		fake := newFakeS3(t)
		srv := httptest.NewUnstartedServer(fake)
		// net/http logs (and survives) a panic of its own while serving;
		// a body left in a state it does not expect causes one.
		srv.Config.ErrorLog = log.New(testLogWriter{t}, "", 0)
		if tls {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		ctx := context.Background()

		sdk := s3.New(s3.Options{
			BaseEndpoint: aws.String(srv.URL),
			UsePathStyle: true,
			Region:       testRegion,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return testCreds, nil
			}),
			HTTPClient:       srv.Client(),
			RetryMaxAttempts: 1,
		})
		u, _ := url.Parse(srv.URL)
		newMinio := func(trailing bool) *minio.Client {
			mc, err := minio.New(u.Host, &minio.Options{
				Creds:           credentials.NewStaticV4(testAccessKey, testSecret, ""),
				Secure:          tls,
				Region:          testRegion,
				Transport:       srv.Client().Transport,
				TrailingHeaders: trailing,
			})
			if err != nil {
				t.Fatal(err)
			}
			return mc
		}
		mc, mcTrailing := newMinio(false), newMinio(true)

		for _, key := range clientKeys {
			for _, p := range payloads {
				for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
					in := &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(p), ChecksumAlgorithm: alg}
					if _, err := sdk.PutObject(ctx, in); err != nil {
						t.Fatalf("tls=%v sdk put %q (%d bytes, %s): %v", tls, key, len(p), alg, err)
					}
					out, err := sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
					if err != nil {
						t.Fatalf("sdk get %q: %v", key, err)
					}
					got, _ := io.ReadAll(out.Body)
					out.Body.Close()
					if !bytes.Equal(got, p) {
						t.Fatalf("sdk %q: got %d bytes, want %d", key, len(got), len(p))
					}
				}
				for i, opts := range []minio.PutObjectOptions{{}, {DisableContentSha256: true}, {AutoChecksum: minio.ChecksumCRC32C}, {Checksum: minio.ChecksumSHA256}, {Checksum: minio.ChecksumCRC64NVME}} {
					c := mc
					if i >= 2 {
						c = mcTrailing
					}
					if _, err := c.PutObject(ctx, "bucket", key, bytes.NewReader(p), int64(len(p)), opts); err != nil {
						t.Fatalf("tls=%v minio put %q (%d bytes, options %d): %v", tls, key, len(p), i, err)
					}
					obj, err := mc.GetObject(ctx, "bucket", key, minio.GetObjectOptions{})
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(obj)
					if err != nil || !bytes.Equal(got, p) {
						t.Fatalf("minio %q: got %d bytes, want %d (%v)", key, len(got), len(p), err)
					}
				}
			}
		}

		// Presigned URLs of both clients.
		psdk := s3.NewPresignClient(sdk)
		req, err := psdk.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(clientKeys[1])})
		if err != nil {
			t.Fatal(err)
		}
		checkGet(t, srv.Client(), req.URL)
		mu, err := mc.PresignedGetObject(ctx, "bucket", clientKeys[2], 3600e9, url.Values{"response-content-type": {"text/plain"}})
		if err != nil {
			t.Fatal(err)
		}
		checkGet(t, srv.Client(), mu.String())

		srv.Close()
		t.Logf("tls=%v modes: %v", tls, fake.modes)
	}
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("panic")) {
		w.t.Errorf("server: %s", p)
	} else {
		w.t.Logf("server: %s", p)
	}
	return len(p), nil
}

func checkGet(t testing.TB, c *http.Client, u string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
}
