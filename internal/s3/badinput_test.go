package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const unsignedPayload = "UNSIGNED-PAYLOAD"

var (
	testCreds = aws.Credentials{AccessKeyID: testAccess, SecretAccessKey: testSecret}
	// S3 signs the path as sent (escaped once), not escaped again.
	rawSigner = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newSigned is a request to the gateway signed with the test
// credentials: payload is x-amz-content-sha256 ("" for the SHA-256 of
// body). rawURL is the path and query, sent as written.
func newSigned(t testing.TB, gw *gateway, method, rawURL string, body []byte, payload string, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, gw.Endpoint+rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("request %s: %v", rawURL, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sign(t, req, payload, body, time.Now())
	return req
}

func sign(t testing.TB, req *http.Request, payload string, body []byte, at time.Time) {
	t.Helper()
	if payload == "" {
		payload = sha256hex(body)
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if err := rawSigner.SignHTTP(req.Context(), testCreds, req, payload, "s3", testRegion, at); err != nil {
		t.Fatalf("sign: %v", err)
	}
}

// readS3Error reads an error response: its status and the S3 error code
// of its XML body ("" when it has none).
func readS3Error(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e struct {
		Code    string
		Message string
	}
	xml.Unmarshal(body, &e)
	return resp.StatusCode, e.Code
}

// do sends req and returns the status and the S3 error code.
func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return readS3Error(resp)
}

func wantStatusCode(t testing.TB, what string, status int, code string, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || code != wantCode {
		t.Errorf("%s: %d %q; want %d %q", what, status, code, wantStatus, wantCode)
	}
}

// rawExchange sends a signed request over a bare connection: its head
// with Content-Length declared, then body, then (when closeWrite) the end
// of the stream; it returns the response's status and S3 error code.
func rawExchange(t testing.TB, gw *gateway, req *http.Request, declared int64, body []byte, closeWrite bool) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", gw.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	w := bufio.NewWriter(conn)
	writeHead(w, req, declared)
	w.Write(body)
	if err := w.Flush(); err != nil {
		t.Fatalf("write: %v", err)
	}
	if closeWrite {
		conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return readS3Error(resp)
}

func mergeHeaders(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func writeHead(w io.Writer, req *http.Request, declared int64) {
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), req.URL.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", declared)
}

// TestBadInput sends the gateway malformed, lying and hostile requests
// over raw HTTP: each is refused with S3's error code and status, and
// the gateway keeps serving.
func TestBadInput(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	c := sdkClient(gw.Endpoint)
	const bucket = "bad-input"
	mustCreateBucket(t, c, bucket)
	mustPut(t, c, bucket, "exists", []byte("present"))
	ctx := t.Context()

	// absent fails unless bucket/key does not exist.
	absent := func(t *testing.T, key string) {
		t.Helper()
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if errStatus(err) != http.StatusNotFound {
			t.Errorf("%s exists after a refused request (%v)", key, err)
		}
	}
	// alive fails unless the gateway still serves.
	alive := func(t *testing.T) {
		t.Helper()
		if got := mustGet(t, c, bucket, "exists"); string(got) != "present" {
			t.Errorf("gateway serves %q", got)
		}
	}

	t.Run("MalformedXML", func(t *testing.T) {
		cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(cu.UploadId)
		var many strings.Builder
		many.WriteString("<Delete>")
		for i := range 1001 {
			fmt.Fprintf(&many, "<Object><Key>k%d</Key></Object>", i)
		}
		many.WriteString("</Delete>")
		for _, tc := range []struct {
			name, url, body string
		}{
			{"complete: truncated", "/" + bucket + "/mp?uploadId=" + id, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"},
			{"complete: not XML", "/" + bucket + "/mp?uploadId=" + id, "this is not XML {}"},
			{"complete: empty", "/" + bucket + "/mp?uploadId=" + id, ""},
			{"complete: wrong root", "/" + bucket + "/mp?uploadId=" + id, "<Delete><Object><Key>a</Key></Object></Delete>"},
			{"complete: no parts", "/" + bucket + "/mp?uploadId=" + id, "<CompleteMultipartUpload></CompleteMultipartUpload>"},
			{"complete: bad part number", "/" + bucket + "/mp?uploadId=" + id, "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"},
			{"complete: mismatched tags", "/" + bucket + "/mp?uploadId=" + id, "<CompleteMultipartUpload><Part></CompleteMultipartUpload></Part>"},
			{"delete: truncated", "/" + bucket + "?delete", "<Delete><Object><Key>exists</Key>"},
			{"delete: not XML", "/" + bucket + "?delete", "\x00\x01\x02garbage"},
			{"delete: empty", "/" + bucket + "?delete", ""},
			{"delete: no objects", "/" + bucket + "?delete", "<Delete><Quiet>true</Quiet></Delete>"},
			{"delete: wrong root", "/" + bucket + "?delete", "<CompleteMultipartUpload/>"},
			{"delete: 1001 keys", "/" + bucket + "?delete", many.String()},
		} {
			sum := md5.Sum([]byte(tc.body))
			req := newSigned(t, gw, http.MethodPost, tc.url, []byte(tc.body), "", map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])})
			st, code := do(t, req)
			wantStatusCode(t, tc.name, st, code, http.StatusBadRequest, "MalformedXML")
		}
		// Neither the upload nor the object suffered.
		if _, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: cu.UploadId}); err != nil {
			t.Errorf("upload after malformed completes: %v", err)
		}
		alive(t)
		// An XML document larger than the gateway parses.
		huge := "<Delete>" + strings.Repeat("<!-- padding -->", 200_000) + "</Delete>"
		st, code := do(t, newSigned(t, gw, http.MethodPost, "/"+bucket+"?delete", []byte(huge), "", nil))
		wantStatusCode(t, "delete: 3 MiB document", st, code, http.StatusBadRequest, "MalformedXML")
	})

	t.Run("InvalidBucketName", func(t *testing.T) {
		for _, name := range []string{"ab", "UPPER", "under_score", "-lead", "trail-", "a..b", "a.-b", "192.168.1.1", ".s3", strings.Repeat("a", 64), "a%20b", "%2e%2e"} {
			st, code := do(t, newSigned(t, gw, http.MethodPut, "/"+name, nil, "", nil))
			wantStatusCode(t, "create bucket "+name, st, code, http.StatusBadRequest, "InvalidBucketName")
			st, code = do(t, newSigned(t, gw, http.MethodGet, "/"+name+"/key", nil, "", nil))
			wantStatusCode(t, "get from bucket "+name, st, code, http.StatusBadRequest, "InvalidBucketName")
			st, code = do(t, newSigned(t, gw, http.MethodPut, "/"+name+"/key", []byte("x"), "", nil))
			wantStatusCode(t, "put into bucket "+name, st, code, http.StatusBadRequest, "InvalidBucketName")
		}
		// The gateway's own records are out of reach.
		st, code := do(t, newSigned(t, gw, http.MethodGet, "/.s3/b/"+bucket, nil, "", nil))
		wantStatusCode(t, "get an internal record", st, code, http.StatusBadRequest, "InvalidBucketName")
		st, code = do(t, newSigned(t, gw, http.MethodGet, "/.s3?list-type=2", nil, "", nil))
		wantStatusCode(t, "list internal records", st, code, http.StatusBadRequest, "InvalidBucketName")
		st, code = do(t, newSigned(t, gw, http.MethodPut, "/x/..%2F.s3/b/evil", []byte("x"), "", nil))
		if st < 400 || st >= 500 || code == "" {
			t.Errorf("put through an escaped path: %d %q; want a 4xx S3 error", st, code)
		}
	})

	t.Run("BadKeys", func(t *testing.T) {
		for _, tc := range []struct {
			name, path string
		}{
			{"dot-dot segment", "a/../b"},
			{"dot-dot at start", "../b"},
			{"dot-dot alone", ".."},
			{"dot-dot at end", "a/.."},
			{"dot segment", "a/./b"},
			{"escaped dot-dot", "a/%2E%2E/b"},
			{"NUL", "a%00b"},
			{"NUL at end", "abc%00"},
			{"newline", "a%0Ab"},
			{"DEL", "a%7Fb"},
			{"invalid UTF-8", "a%FF%FEb"},
		} {
			for _, method := range []string{http.MethodPut, http.MethodGet, http.MethodDelete} {
				var body []byte
				if method == http.MethodPut {
					body = []byte("payload")
				}
				st, code := do(t, newSigned(t, gw, method, "/"+bucket+"/"+tc.path, body, "", nil))
				wantStatusCode(t, method+" key "+tc.name, st, code, http.StatusBadRequest, "InvalidArgument")
			}
		}
		// The store has nothing but what the SDK put.
		for info, err := range gw.Client.List(ctx, bucket+"/", "") {
			if err != nil {
				t.Fatal(err)
			}
			if info.Key != bucket+"/exists" {
				t.Errorf("the store holds %q", info.Key)
			}
		}
		// A multipart upload to a bad key, and a copy from one.
		st, code := do(t, newSigned(t, gw, http.MethodPost, "/"+bucket+"/a/../b?uploads", nil, "", nil))
		wantStatusCode(t, "create upload to a dot-dot key", st, code, http.StatusBadRequest, "InvalidArgument")
		st, code = do(t, newSigned(t, gw, http.MethodPut, "/"+bucket+"/copy", nil, "", map[string]string{"X-Amz-Copy-Source": bucket + "/a/../exists"}))
		wantStatusCode(t, "copy from a dot-dot key", st, code, http.StatusBadRequest, "InvalidArgument")
		st, code = do(t, newSigned(t, gw, http.MethodPut, "/"+bucket+"/copy", nil, "", map[string]string{"X-Amz-Copy-Source": bucket + "/a%00b"}))
		wantStatusCode(t, "copy from a NUL key", st, code, http.StatusBadRequest, "InvalidArgument")
		st, code = do(t, newSigned(t, gw, http.MethodPut, "/"+bucket+"/copy", nil, "", map[string]string{"X-Amz-Copy-Source": "/.s3/b/" + bucket}))
		wantStatusCode(t, "copy from an internal record", st, code, http.StatusBadRequest, "InvalidBucketName")
		absent(t, "copy")

		long := strings.Repeat("k", 1025)
		for _, method := range []string{http.MethodPut, http.MethodGet, http.MethodHead} {
			var body []byte
			if method == http.MethodPut {
				body = []byte("x")
			}
			st, code := do(t, newSigned(t, gw, method, "/"+bucket+"/"+long, body, "", nil))
			if method == http.MethodHead {
				code = "KeyTooLongError" // HEAD has no body
			}
			wantStatusCode(t, method+" key of 1025 bytes", st, code, http.StatusBadRequest, "KeyTooLongError")
		}
		// Multi-byte characters count as bytes.
		st, code = do(t, newSigned(t, gw, http.MethodPut, "/"+bucket+"/"+strings.Repeat("%C3%A9", 513), []byte("x"), "", nil))
		wantStatusCode(t, "key of 513 two-byte characters", st, code, http.StatusBadRequest, "KeyTooLongError")
		// 1024 bytes is fine.
		max := strings.Repeat("k", 1024)
		mustPut(t, c, bucket, max, []byte("longest"))
		if got := mustGet(t, c, bucket, max); string(got) != "longest" {
			t.Errorf("key of 1024 bytes: %q", got)
		}
		alive(t)
	})

	t.Run("OversizedHeader", func(t *testing.T) {
		// Go's server allows some slack over MaxHeaderBytes (64 KiB):
		// a 70 KiB header gets through to the handler (here refused as
		// unsigned); 80 KiB does not.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.Endpoint+"/"+bucket+"/exists", nil)
		req.Header.Set("X-Pad", strings.Repeat("a", 70<<10))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			st, code := readS3Error(resp)
			if st != http.StatusRequestHeaderFieldsTooLarge && (st != http.StatusForbidden || code != "AccessDenied") {
				t.Errorf("header of 70 KiB: %d %q; want 431 or 403 AccessDenied", st, code)
			}
		}
		for _, size := range []int{80 << 10, 1 << 20} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.Endpoint+"/"+bucket+"/exists", nil)
			req.Header.Set("X-Amz-Meta-Big", strings.Repeat("a", size))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// The server may close before the client is done writing.
				t.Logf("header of %d bytes: %v", size, err)
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("header of %d bytes: %s; want 431", size, resp.Status)
				}
			}
		}
		// Many headers adding up.
		req = newSigned(t, gw, http.MethodGet, "/"+bucket+"/exists", nil, "", nil)
		for i := range 2000 {
			req.Header.Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("p", 40))
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("2000 headers: %s; want 431", resp.Status)
			}
		}
		// Metadata over S3's 2 KiB limit, within the header limit.
		req = newSigned(t, gw, http.MethodPut, "/"+bucket+"/meta", []byte("x"), "", map[string]string{"X-Amz-Meta-Big": strings.Repeat("m", 3000)})
		st, code := do(t, req)
		wantStatusCode(t, "3 KB of metadata", st, code, http.StatusBadRequest, "MetadataTooLarge")
		absent(t, "meta")
		// Stored headers (Content-Disposition, Cache-Control, ...) are
		// metadata too, and so are many small x-amz-meta-* headers: the
		// store's metadata limit must show as an S3 error, not a 500.
		// 1,036 names of one or two characters: 2,036 bytes by S3's count
		// of user metadata (names without x-amz-meta-, values), within
		// its 2 KiB, but 13 KB as stored.
		const alnum = "0123456789abcdefghijklmnopqrstuvwxyz"
		many := map[string]string{"Cache-Control": strings.Repeat("c", 4000)}
		for i := range 1036 {
			name := alnum[i%36 : i%36+1]
			if i >= 36 {
				name = alnum[(i-36)/36%36:(i-36)/36%36+1] + alnum[i%36:i%36+1]
			}
			many["X-Amz-Meta-"+name] = ""
		}
		for name, hdr := range map[string]map[string]string{
			"20 KB Content-Disposition":    {"Content-Disposition": "attachment; filename=" + strings.Repeat("d", 20000)},
			"10 KB of each stored header":  {"Content-Type": strings.Repeat("t", 10000), "Content-Language": strings.Repeat("l", 10000), "Expires": strings.Repeat("e", 10000)},
			"1,036 small metadata headers": many,
		} {
			st, code := do(t, newSigned(t, gw, http.MethodPut, "/"+bucket+"/meta", []byte("x"), "", hdr))
			wantStatusCode(t, "put with "+name, st, code, http.StatusBadRequest, "MetadataTooLarge")
			st, code = do(t, newSigned(t, gw, http.MethodPost, "/"+bucket+"/meta?uploads", nil, "", hdr))
			wantStatusCode(t, "create upload with "+name, st, code, http.StatusBadRequest, "MetadataTooLarge")
			st, code = do(t, newSigned(t, gw, http.MethodPut, "/"+bucket+"/meta", nil, "", mergeHeaders(hdr, map[string]string{"X-Amz-Copy-Source": bucket + "/exists", "X-Amz-Metadata-Directive": "REPLACE"})))
			wantStatusCode(t, "copy with "+name, st, code, http.StatusBadRequest, "MetadataTooLarge")
		}
		absent(t, "meta")
		// Within the limits: stored and given back.
		cd := "attachment; filename=" + strings.Repeat("d", 1500)
		st, code = do(t, newSigned(t, gw, http.MethodPut, "/"+bucket+"/meta", []byte("x"), "", map[string]string{"Content-Disposition": cd, "X-Amz-Meta-A": strings.Repeat("a", 2000)}))
		wantStatusCode(t, "put with 3.5 KB of metadata headers", st, code, http.StatusOK, "")
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("meta")})
		if err != nil || aws.ToString(h.ContentDisposition) != cd || len(h.Metadata["a"]) != 2000 {
			t.Errorf("head: %v", err)
		}
		alive(t)
	})

	t.Run("ExpiredPresignedURL", func(t *testing.T) {
		presign := func(at time.Time, expires int) string {
			u := gw.Endpoint + "/" + bucket + "/exists?X-Amz-Expires=" + fmt.Sprint(expires)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			signed, _, err := rawSigner.PresignHTTP(ctx, testCreds, req, unsignedPayload, "s3", testRegion, at)
			if err != nil {
				t.Fatal(err)
			}
			return signed
		}
		get := func(u string) (int, string) {
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			return readS3Error(resp)
		}
		st, code := get(presign(time.Now().Add(-2*time.Hour), 3600))
		wantStatusCode(t, "presigned URL expired an hour ago", st, code, http.StatusForbidden, "AccessDenied")
		st, code = get(presign(time.Now().Add(-10*time.Second), 5))
		wantStatusCode(t, "presigned URL expired 5 s ago", st, code, http.StatusForbidden, "AccessDenied")
		if st, _ := get(presign(time.Now().Add(-10*time.Second), 60)); st != http.StatusOK {
			t.Errorf("presigned URL valid for 50 s more: %d", st)
		}
		st, code = get(presign(time.Now(), 8*24*3600))
		if st != http.StatusBadRequest || code == "" {
			t.Errorf("presigned URL valid for 8 days: %d %q; want a 400 S3 error", st, code)
		}
		// A signature made for a request far in the future.
		req := newSigned(t, gw, http.MethodGet, "/"+bucket+"/exists", nil, "", nil)
		sign(t, req, "", nil, time.Now().Add(time.Hour))
		st, code = do(t, req)
		wantStatusCode(t, "request signed an hour ahead", st, code, http.StatusForbidden, "RequestTimeTooSkewed")
	})

	t.Run("ClientDisconnect", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			payload string
			hdr     map[string]string
		}{
			{"unsigned payload", unsignedPayload, nil},
			{"signed payload", sha256hex([]byte("whatever")), nil},
		} {
			key := "disconnect-" + strings.ReplaceAll(tc.name, " ", "-")
			// An earlier version must survive the failed overwrite.
			mustPut(t, c, bucket, key+"-old", []byte("old"))
			for _, k := range []string{key, key + "-old"} {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/"+k, nil)
				req.ContentLength = 10 * mib
				sign(t, req, tc.payload, nil, time.Now())
				conn, err := net.Dial("tcp", gw.Addr)
				if err != nil {
					t.Fatal(err)
				}
				w := bufio.NewWriter(conn)
				writeHead(w, req, 10*mib)
				w.Write(randBytes(70, mib))
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond) // let the put start
				conn.Close()
			}
			// The server notices at once; give it time to clean up.
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				absent(t, key)
				time.Sleep(200 * time.Millisecond)
			}
			if got := mustGet(t, c, bucket, key+"-old"); string(got) != "old" {
				t.Errorf("%s: the interrupted overwrite changed the object: %d bytes", tc.name, len(got))
			}
		}
		alive(t)
		mustPut(t, c, bucket, "disconnect-unsigned-payload", []byte("new"))
		if got := mustGet(t, c, bucket, "disconnect-unsigned-payload"); string(got) != "new" {
			t.Errorf("put after a disconnect: %q", got)
		}
	})

	t.Run("MissingContentLength", func(t *testing.T) {
		for _, payload := range []string{unsignedPayload, ""} {
			body := []byte("chunked by HTTP, not by aws-chunked")
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/no-length", io.NopCloser(bytes.NewReader(body)))
			req.ContentLength = -1 // Transfer-Encoding: chunked
			sign(t, req, payload, body, time.Now())
			st, code := do(t, req)
			wantStatusCode(t, "put without Content-Length (payload "+payload+")", st, code, http.StatusLengthRequired, "MissingContentLength")
		}
		// An upload part too.
		cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("no-length")})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/no-length?partNumber=1&uploadId="+aws.ToString(cu.UploadId), io.NopCloser(strings.NewReader("part")))
		req.ContentLength = -1
		sign(t, req, unsignedPayload, nil, time.Now())
		st, code := do(t, req)
		wantStatusCode(t, "upload part without Content-Length", st, code, http.StatusLengthRequired, "MissingContentLength")
		absent(t, "no-length")
	})

	t.Run("BodyLengthMismatch", func(t *testing.T) {
		body := randBytes(71, 2000)
		sum := md5.Sum(body)
		// Longer than declared: the server reads what was declared, and
		// the hash or MD5 of the whole body does not match it.
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/long-body", nil)
		req.ContentLength = 1000
		sign(t, req, sha256hex(body), nil, time.Now())
		st, code := rawExchange(t, gw, req, 1000, body, false)
		wantStatusCode(t, "body longer than Content-Length, signed", st, code, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/long-body", nil)
		req.ContentLength = 1000
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
		sign(t, req, unsignedPayload, nil, time.Now())
		st, code = rawExchange(t, gw, req, 1000, body, false)
		wantStatusCode(t, "body longer than Content-Length, Content-MD5", st, code, http.StatusBadRequest, "BadDigest")
		absent(t, "long-body")

		// Shorter than declared, then end of stream.
		for _, payload := range []string{unsignedPayload, sha256hex(body)} {
			req, _ = http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/short-body", nil)
			req.ContentLength = 4000
			sign(t, req, payload, nil, time.Now())
			st, code = rawExchange(t, gw, req, 4000, body, true)
			wantStatusCode(t, "body shorter than Content-Length", st, code, http.StatusBadRequest, "IncompleteBody")
		}
		absent(t, "short-body")
		alive(t)
	})

	t.Run("ContentSHA256Mismatch", func(t *testing.T) {
		signedBody, sentBody := bytes.Repeat([]byte("A"), 5000), bytes.Repeat([]byte("B"), 5000)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/sha-mismatch", bytes.NewReader(sentBody))
		sign(t, req, sha256hex(signedBody), nil, time.Now())
		st, code := do(t, req)
		wantStatusCode(t, "put whose body is not the one hashed", st, code, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		absent(t, "sha-mismatch")
		// An overwrite too: the old version stays.
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/exists", bytes.NewReader(sentBody))
		sign(t, req, sha256hex(signedBody), nil, time.Now())
		st, code = do(t, req)
		wantStatusCode(t, "overwrite whose body is not the one hashed", st, code, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		alive(t)
		// A part.
		cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("sha-mismatch")})
		if err != nil {
			t.Fatal(err)
		}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/sha-mismatch?partNumber=1&uploadId="+aws.ToString(cu.UploadId), bytes.NewReader(sentBody))
		sign(t, req, sha256hex(signedBody), nil, time.Now())
		st, code = do(t, req)
		wantStatusCode(t, "part whose body is not the one hashed", st, code, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("sha-mismatch"), UploadId: cu.UploadId})
		if err != nil || len(lp.Parts) != 0 {
			t.Errorf("parts after a refused part: %v %+v", err, lp)
		}
		// Not a hash at all.
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/sha-mismatch", bytes.NewReader(sentBody))
		sign(t, req, "not-a-hash", nil, time.Now())
		st, code = do(t, req)
		if st != http.StatusBadRequest || code == "" {
			t.Errorf("x-amz-content-sha256 not a hash: %d %q; want a 400 S3 error", st, code)
		}
		absent(t, "sha-mismatch")
	})

	t.Run("BadChunkSignature", func(t *testing.T) {
		// aws-chunked with chunk signatures that do not chain from the
		// request's.
		data := randBytes(72, 3000)
		var enc bytes.Buffer
		zero := strings.Repeat("0", 64)
		fmt.Fprintf(&enc, "%x;chunk-signature=%s\r\n", len(data), zero)
		enc.Write(data)
		fmt.Fprintf(&enc, "\r\n0;chunk-signature=%s\r\n\r\n", zero)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/bad-chunks", bytes.NewReader(enc.Bytes()))
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
		sign(t, req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", nil, time.Now())
		st, code := do(t, req)
		wantStatusCode(t, "aws-chunked with bad chunk signatures", st, code, http.StatusForbidden, "SignatureDoesNotMatch")
		absent(t, "bad-chunks")
		// Unsigned chunks with a wrong trailing checksum.
		enc.Reset()
		fmt.Fprintf(&enc, "%x\r\n", len(data))
		enc.Write(data)
		fmt.Fprintf(&enc, "\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/bad-chunks", bytes.NewReader(enc.Bytes()))
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		sign(t, req, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", nil, time.Now())
		st, code = do(t, req)
		wantStatusCode(t, "aws-chunked with a wrong trailing CRC32", st, code, http.StatusBadRequest, "BadDigest")
		absent(t, "bad-chunks")
		// Decoded length lying.
		enc.Reset()
		fmt.Fprintf(&enc, "%x\r\n", len(data))
		enc.Write(data)
		fmt.Fprintf(&enc, "\r\n0\r\n\r\n")
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, gw.Endpoint+"/"+bucket+"/bad-chunks", bytes.NewReader(enc.Bytes()))
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)+10))
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		sign(t, req, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", nil, time.Now())
		st, code = do(t, req)
		if st != http.StatusBadRequest || code == "" {
			t.Errorf("aws-chunked shorter than its decoded length: %d %q; want a 400 S3 error", st, code)
		}
		absent(t, "bad-chunks")
		alive(t)
	})

	t.Run("Misc", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, url string
			status            int
			code              string
		}{
			{"PATCH an object", http.MethodPatch, "/" + bucket + "/exists", http.StatusMethodNotAllowed, "MethodNotAllowed"},
			{"POST to the service", http.MethodPost, "/", http.StatusMethodNotAllowed, "MethodNotAllowed"},
			{"bucket tagging", http.MethodPut, "/" + bucket + "?tagging", http.StatusNotImplemented, "NotImplemented"},
			{"list versions", http.MethodGet, "/" + bucket + "?versions", http.StatusNotImplemented, "NotImplemented"},
			{"negative max-keys", http.MethodGet, "/" + bucket + "?list-type=2&max-keys=-1", http.StatusBadRequest, "InvalidArgument"},
			{"max-keys not a number", http.MethodGet, "/" + bucket + "?max-keys=lots", http.StatusBadRequest, "InvalidArgument"},
			{"bad encoding-type", http.MethodGet, "/" + bucket + "?encoding-type=base64", http.StatusBadRequest, "InvalidArgument"},
			{"part number not a number", http.MethodPut, "/" + bucket + "/k?partNumber=one&uploadId=00000000000000000000000000000000", http.StatusBadRequest, "InvalidArgument"},
			{"list parts of a made-up upload", http.MethodGet, "/" + bucket + "/k?uploadId=zzz", http.StatusNotFound, "NoSuchUpload"},
			{"abort a made-up upload", http.MethodDelete, "/" + bucket + "/k?uploadId=00000000000000000000000000000000", http.StatusNotFound, "NoSuchUpload"},
			{"copy source without key", http.MethodPut, "/" + bucket + "/copy-target", http.StatusBadRequest, "InvalidArgument"},
		} {
			hdr := map[string]string{}
			if tc.name == "copy source without key" {
				hdr["X-Amz-Copy-Source"] = bucket
			}
			st, code := do(t, newSigned(t, gw, tc.method, tc.url, nil, "", hdr))
			wantStatusCode(t, tc.name, st, code, tc.status, tc.code)
		}
		// Signature V2 and malformed Authorization headers.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.Endpoint+"/"+bucket+"/exists", nil)
		req.Header.Set("Authorization", "AWS "+testAccess+":c2lnbmF0dXJl")
		if st, code := do(t, req); st < 400 || st >= 500 || code == "" {
			t.Errorf("Signature V2: %d %q; want a 4xx S3 error", st, code)
		}
		for _, authz := range []string{"AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=x", "garbage", "AWS4-HMAC-SHA256 Credential=" + testAccess + "/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=zz"} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.Endpoint+"/"+bucket+"/exists", nil)
			req.Header.Set("Authorization", authz)
			req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
			if st, code := do(t, req); st < 400 || st >= 500 || code == "" {
				t.Errorf("Authorization %q: %d %q; want a 4xx S3 error", authz, st, code)
			}
		}
		alive(t)
	})

	// Whatever came before, the gateway answers cleanly.
	ctx2, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ListBuckets(ctx2, &s3.ListBucketsInput{}); err != nil {
		t.Errorf("list buckets at the end: %v", err)
	}
}

// TestAnonymousRead: with anonymous reads allowed, unsigned GET and HEAD
// work and every write is still refused.
func TestAnonymousRead(t *testing.T) {
	gw := startGateway(t, gatewayOptions{Anonymous: true})
	c := sdkClient(gw.Endpoint)
	const bucket = "public"
	mustCreateBucket(t, c, bucket)
	mustPut(t, c, bucket, "doc", []byte("public content"))
	ctx := t.Context()
	anon := func(method, path string, body []byte) (int, string, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, gw.Endpoint+path, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Code string }
		xml.Unmarshal(b, &e)
		return resp.StatusCode, e.Code, b
	}
	if st, _, body := anon(http.MethodGet, "/"+bucket+"/doc", nil); st != http.StatusOK || string(body) != "public content" {
		t.Errorf("anonymous GET: %d %q", st, body)
	}
	if st, _, _ := anon(http.MethodHead, "/"+bucket+"/doc", nil); st != http.StatusOK {
		t.Errorf("anonymous HEAD: %d", st)
	}
	if st, _, body := anon(http.MethodGet, "/"+bucket+"?list-type=2", nil); st != http.StatusOK || !bytes.Contains(body, []byte("<Key>doc</Key>")) {
		t.Errorf("anonymous list: %d %.200s", st, body)
	}
	if st, code, _ := anon(http.MethodGet, "/"+bucket+"/missing", nil); st != http.StatusNotFound || code != "NoSuchKey" {
		t.Errorf("anonymous GET of a missing key: %d %q", st, code)
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, "/" + bucket + "/doc"},
		{http.MethodPut, "/" + bucket + "/new"},
		{http.MethodDelete, "/" + bucket + "/doc"},
		{http.MethodPost, "/" + bucket + "/doc?uploads"},
		{http.MethodPost, "/" + bucket + "?delete"},
		{http.MethodPut, "/public-2"},
		{http.MethodDelete, "/" + bucket},
	} {
		st, code, _ := anon(tc.method, tc.path, []byte("<Delete><Object><Key>doc</Key></Object></Delete>"))
		wantStatusCode(t, "anonymous "+tc.method+" "+tc.path, st, code, http.StatusForbidden, "AccessDenied")
	}
	if got := mustGet(t, c, bucket, "doc"); string(got) != "public content" {
		t.Errorf("after refused anonymous writes: %q", got)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("public-2")}); errStatus(err) != http.StatusNotFound {
		t.Errorf("anonymous create bucket: %v", err)
	}
	// A bad signature is not taken for anonymous.
	bad := sdkClient(gw.Endpoint, func(o *s3.Options) { o.Credentials = credentials.NewStaticCredentialsProvider(testAccess, "wrong", "") }, noRetry)
	_, err := bad.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("doc")})
	wantAPIError(t, "GET with a wrong secret", err, "SignatureDoesNotMatch", http.StatusForbidden)
}

// TestNoGoroutineLeak sends requests that fail in the gateway's body
// handling, many times: the gateway runs in this process, so whatever it
// leaks per request shows in runtime.NumGoroutine.
func TestNoGoroutineLeak(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	c := sdkClient(gw.Endpoint)
	const bucket = "leaks"
	mustCreateBucket(t, c, bucket)
	mustPut(t, c, bucket, "src", []byte("source"))
	cu, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	part := "/" + bucket + "/mp?partNumber=1&uploadId=" + aws.ToString(cu.UploadId)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	body := []byte("some body bytes")
	other := md5.Sum([]byte("other"))
	round := func() {
		for _, tc := range []struct {
			name, method, url string
			hdr               map[string]string
			payload           string
		}{
			{"invalid Content-MD5", http.MethodPut, "/" + bucket + "/k", map[string]string{"Content-MD5": "!!"}, ""},
			{"invalid Content-MD5 on a part", http.MethodPut, part, map[string]string{"Content-MD5": "AAAA"}, ""},
			{"wrong Content-MD5", http.MethodPut, "/" + bucket + "/k", map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(other[:])}, ""},
			{"wrong sha256", http.MethodPut, "/" + bucket + "/k", nil, sha256hex([]byte("other"))},
			{"wrong checksum", http.MethodPut, part, map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, ""},
			{"put to a missing bucket", http.MethodPut, "/leaks-none/k", nil, ""},
			{"good put", http.MethodPut, "/" + bucket + "/k", nil, ""},
			{"good copy", http.MethodPut, "/" + bucket + "/copy", map[string]string{"X-Amz-Copy-Source": bucket + "/src"}, ""},
		} {
			b := body
			if tc.hdr["X-Amz-Copy-Source"] != "" {
				b = nil
			}
			req := newSigned(t, gw, tc.method, tc.url, b, tc.payload, tc.hdr)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		// A client gone mid-upload, of an object and of a part.
		for _, u := range []string{"/" + bucket + "/gone", part} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, gw.Endpoint+u, nil)
			req.ContentLength = mib
			sign(t, req, unsignedPayload, nil, time.Now())
			conn, err := net.Dial("tcp", gw.Addr)
			if err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriter(conn)
			writeHead(w, req, mib)
			w.Write(make([]byte, 100<<10))
			w.Flush()
			time.Sleep(20 * time.Millisecond)
			conn.Close()
		}
	}
	round()
	client.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	base := runtime.NumGoroutine()
	const rounds = 25
	for range rounds {
		round()
	}
	client.CloseIdleConnections()
	var n int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n = runtime.NumGoroutine(); n < base+rounds/2 {
			return
		}
	}
	t.Errorf("%d goroutines after %d rounds of failing requests, %d before: the gateway leaks", n, rounds, base)
}
