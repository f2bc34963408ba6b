package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

const mib = 1 << 20

// sdkClient is an aws-sdk-go-v2 S3 client of the gateway at endpoint,
// signing with the test credentials unless opts say otherwise.
func sdkClient(endpoint string, opts ...func(*s3.Options)) *s3.Client {
	o := s3.Options{
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccess, testSecret, ""),
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		// config.LoadDefaultConfig's defaults (s3.New alone leaves them
		// unset): CRC32 checksums on every upload, as recent SDKs send.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	for _, f := range opts {
		f(&o)
	}
	return s3.New(o)
}

// noRetry makes an SDK call fail at the first error.
func noRetry(o *s3.Options) { o.RetryMaxAttempts = 1 }

// errCode is the S3 error code of an SDK error ("" when none).
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// errStatus is the HTTP status of an SDK error (0 when none).
func errStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wantAPIError fails unless err is the S3 error code with HTTP status.
func wantAPIError(t testing.TB, what string, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded; want %s (%d)", what, code, status)
		return
	}
	if got, st := errCode(err), errStatus(err); got != code || st != status {
		t.Errorf("%s: error code %q status %d; want %q %d (%v)", what, got, st, code, status, err)
	}
}

// randBytes returns n pseudo-random bytes, different for every seed.
func randBytes(seed uint64, n int) []byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// multipartETag is S3's ETag of a multipart object made of parts.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

func mustCreateBucket(t testing.TB, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

func mustPut(t testing.TB, c *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// getBody GETs bucket/key (with rng as Range when not empty).
func getBody(ctx context.Context, c *s3.Client, bucket, key, rng string) ([]byte, *s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, out, err
}

func mustGet(t testing.TB, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	b, _, err := getBody(t.Context(), c, bucket, key, "")
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return b
}

// TestSDK runs the aws-sdk-go-v2 client against one gateway, a subtest
// per area, each in its own bucket.
func TestSDK(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	c := sdkClient(gw.Endpoint)
	t.Run("Buckets", func(t *testing.T) { testSDKBuckets(t, gw, c) })
	t.Run("PutGetHead", func(t *testing.T) { testSDKPutGetHead(t, c) })
	t.Run("Range", func(t *testing.T) { testSDKRange(t, c) })
	t.Run("Conditional", func(t *testing.T) { testSDKConditional(t, gw, c) })
	t.Run("Delete", func(t *testing.T) { testSDKDelete(t, c) })
	t.Run("Copy", func(t *testing.T) { testSDKCopy(t, c) })
	t.Run("ListV2", func(t *testing.T) { testSDKListV2(t, c) })
	t.Run("ListV1", func(t *testing.T) { testSDKListV1(t, c) })
	t.Run("Multipart", func(t *testing.T) { testSDKMultipart(t, gw, c) })
	t.Run("MultipartErrors", func(t *testing.T) { testSDKMultipartErrors(t, gw, c) })
	t.Run("TrailerChecksums", func(t *testing.T) { testSDKTrailerChecksums(t, gw) })
	t.Run("ManagerStream", func(t *testing.T) { testSDKManager(t, gw) })
	t.Run("Concurrent", func(t *testing.T) { testSDKConcurrent(t, gw, c) })
	t.Run("Presign", func(t *testing.T) { testSDKPresign(t, c) })
	t.Run("Auth", func(t *testing.T) { testSDKAuth(t, gw, c) })
}

func testSDKBuckets(t *testing.T, gw *gateway, c *s3.Client) {
	ctx := t.Context()
	for _, b := range []string{"sdk-buckets-a", "sdk-buckets-b"} {
		mustCreateBucket(t, c, b)
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk-buckets-a")})
	wantAPIError(t, "create bucket twice", err, "BucketAlreadyOwnedByYou", http.StatusConflict)
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk-buckets-c"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	wantAPIError(t, "create bucket in another region", err, "InvalidLocationConstraint", http.StatusBadRequest)

	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("sdk-buckets-a")}); err != nil {
		t.Errorf("head bucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("sdk-buckets-none")})
	if errStatus(err) != http.StatusNotFound {
		t.Errorf("head missing bucket: %v; want 404", err)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("sdk-buckets-a")})
	if err != nil {
		t.Errorf("get bucket location: %v", err)
	} else if loc.LocationConstraint != "" {
		t.Errorf("location %q; want \"\" (us-east-1)", loc.LocationConstraint)
	}
	_, err = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("sdk-buckets-none")})
	wantAPIError(t, "location of missing bucket", err, "NoSuchBucket", http.StatusNotFound)

	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("list buckets: %v", err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || time.Since(*b.CreationDate) > time.Hour {
			t.Errorf("bucket %s: creation date %v", aws.ToString(b.Name), b.CreationDate)
		}
	}
	for _, want := range []string{"sdk-buckets-a", "sdk-buckets-b"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListBuckets = %v; missing %s", names, want)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".") || strings.Contains(n, "/") {
			t.Errorf("ListBuckets shows an internal name %q", n)
		}
	}

	// Not empty: refused; empty: deleted.
	mustPut(t, c, "sdk-buckets-b", "k", []byte("x"))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("sdk-buckets-b")})
	wantAPIError(t, "delete non-empty bucket", err, "BucketNotEmpty", http.StatusConflict)
	if got := mustGet(t, c, "sdk-buckets-b", "k"); string(got) != "x" {
		t.Errorf("object after refused bucket delete: %q", got)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("sdk-buckets-b"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("sdk-buckets-b")}); err != nil {
		t.Errorf("delete empty bucket: %v", err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("sdk-buckets-b")})
	wantAPIError(t, "delete deleted bucket", err, "NoSuchBucket", http.StatusNotFound)

	// NoSuchBucket everywhere a bucket is needed.
	missing := aws.String("sdk-buckets-none")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: missing, Key: aws.String("k"), Body: strings.NewReader("x")})
	wantAPIError(t, "put into missing bucket", err, "NoSuchBucket", http.StatusNotFound)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: missing, Key: aws.String("k")})
	wantAPIError(t, "get from missing bucket", err, "NoSuchBucket", http.StatusNotFound)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: missing})
	wantAPIError(t, "list missing bucket", err, "NoSuchBucket", http.StatusNotFound)
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: missing, Key: aws.String("k")})
	wantAPIError(t, "multipart in missing bucket", err, "NoSuchBucket", http.StatusNotFound)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-buckets-a"), Key: aws.String("nope")})
	wantAPIError(t, "get missing key", err, "NoSuchKey", http.StatusNotFound)
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Errorf("get missing key: %T is not *types.NoSuchKey", err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk-buckets-a"), Key: aws.String("nope")})
	if errStatus(err) != http.StatusNotFound {
		t.Errorf("head missing key: %v; want 404", err)
	}
}

func testSDKPutGetHead(t *testing.T, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-put"
	mustCreateBucket(t, c, bucket)
	data := randBytes(1, 300<<10)
	sum := md5.Sum(data)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("dir/obj.bin"), Body: bytes.NewReader(data),
		ContentType:        aws.String("application/x-zstor-test"),
		ContentDisposition: aws.String(`attachment; filename="obj.bin"`),
		CacheControl:       aws.String("max-age=60"),
		Metadata:           map[string]string{"color": "blue", "Mixed-Case": "Value With Spaces"},
		ContentMD5:         aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		t.Fatalf("put with Content-MD5: %v", err)
	}
	wantETag := `"` + md5hex(data) + `"`
	if aws.ToString(put.ETag) != wantETag {
		t.Errorf("put ETag %s; want %s", aws.ToString(put.ETag), wantETag)
	}

	got, out, err := getBody(ctx, c, bucket, "dir/obj.bin", "")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("get: %d bytes differ from the %d put", len(got), len(data))
	}
	if aws.ToString(out.ETag) != wantETag || aws.ToString(out.ContentType) != "application/x-zstor-test" || aws.ToInt64(out.ContentLength) != int64(len(data)) {
		t.Errorf("get: ETag %s Content-Type %s Content-Length %d", aws.ToString(out.ETag), aws.ToString(out.ContentType), aws.ToInt64(out.ContentLength))
	}

	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.bin")})
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	if aws.ToString(h.ETag) != wantETag {
		t.Errorf("head ETag %s; want %s", aws.ToString(h.ETag), wantETag)
	}
	if aws.ToInt64(h.ContentLength) != int64(len(data)) {
		t.Errorf("head Content-Length %d; want %d", aws.ToInt64(h.ContentLength), len(data))
	}
	if aws.ToString(h.ContentType) != "application/x-zstor-test" || aws.ToString(h.CacheControl) != "max-age=60" ||
		aws.ToString(h.ContentDisposition) != `attachment; filename="obj.bin"` {
		t.Errorf("head: Content-Type %q Cache-Control %q Content-Disposition %q", aws.ToString(h.ContentType), aws.ToString(h.CacheControl), aws.ToString(h.ContentDisposition))
	}
	if h.Metadata["color"] != "blue" || h.Metadata["mixed-case"] != "Value With Spaces" || len(h.Metadata) != 2 {
		t.Errorf("head metadata %v; want color=blue mixed-case=Value With Spaces", h.Metadata)
	}
	if h.LastModified == nil || time.Since(*h.LastModified) > time.Minute || time.Until(*h.LastModified) > time.Minute {
		t.Errorf("head Last-Modified %v", h.LastModified)
	}

	// A wrong Content-MD5 (the MD5 of other bytes) is BadDigest and
	// leaves the previous version.
	other := md5.Sum([]byte("other"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("dir/obj.bin"), Body: bytes.NewReader(randBytes(2, 1000)),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(other[:])),
	}, noRetry)
	wantAPIError(t, "put with wrong Content-MD5", err, "BadDigest", http.StatusBadRequest)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("bad-md5-new"), Body: bytes.NewReader(randBytes(2, 1000)),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(other[:])),
	}, noRetry)
	wantAPIError(t, "put new key with wrong Content-MD5", err, "BadDigest", http.StatusBadRequest)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("bad-md5-new")}); errStatus(err) != http.StatusNotFound {
		t.Errorf("after a BadDigest put, head: %v; want 404", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("bad-md5-new"), Body: bytes.NewReader(randBytes(2, 1000)),
		ContentMD5: aws.String("not base64!"),
	}, noRetry)
	wantAPIError(t, "put with malformed Content-MD5", err, "InvalidDigest", http.StatusBadRequest)
	if got := mustGet(t, c, bucket, "dir/obj.bin"); !bytes.Equal(got, data) {
		t.Errorf("object changed by a refused put")
	}

	// Overwrite, empty object, odd keys.
	var keys []string
	for _, tc := range []struct {
		key  string
		data []byte
	}{
		{"dir/obj.bin", []byte("replaced")},
		{"empty", nil},
		{"with space/and+plus=&?#.txt", []byte("odd key")},
		{"ünïcödé/文件", []byte("utf-8")},
		{"dir/..hidden", []byte("dots inside a segment are fine")},
		{"folder/", nil}, // the consoles' folder marker
		{"double//slash", []byte("empty segment")},
		{"/leading-slash", []byte("leading slash")},
		{"trailing space ", []byte("space")},
		{"percent%20literal%", []byte("percent")},
		{"back\\slash", []byte("backslash")},
		{`xml&<special>'"`, []byte("xml")},
	} {
		mustPut(t, c, bucket, tc.key, tc.data)
		got, out, err := getBody(ctx, c, bucket, tc.key, "")
		if err != nil {
			t.Errorf("get %q: %v", tc.key, err)
			continue
		}
		if !bytes.Equal(got, tc.data) || aws.ToString(out.ETag) != `"`+md5hex(tc.data)+`"` {
			t.Errorf("get %q = %q etag %s; want %q", tc.key, got, aws.ToString(out.ETag), tc.data)
		}
		keys = append(keys, tc.key)
	}
	// The listing gives every key back as put (XML escaping included).
	keys = append(keys, "dir/obj.bin")
	slices.Sort(keys)
	keys = slices.Compact(keys)
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range l.Contents {
		listed = append(listed, aws.ToString(o.Key))
	}
	if !slices.Equal(listed, keys) {
		t.Errorf("listing %q; want %q", listed, keys)
	}
}

func testSDKRange(t *testing.T, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-range"
	mustCreateBucket(t, c, bucket)
	data := randBytes(3, 100_000)
	mustPut(t, c, bucket, "r", data)
	size := int64(len(data))
	for _, tc := range []struct {
		rng        string
		start, end int64 // inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=0-9", 0, 9},
		{"bytes=1000-50999", 1000, 50999},
		{"bytes=99990-", 99990, size - 1},
		{"bytes=99990-200000", 99990, size - 1},
		{"bytes=-1", size - 1, size - 1},
		{"bytes=-500", size - 500, size - 1},
		{"bytes=-1000000", 0, size - 1},
		{"bytes=0-", 0, size - 1},
	} {
		got, out, err := getBody(ctx, c, bucket, "r", tc.rng)
		if err != nil {
			t.Errorf("range %s: %v", tc.rng, err)
			continue
		}
		if !bytes.Equal(got, data[tc.start:tc.end+1]) {
			t.Errorf("range %s: %d bytes, not bytes %d-%d", tc.rng, len(got), tc.start, tc.end)
		}
		wantCR := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size)
		if aws.ToString(out.ContentRange) != wantCR || aws.ToInt64(out.ContentLength) != tc.end-tc.start+1 {
			t.Errorf("range %s: Content-Range %q Content-Length %d; want %q %d", tc.rng, aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength), wantCR, tc.end-tc.start+1)
		}
	}
	for _, rng := range []string{"bytes=100000-", "bytes=100000-100010", "bytes=5000000-"} {
		_, _, err := getBody(ctx, c, bucket, "r", rng)
		wantAPIError(t, "range "+rng, err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
	}
	mustPut(t, c, bucket, "empty", nil)
	_, _, err := getBody(ctx, c, bucket, "empty", "bytes=0-")
	wantAPIError(t, "range of an empty object", err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
	// An unparsable range is ignored, as S3 does: the whole object.
	got, _, err := getBody(ctx, c, bucket, "r", "bytes=10-5")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("inverted range: %d bytes, %v; want the whole object", len(got), err)
	}
}

func testSDKConditional(t *testing.T, gw *gateway, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-cond"
	mustCreateBucket(t, c, bucket)
	data := []byte("conditional content")
	mustPut(t, c, bucket, "c", data)
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	etag, mod := aws.ToString(h.ETag), aws.ToTime(h.LastModified)
	past, future := mod.Add(-time.Hour), mod.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		in     s3.GetObjectInput
		status int // 0: success
	}{
		{"if-match hit", s3.GetObjectInput{IfMatch: aws.String(etag)}, 0},
		{"if-match star", s3.GetObjectInput{IfMatch: aws.String("*")}, 0},
		{"if-match miss", s3.GetObjectInput{IfMatch: aws.String(`"0123"`)}, http.StatusPreconditionFailed},
		{"if-none-match hit", s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, http.StatusNotModified},
		{"if-none-match miss", s3.GetObjectInput{IfNoneMatch: aws.String(`"0123"`)}, 0},
		{"if-modified-since past", s3.GetObjectInput{IfModifiedSince: &past}, 0},
		{"if-modified-since at", s3.GetObjectInput{IfModifiedSince: &mod}, http.StatusNotModified},
		{"if-modified-since future", s3.GetObjectInput{IfModifiedSince: &future}, http.StatusNotModified},
		{"if-unmodified-since future", s3.GetObjectInput{IfUnmodifiedSince: &future}, 0},
		{"if-unmodified-since at", s3.GetObjectInput{IfUnmodifiedSince: &mod}, 0},
		{"if-unmodified-since past", s3.GetObjectInput{IfUnmodifiedSince: &past}, http.StatusPreconditionFailed},
		{"if-match wins over if-unmodified-since", s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: &past}, 0},
		{"if-none-match wins over if-modified-since", s3.GetObjectInput{IfNoneMatch: aws.String(`"0123"`), IfModifiedSince: &future}, 0},
	} {
		in := tc.in
		in.Bucket, in.Key = aws.String(bucket), aws.String("c")
		out, err := c.GetObject(ctx, &in, noRetry)
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%s: %v; want success", tc.name, err)
		case tc.status == 0:
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(b, data) {
				t.Errorf("%s: body %q", tc.name, b)
			}
		case tc.status == http.StatusPreconditionFailed:
			wantAPIError(t, tc.name, err, "PreconditionFailed", tc.status)
		default:
			if errStatus(err) != tc.status {
				t.Errorf("%s: %v; want status %d", tc.name, err, tc.status)
			}
		}
		// HEAD answers the same statuses.
		hin := s3.HeadObjectInput{Bucket: in.Bucket, Key: in.Key, IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch, IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince}
		_, err = c.HeadObject(ctx, &hin, noRetry)
		if (tc.status == 0) != (err == nil) || (tc.status != 0 && errStatus(err) != tc.status) {
			t.Errorf("%s: head: %v; want status %d", tc.name, err, tc.status)
		}
	}

	// A 304 carries the validators a 200 would (RFC 9110 15.4.5), so
	// that caches can refresh their copy; no body.
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req := newSigned(t, gw, method, "/"+bucket+"/c", nil, "", map[string]string{"If-None-Match": etag})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != etag || resp.Header.Get("Last-Modified") != mod.UTC().Format(http.TimeFormat) || len(body) != 0 {
			t.Errorf("%s 304: %s ETag %q Last-Modified %q body %q; want ETag %s", method, resp.Status, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), body, etag)
		}
	}

	// Conditional writes: If-None-Match "*" refuses to overwrite.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("c"), Body: strings.NewReader("new"), IfNoneMatch: aws.String("*")}, noRetry)
	wantAPIError(t, "put if-none-match * on existing key", err, "PreconditionFailed", http.StatusPreconditionFailed)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("c2"), Body: strings.NewReader("new"), IfNoneMatch: aws.String("*")}); err != nil {
		t.Errorf("put if-none-match * on new key: %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("c"), Body: strings.NewReader("new"), IfMatch: aws.String(`"0123"`)}, noRetry)
	wantAPIError(t, "put if-match miss", err, "PreconditionFailed", http.StatusPreconditionFailed)
	if got := mustGet(t, c, bucket, "c"); !bytes.Equal(got, data) {
		t.Errorf("object changed by refused conditional puts: %q", got)
	}
}

func testSDKDelete(t *testing.T, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-delete"
	mustCreateBucket(t, c, bucket)
	mustPut(t, c, bucket, "one", []byte("1"))
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("one")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("one")})
	wantAPIError(t, "get deleted", err, "NoSuchKey", http.StatusNotFound)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("one")}); err != nil {
		t.Errorf("delete a missing key: %v; S3 answers 204", err)
	}

	var keys []string
	for i := range 6 {
		k := fmt.Sprintf("batch/%d", i)
		keys = append(keys, k)
		mustPut(t, c, bucket, k, []byte(k))
	}
	mustPut(t, c, bucket, "keep", []byte("keep"))
	ids := func(ks ...string) []types.ObjectIdentifier {
		var out []types.ObjectIdentifier
		for _, k := range ks {
			out = append(out, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return out
	}
	// Verbose: every key named is reported deleted, missing ones too.
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
		Delete: &types.Delete{Objects: ids(keys[0], keys[1], keys[2], "batch/missing", "never/was")}})
	if err != nil {
		t.Fatalf("delete objects: %v", err)
	}
	var deleted []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	slices.Sort(deleted)
	if want := []string{"batch/0", "batch/1", "batch/2", "batch/missing", "never/was"}; !slices.Equal(deleted, want) || len(out.Errors) != 0 {
		t.Errorf("delete objects: deleted %v errors %v; want %v", deleted, out.Errors, want)
	}
	// Quiet: nothing reported on success.
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
		Delete: &types.Delete{Objects: ids(keys[3], keys[4], "batch/missing"), Quiet: aws.Bool(true)}})
	if err != nil {
		t.Fatalf("quiet delete objects: %v", err)
	}
	if len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Errorf("quiet delete objects: deleted %v errors %v; want none", out.Deleted, out.Errors)
	}
	// A key the gateway refuses is a per-key error, the others go.
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
		Delete: &types.Delete{Objects: ids(keys[5], "bad/../key")}})
	if err != nil {
		t.Fatalf("delete objects with a bad key: %v", err)
	}
	if len(out.Deleted) != 1 || aws.ToString(out.Deleted[0].Key) != keys[5] || len(out.Errors) != 1 ||
		aws.ToString(out.Errors[0].Key) != "bad/../key" || aws.ToString(out.Errors[0].Code) != "InvalidArgument" {
		t.Errorf("delete objects with a bad key: deleted %+v errors %+v", out.Deleted, out.Errors)
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Contents) != 1 || aws.ToString(l.Contents[0].Key) != "keep" {
		var ks []string
		for _, o := range l.Contents {
			ks = append(ks, aws.ToString(o.Key))
		}
		t.Errorf("after deletes the bucket holds %v; want [keep]", ks)
	}
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("sdk-delete-none"), Delete: &types.Delete{Objects: ids("a")}})
	wantAPIError(t, "delete objects in a missing bucket", err, "NoSuchBucket", http.StatusNotFound)
}

func testSDKCopy(t *testing.T, c *s3.Client) {
	ctx := t.Context()
	const bucket, other = "sdk-copy", "sdk-copy-dst"
	mustCreateBucket(t, c, bucket)
	mustCreateBucket(t, c, other)
	data := randBytes(4, 70_000)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("src"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/x-source"), Metadata: map[string]string{"origin": "src"}}); err != nil {
		t.Fatal(err)
	}
	wantETag := `"` + md5hex(data) + `"`

	// COPY (default): metadata goes with the content, to another bucket.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(other), Key: aws.String("copied"), CopySource: aws.String(bucket + "/src"),
		ContentType: aws.String("ignored/with-copy"), Metadata: map[string]string{"ignored": "yes"}})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if cp.CopyObjectResult == nil || aws.ToString(cp.CopyObjectResult.ETag) != wantETag {
		t.Errorf("copy result %+v; want ETag %s", cp.CopyObjectResult, wantETag)
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(other), Key: aws.String("copied")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(h.ContentType) != "text/x-source" || h.Metadata["origin"] != "src" || h.Metadata["ignored"] != "" || aws.ToString(h.ETag) != wantETag {
		t.Errorf("COPY: Content-Type %q metadata %v ETag %s", aws.ToString(h.ContentType), h.Metadata, aws.ToString(h.ETag))
	}
	if got := mustGet(t, c, other, "copied"); !bytes.Equal(got, data) {
		t.Errorf("copied content differs")
	}

	// REPLACE: the request's metadata.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("replaced"), CopySource: aws.String(bucket + "/src"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x-new"), Metadata: map[string]string{"fresh": "1"}}); err != nil {
		t.Fatalf("copy REPLACE: %v", err)
	}
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("replaced")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(h.ContentType) != "text/x-new" || h.Metadata["fresh"] != "1" || h.Metadata["origin"] != "" {
		t.Errorf("REPLACE: Content-Type %q metadata %v", aws.ToString(h.ContentType), h.Metadata)
	}

	// Onto itself: refused without REPLACE, allowed with it.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("src"), CopySource: aws.String(bucket + "/src")}, noRetry)
	wantAPIError(t, "copy onto itself", err, "InvalidRequest", http.StatusBadRequest)
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("src"), CopySource: aws.String(bucket + "/src"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"origin": "self"}}); err != nil {
		t.Errorf("copy onto itself with REPLACE: %v", err)
	}
	h, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("src")})
	if err != nil || h.Metadata["origin"] != "self" || aws.ToString(h.ETag) != wantETag {
		t.Errorf("after self copy: %v metadata %v", err, h.Metadata)
	}

	// Copy source conditions and missing sources.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("x"), CopySource: aws.String(bucket + "/src"), CopySourceIfMatch: aws.String(`"0123"`)}, noRetry)
	wantAPIError(t, "copy if-match miss", err, "PreconditionFailed", http.StatusPreconditionFailed)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("x"), CopySource: aws.String(bucket + "/src"), CopySourceIfNoneMatch: aws.String(wantETag)}, noRetry)
	wantAPIError(t, "copy if-none-match hit", err, "PreconditionFailed", http.StatusPreconditionFailed)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("x"), CopySource: aws.String(bucket + "/missing")}, noRetry)
	wantAPIError(t, "copy missing source", err, "NoSuchKey", http.StatusNotFound)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("x"), CopySource: aws.String("sdk-copy-none/src")}, noRetry)
	wantAPIError(t, "copy from missing bucket", err, "NoSuchBucket", http.StatusNotFound)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("x")}); errStatus(err) != http.StatusNotFound {
		t.Errorf("failed copies created the destination: %v", err)
	}

	// A key needing URL encoding in x-amz-copy-source.
	odd := "a dir/ü+&?.bin"
	mustPut(t, c, bucket, odd, []byte("odd"))
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("from-odd"),
		CopySource: aws.String(bucket + "/" + strings.ReplaceAll(urlPathEscape(odd), "%2F", "/"))}); err != nil {
		t.Errorf("copy from %q: %v", odd, err)
	} else if got := mustGet(t, c, bucket, "from-odd"); string(got) != "odd" {
		t.Errorf("copy from %q: %q", odd, got)
	}
}

// urlPathEscape escapes every byte but unreserved ones.
func urlPathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte("-_.~", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// listKeys are 25 keys: 5 under a/, 5 under b/ (two levels), 15 at the
// top.
func listKeys() []string {
	var keys []string
	for i := range 5 {
		keys = append(keys, fmt.Sprintf("a/%02d", i))
	}
	for i := range 5 {
		keys = append(keys, fmt.Sprintf("b/sub%d/x", i%2)+fmt.Sprint(i))
	}
	for i := range 15 {
		keys = append(keys, fmt.Sprintf("top%02d", i))
	}
	slices.Sort(keys)
	return keys
}

func testSDKListV2(t *testing.T, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-list2"
	mustCreateBucket(t, c, bucket)
	keys := listKeys()
	for _, k := range keys {
		mustPut(t, c, bucket, k, []byte(k))
	}

	// list pages through with max-keys, returning keys, common prefixes
	// and the number of pages.
	list := func(in s3.ListObjectsV2Input) (gotKeys, prefixes []string, pages int) {
		t.Helper()
		in.Bucket = aws.String(bucket)
		for {
			out, err := c.ListObjectsV2(ctx, &in)
			if err != nil {
				t.Fatalf("list %+v: %v", in, err)
			}
			pages++
			n := len(out.Contents) + len(out.CommonPrefixes)
			if in.MaxKeys != nil && n > int(*in.MaxKeys) {
				t.Errorf("page of %d entries with max-keys %d", n, *in.MaxKeys)
			}
			if aws.ToInt32(out.KeyCount) != int32(n) {
				t.Errorf("KeyCount %d; %d entries", aws.ToInt32(out.KeyCount), n)
			}
			for _, o := range out.Contents {
				gotKeys = append(gotKeys, aws.ToString(o.Key))
				if aws.ToInt64(o.Size) != int64(len(aws.ToString(o.Key))) || aws.ToString(o.ETag) != `"`+md5hex([]byte(aws.ToString(o.Key)))+`"` {
					t.Errorf("entry %s: size %d ETag %s", aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag))
				}
			}
			for _, p := range out.CommonPrefixes {
				prefixes = append(prefixes, aws.ToString(p.Prefix))
			}
			if !aws.ToBool(out.IsTruncated) {
				if out.NextContinuationToken != nil {
					t.Errorf("last page has a continuation token")
				}
				return gotKeys, prefixes, pages
			}
			if aws.ToString(out.NextContinuationToken) == "" {
				t.Fatalf("truncated page without continuation token")
			}
			if pages > 50 {
				t.Fatalf("listing does not end")
			}
			in.ContinuationToken = out.NextContinuationToken
		}
	}
	filter := func(f func(string) bool) []string {
		var out []string
		for _, k := range keys {
			if f(k) {
				out = append(out, k)
			}
		}
		return out
	}
	top := filter(func(k string) bool { return !strings.Contains(k, "/") })
	for _, tc := range []struct {
		name      string
		in        s3.ListObjectsV2Input
		keys, cps []string
		pages     int
	}{
		{"all", s3.ListObjectsV2Input{}, keys, nil, 1},
		{"max-keys 7", s3.ListObjectsV2Input{MaxKeys: aws.Int32(7)}, keys, nil, 4},
		{"max-keys 1", s3.ListObjectsV2Input{MaxKeys: aws.Int32(1)}, keys, nil, 25},
		{"max-keys 25", s3.ListObjectsV2Input{MaxKeys: aws.Int32(25)}, keys, nil, 1},
		{"delimiter", s3.ListObjectsV2Input{Delimiter: aws.String("/")}, top, []string{"a/", "b/"}, 1},
		{"delimiter max-keys 7", s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(7)}, top, []string{"a/", "b/"}, 3},
		{"delimiter max-keys 1", s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}, top, []string{"a/", "b/"}, 17},
		{"prefix", s3.ListObjectsV2Input{Prefix: aws.String("a/")}, filter(func(k string) bool { return strings.HasPrefix(k, "a/") }), nil, 1},
		{"prefix max-keys 2", s3.ListObjectsV2Input{Prefix: aws.String("a/"), MaxKeys: aws.Int32(2)}, filter(func(k string) bool { return strings.HasPrefix(k, "a/") }), nil, 3},
		{"prefix delimiter", s3.ListObjectsV2Input{Prefix: aws.String("b/"), Delimiter: aws.String("/")}, nil, []string{"b/sub0/", "b/sub1/"}, 1},
		{"prefix delimiter max-keys 1", s3.ListObjectsV2Input{Prefix: aws.String("b/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}, nil, []string{"b/sub0/", "b/sub1/"}, 2},
		{"prefix not at a slash", s3.ListObjectsV2Input{Prefix: aws.String("top1")}, filter(func(k string) bool { return strings.HasPrefix(k, "top1") }), nil, 1},
		{"start-after", s3.ListObjectsV2Input{StartAfter: aws.String("top05")}, filter(func(k string) bool { return k > "top05" }), nil, 1},
		{"start-after max-keys 4", s3.ListObjectsV2Input{StartAfter: aws.String("a/02"), MaxKeys: aws.Int32(4)}, filter(func(k string) bool { return k > "a/02" }), nil, 6},
		{"start-after not a key", s3.ListObjectsV2Input{StartAfter: aws.String("b")}, filter(func(k string) bool { return k > "b" }), nil, 1},
		{"start-after in a prefix, delimiter", s3.ListObjectsV2Input{StartAfter: aws.String("a/01"), Delimiter: aws.String("/")}, top, []string{"b/"}, 1},
		{"start-after past the end", s3.ListObjectsV2Input{StartAfter: aws.String("zzz")}, nil, nil, 1},
		{"delimiter not slash", s3.ListObjectsV2Input{Delimiter: aws.String("p1")}, filter(func(k string) bool { return !strings.HasPrefix(k, "top1") }), []string{"top1"}, 1},
		{"no match", s3.ListObjectsV2Input{Prefix: aws.String("nothing")}, nil, nil, 1},
	} {
		gotKeys, cps, pages := list(tc.in)
		if !slices.Equal(gotKeys, tc.keys) {
			t.Errorf("%s: keys %v; want %v", tc.name, gotKeys, tc.keys)
		}
		if !slices.Equal(cps, tc.cps) {
			t.Errorf("%s: common prefixes %v; want %v", tc.name, cps, tc.cps)
		}
		if pages != tc.pages {
			t.Errorf("%s: %d pages; want %d", tc.name, pages, tc.pages)
		}
	}

	// The SDK's paginator sees every key exactly once.
	seen := map[string]int{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(7)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			seen[aws.ToString(o.Key)]++
		}
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Errorf("paginator: key %s seen %d times", k, seen[k])
		}
	}
	if len(seen) != len(keys) {
		t.Errorf("paginator: %d keys; want %d", len(seen), len(keys))
	}

	// URL encoding of keys, and owners on request.
	mustPut(t, c, bucket, "enc/a b+c", []byte("x"))
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("enc/"), EncodingType: types.EncodingTypeUrl, FetchOwner: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK leaves keys encoded; clients decode them as query values.
	if len(out.Contents) != 1 || out.Contents[0].Owner == nil {
		t.Errorf("encoded listing: %d entries", len(out.Contents))
	} else if k, err := url.QueryUnescape(aws.ToString(out.Contents[0].Key)); err != nil || k != "enc/a b+c" {
		t.Errorf("encoded listing: key %q decodes to %q, %v", aws.ToString(out.Contents[0].Key), k, err)
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), ContinuationToken: aws.String("!!not a token!!")}, noRetry)
	wantAPIError(t, "bad continuation token", err, "InvalidArgument", http.StatusBadRequest)
}

func testSDKListV1(t *testing.T, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-list1"
	mustCreateBucket(t, c, bucket)
	keys := listKeys()
	for _, k := range keys {
		mustPut(t, c, bucket, k, []byte(k))
	}
	for _, tc := range []struct {
		name      string
		delimiter string
		marker    string
		keys, cps []string
	}{
		{"all", "", "", keys, nil},
		{"marker", "", "top09", keys[slices.Index(keys, "top09")+1:], nil},
		{"delimiter", "/", "", keys[10:], []string{"a/", "b/"}},
		{"delimiter marker in prefix", "/", "a/03", keys[10:], []string{"b/"}},
	} {
		var gotKeys, cps []string
		marker := tc.marker
		for pages := 0; ; pages++ {
			in := &s3.ListObjectsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(7), Marker: aws.String(marker)}
			if tc.delimiter != "" {
				in.Delimiter = aws.String(tc.delimiter)
			}
			out, err := c.ListObjects(ctx, in)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if aws.ToString(out.Marker) != marker {
				t.Errorf("%s: Marker %q; want %q", tc.name, aws.ToString(out.Marker), marker)
			}
			if len(out.Contents)+len(out.CommonPrefixes) > 7 {
				t.Errorf("%s: page of %d", tc.name, len(out.Contents)+len(out.CommonPrefixes))
			}
			for _, o := range out.Contents {
				gotKeys = append(gotKeys, aws.ToString(o.Key))
				if o.Owner == nil {
					t.Errorf("%s: V1 entry without owner", tc.name)
				}
			}
			for _, p := range out.CommonPrefixes {
				cps = append(cps, aws.ToString(p.Prefix))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			if pages > 50 {
				t.Fatalf("%s: listing does not end", tc.name)
			}
			// NextMarker comes with a delimiter; without one the client
			// goes on from the last key.
			if tc.delimiter != "" {
				if out.NextMarker == nil {
					t.Fatalf("%s: truncated page with a delimiter has no NextMarker", tc.name)
				}
				marker = aws.ToString(out.NextMarker)
			} else {
				marker = gotKeys[len(gotKeys)-1]
			}
		}
		if !slices.Equal(gotKeys, tc.keys) || !slices.Equal(cps, tc.cps) {
			t.Errorf("%s: keys %v prefixes %v; want %v %v", tc.name, gotKeys, cps, tc.keys, tc.cps)
		}
	}
}

func testSDKMultipart(t *testing.T, gw *gateway, c *s3.Client) {
	ctx := t.Context()
	const bucket, key = "sdk-multipart", "big/object.bin"
	mustCreateBucket(t, c, bucket)
	src := randBytes(10, 4000)
	mustPut(t, c, bucket, "copy-source", src)
	parts := [][]byte{randBytes(11, 5*mib), randBytes(12, 5*mib), randBytes(13, 5*mib), src[100:1124]}

	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		ContentType: aws.String("application/x-multipart"), Metadata: map[string]string{"parts": "four"}})
	if err != nil {
		t.Fatalf("create multipart upload: %v", err)
	}
	id := cu.UploadId
	if aws.ToString(cu.Bucket) != bucket || aws.ToString(cu.Key) != key || aws.ToString(id) == "" {
		t.Fatalf("create multipart upload: %+v", cu)
	}
	var done []types.CompletedPart
	for i := range 3 {
		// Upload parts in reverse order: their number decides.
		n := int32(3 - i)
		p := parts[n-1]
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(n), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("upload part %d: %v", n, err)
		}
		if aws.ToString(up.ETag) != `"`+md5hex(p)+`"` {
			t.Errorf("part %d: ETag %s; want MD5 %s", n, aws.ToString(up.ETag), md5hex(p))
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(n), ETag: up.ETag})
	}
	slices.SortFunc(done, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(4),
		CopySource: aws.String(bucket + "/copy-source"), CopySourceRange: aws.String("bytes=100-1123")})
	if err != nil {
		t.Fatalf("upload part copy: %v", err)
	}
	if pc.CopyPartResult == nil || aws.ToString(pc.CopyPartResult.ETag) != `"`+md5hex(parts[3])+`"` {
		t.Errorf("upload part copy: %+v; want ETag %s", pc.CopyPartResult, md5hex(parts[3]))
	}
	done = append(done, types.CompletedPart{PartNumber: aws.Int32(4), ETag: pc.CopyPartResult.ETag})
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(5),
		CopySource: aws.String(bucket + "/copy-source"), CopySourceRange: aws.String("bytes=3000-4000")}, noRetry)
	wantAPIError(t, "upload part copy past the source's end", err, "InvalidArgument", http.StatusBadRequest)

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id})
	if err != nil {
		t.Fatalf("list parts: %v", err)
	}
	if len(lp.Parts) != 4 {
		t.Errorf("list parts: %d parts; want 4", len(lp.Parts))
	}
	for i, p := range lp.Parts {
		if i >= 4 {
			break
		}
		if aws.ToInt32(p.PartNumber) != int32(i+1) || aws.ToInt64(p.Size) != int64(len(parts[i])) || aws.ToString(p.ETag) != `"`+md5hex(parts[i])+`"` {
			t.Errorf("list parts: part %d: number %d size %d ETag %s", i+1, aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size), aws.ToString(p.ETag))
		}
	}
	lp, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, MaxParts: aws.Int32(2), PartNumberMarker: aws.String("1")})
	if err != nil {
		t.Fatalf("list parts page: %v", err)
	}
	if len(lp.Parts) != 2 || aws.ToInt32(lp.Parts[0].PartNumber) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "3" {
		t.Errorf("list parts after 1, max 2: %d parts truncated=%v next=%q", len(lp.Parts), aws.ToBool(lp.IsTruncated), aws.ToString(lp.NextPartNumberMarker))
	}

	other, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("other/key")})
	if err != nil {
		t.Fatal(err)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	found := map[string]string{}
	for _, u := range lu.Uploads {
		found[aws.ToString(u.UploadId)] = aws.ToString(u.Key)
	}
	if found[aws.ToString(id)] != key || found[aws.ToString(other.UploadId)] != "other/key" || len(found) != 2 {
		t.Errorf("list multipart uploads: %v", found)
	}
	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String("big/")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(id) {
		t.Errorf("list multipart uploads with prefix: %v, %+v", err, lu)
	}
	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Delimiter: aws.String("/")})
	if err != nil || len(lu.Uploads) != 0 || len(lu.CommonPrefixes) != 2 {
		t.Errorf("list multipart uploads with delimiter: %v, %+v", err, lu)
	}

	comp, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatalf("complete multipart upload: %v", err)
	}
	wantETag := multipartETag(parts...)
	if aws.ToString(comp.ETag) != wantETag || !strings.HasSuffix(aws.ToString(comp.ETag), `-4"`) {
		t.Errorf("complete: ETag %s; want %s", aws.ToString(comp.ETag), wantETag)
	}
	// A retried Complete answers the same.
	comp2, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil || aws.ToString(comp2.ETag) != wantETag {
		t.Errorf("retried complete: %v, ETag %s", err, aws.ToString(comp2.ETag))
	}

	whole := bytes.Join(parts, nil)
	got, out, err := getBody(ctx, c, bucket, key, "")
	if err != nil {
		t.Fatalf("get multipart object: %v", err)
	}
	if !bytes.Equal(got, whole) {
		t.Errorf("multipart object: %d bytes, differs from the %d uploaded", len(got), len(whole))
	}
	if aws.ToString(out.ETag) != wantETag || aws.ToString(out.ContentType) != "application/x-multipart" {
		t.Errorf("get multipart object: ETag %s Content-Type %s", aws.ToString(out.ETag), aws.ToString(out.ContentType))
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(h.ContentLength) != int64(len(whole)) || aws.ToString(h.ETag) != wantETag || h.Metadata["parts"] != "four" || aws.ToInt32(h.PartsCount) != 4 {
		t.Errorf("head multipart object: length %d ETag %s metadata %v parts %d", aws.ToInt64(h.ContentLength), aws.ToString(h.ETag), h.Metadata, aws.ToInt32(h.PartsCount))
	}
	size := int64(len(whole))
	for _, r := range [][2]int64{
		{5*mib - 100, 5*mib + 99},    // parts 1-2
		{5*mib - 1, 10*mib + 1},      // spans all of part 2
		{15*mib - 10, 15*mib + 10},   // part 3 into the copied part
		{0, 5*mib - 1},               // exactly part 1
		{10 * mib, 15*mib - 1},       // exactly part 3
		{size - 1024, size - 1},      // exactly the last part
		{3, 3},                       // one byte
		{12345, 15*mib + 1000 - 1},   // almost all
		{size - 1, size + 1000},      // past the end: to the end
		{15*mib + 500, 15*mib + 500}, // one byte of the last part
	} {
		end := min(r[1], size-1)
		rng := fmt.Sprintf("bytes=%d-%d", r[0], r[1])
		got, out, err := getBody(ctx, c, bucket, key, rng)
		if err != nil {
			t.Errorf("range %s: %v", rng, err)
			continue
		}
		if !bytes.Equal(got, whole[r[0]:end+1]) {
			t.Errorf("range %s: %d bytes differ", rng, len(got))
		}
		if want := fmt.Sprintf("bytes %d-%d/%d", r[0], end, size); aws.ToString(out.ContentRange) != want {
			t.Errorf("range %s: Content-Range %q; want %q", rng, aws.ToString(out.ContentRange), want)
		}
	}
	// GET ?partNumber=N is part N, never the whole object (a client
	// fetching parts 1..N would store N copies).
	for n := int32(1); n <= 4; n++ {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), PartNumber: aws.Int32(n)}, noRetry)
		if err != nil {
			t.Errorf("get part %d: %v", n, err)
			continue
		}
		if aws.ToInt32(out.PartsCount) != 4 {
			t.Errorf("get part %d: parts count %d, want 4", n, aws.ToInt32(out.PartsCount))
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, parts[n-1]) {
			t.Errorf("get part %d: %v, %d bytes; want the part's %d bytes", n, err, len(got), len(parts[n-1]))
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), PartNumber: aws.Int32(5)}, noRetry)
	wantAPIError(t, "get part 5 of 4", err, "InvalidPartNumber", http.StatusRequestedRangeNotSatisfiable)
	got, _, err = getBody(ctx, c, bucket, key, "bytes=-2000")
	if err != nil || !bytes.Equal(got, whole[size-2000:]) {
		t.Errorf("suffix range of the multipart object: %v", err)
	}
	_, _, err = getBody(ctx, c, bucket, key, fmt.Sprintf("bytes=%d-", size))
	wantAPIError(t, "range past the multipart object", err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)

	// Completed: not listed, no more parts.
	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(other.UploadId) {
		t.Errorf("uploads after complete: %v %+v", err, lu.Uploads)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(9), Body: strings.NewReader("late")}, noRetry)
	wantAPIError(t, "upload part after complete", err, "NoSuchUpload", http.StatusNotFound)

	// Abort: the upload and its parts go.
	ab, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("aborted")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("aborted"), UploadId: ab.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part one")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("aborted"), UploadId: ab.UploadId}); err != nil {
		t.Fatalf("abort: %v", err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("aborted"), UploadId: ab.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("part two")}, noRetry)
	wantAPIError(t, "upload part after abort", err, "NoSuchUpload", http.StatusNotFound)
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("aborted"), UploadId: ab.UploadId}, noRetry)
	wantAPIError(t, "list parts after abort", err, "NoSuchUpload", http.StatusNotFound)
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("aborted"), UploadId: ab.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"` + md5hex([]byte("part one")) + `"`)}}}}, noRetry)
	wantAPIError(t, "complete after abort", err, "NoSuchUpload", http.StatusNotFound)
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("aborted"), UploadId: ab.UploadId}, noRetry)
	wantAPIError(t, "abort twice", err, "NoSuchUpload", http.StatusNotFound)
	if n := countKeys(t, gw, ".s3/p/"+aws.ToString(ab.UploadId)+"/"); n != 0 {
		t.Errorf("aborted upload still has %d parts in the store", n)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("aborted"), UploadId: aws.String("../../etc/passwd"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")}, noRetry)
	wantAPIError(t, "upload part to a made-up upload id", err, "NoSuchUpload", http.StatusNotFound)
	// An upload id names an upload of one key only.
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("not/other/key"), UploadId: other.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")}, noRetry)
	wantAPIError(t, "upload part under another key", err, "NoSuchUpload", http.StatusNotFound)
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("other/key"), UploadId: other.UploadId, PartNumber: aws.Int32(10001), Body: strings.NewReader("x")}, noRetry)
	wantAPIError(t, "part number 10001", err, "InvalidArgument", http.StatusBadRequest)
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("other/key"), UploadId: other.UploadId}); err != nil {
		t.Errorf("abort other: %v", err)
	}

	// Deleting the multipart object orphans its parts (the cleaner drops
	// them later); the object is gone at once.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); errStatus(err) != http.StatusNotFound {
		t.Errorf("head deleted multipart object: %v", err)
	}
}

// countKeys counts the store's keys under prefix.
func countKeys(t testing.TB, gw *gateway, prefix string) int {
	t.Helper()
	n := 0
	for _, err := range gw.Client.List(t.Context(), prefix, "") {
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		n++
	}
	return n
}

func testSDKMultipartErrors(t *testing.T, gw *gateway, c *s3.Client) {
	ctx := t.Context()
	const bucket, key = "sdk-multipart-errors", "obj"
	mustCreateBucket(t, c, bucket)
	big, small1, small2 := randBytes(20, 5*mib), randBytes(21, 1000), randBytes(22, 2000)
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	id := cu.UploadId
	etags := map[int32]*string{}
	for n, p := range map[int32][]byte{1: big, 2: small1, 3: small2} {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(n), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("upload part %d: %v", n, err)
		}
		etags[n] = up.ETag
	}
	part := func(n int32, etag *string) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: etag}
	}
	complete := func(ps ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: ps}}, noRetry)
	}
	for _, tc := range []struct {
		name   string
		parts  []types.CompletedPart
		code   string
		status int
	}{
		{"out of order", []types.CompletedPart{part(2, etags[2]), part(1, etags[1])}, "InvalidPartOrder", http.StatusBadRequest},
		{"repeated part", []types.CompletedPart{part(1, etags[1]), part(1, etags[1])}, "InvalidPartOrder", http.StatusBadRequest},
		{"wrong ETag", []types.CompletedPart{part(1, aws.String(`"`+md5hex(small1)+`"`)), part(2, etags[2])}, "InvalidPart", http.StatusBadRequest},
		{"missing part", []types.CompletedPart{part(1, etags[1]), part(7, etags[2])}, "InvalidPart", http.StatusBadRequest},
		{"small part not last", []types.CompletedPart{part(2, etags[2]), part(3, etags[3])}, "EntityTooSmall", http.StatusBadRequest},
		{"part number 0", []types.CompletedPart{part(0, etags[1])}, "InvalidArgument", http.StatusBadRequest},
	} {
		_, err := complete(tc.parts...)
		wantAPIError(t, tc.name, err, tc.code, tc.status)
	}
	// The upload survived the refused completes.
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id})
	if err != nil || len(lp.Parts) != 3 {
		t.Fatalf("list parts after refused completes: %v %+v", err, lp)
	}
	// Parts 1 and 3 (skipping 2): the unused part is dropped.
	comp, err := complete(part(1, etags[1]), part(3, etags[3]))
	if err != nil {
		t.Fatalf("complete 1+3: %v", err)
	}
	if want := multipartETag(big, small2); aws.ToString(comp.ETag) != want {
		t.Errorf("complete 1+3: ETag %s; want %s", aws.ToString(comp.ETag), want)
	}
	if got := mustGet(t, c, bucket, key); !bytes.Equal(got, append(append([]byte{}, big...), small2...)) {
		t.Errorf("object of parts 1+3: %d bytes differ", len(got))
	}
	if n := countKeys(t, gw, ".s3/p/"+aws.ToString(id)+"/"); n != 2 {
		t.Errorf("after completing with parts 1 and 3 the store holds %d parts; want 2", n)
	}
	// Overwriting the multipart object with a plain one keeps reads right.
	mustPut(t, c, bucket, key, []byte("plain now"))
	if got := mustGet(t, c, bucket, key); string(got) != "plain now" {
		t.Errorf("overwritten multipart object: %q", got)
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil || aws.ToInt64(h.ContentLength) != 9 || h.PartsCount != nil {
		t.Errorf("head overwritten multipart object: %v length %d parts %v", err, aws.ToInt64(h.ContentLength), h.PartsCount)
	}
}

// tlsClient serves the gateway over TLS too, so that the SDK sends its
// checksums as aws-chunked trailers (it does so only over HTTPS), and
// returns a client of it.
func tlsClient(t testing.TB, gw *gateway, opts ...func(*s3.Options)) *s3.Client {
	srv := httptest.NewUnstartedServer(gw.Server)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return sdkClient(srv.URL, append([]func(*s3.Options){func(o *s3.Options) { o.HTTPClient = srv.Client() }}, opts...)...)
}

func testSDKTrailerChecksums(t *testing.T, gw *gateway) {
	ctx := t.Context()
	const bucket = "sdk-trailer"
	for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		name := string(alg)
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			var req *http.Request
			c := tlsClient(t, gw, func(o *s3.Options) {
				o.HTTPClient = recordingClient{o.HTTPClient.(*http.Client), &req}
			})
			if name == "default" {
				mustCreateBucket(t, c, bucket)
			}
			data := randBytes(30, 200_000)
			in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(name), Body: bytes.NewReader(data), ChecksumAlgorithm: alg}
			if _, err := c.PutObject(ctx, in); err != nil {
				t.Fatalf("put over TLS with %s: %v", name, err)
			}
			if req == nil || !strings.Contains(req.Header.Get("Content-Encoding"), "aws-chunked") || req.Header.Get("X-Amz-Trailer") == "" {
				t.Errorf("the SDK did not send a trailer: %s %s %v", req.Method, req.URL, req.Header)
			}
			got, out, err := getBody(ctx, c, bucket, name, "")
			if err != nil || !bytes.Equal(got, data) || aws.ToString(out.ETag) != `"`+md5hex(data)+`"` {
				t.Errorf("get: %v (%d bytes, ETag %s)", err, len(got), aws.ToString(out.ETag))
			}
			if out != nil && out.ContentEncoding != nil {
				t.Errorf("aws-chunked leaked into the stored Content-Encoding: %q", aws.ToString(out.ContentEncoding))
			}
		})
	}
	// The same with a multipart upload whose parts carry trailers.
	c := tlsClient(t, gw)
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randBytes(31, 5*mib), randBytes(32, 1234)
	var done []types.CompletedPart
	for i, p := range [][]byte{p1, p2} {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: cu.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatalf("upload part %d over TLS: %v", i+1, err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatalf("complete over TLS: %v", err)
	}
	if got := mustGet(t, c, bucket, "mp"); !bytes.Equal(got, append(append([]byte{}, p1...), p2...)) {
		t.Errorf("multipart over TLS: %d bytes differ", len(got))
	}

	// A trailer that does not match the body is refused. The checksum is
	// given in a header by the caller, so the SDK sends it as is.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("bad-sum"), Body: bytes.NewReader([]byte("some bytes")),
		ChecksumCRC32: aws.String("AAAAAA==")}, noRetry)
	wantAPIError(t, "put with a wrong x-amz-checksum-crc32", err, "BadDigest", http.StatusBadRequest)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("bad-sum")}); errStatus(err) != http.StatusNotFound {
		t.Errorf("a put with a wrong checksum created the object: %v", err)
	}
}

// recordingClient keeps the last request it sent.
type recordingClient struct {
	c   *http.Client
	req **http.Request
}

func (r recordingClient) Do(req *http.Request) (*http.Response, error) {
	*r.req = req
	return r.c.Do(req)
}

// countingClient counts the requests sent aws-chunked with a trailer.
type countingClient struct {
	c interface {
		Do(*http.Request) (*http.Response, error)
	}
	n *atomic.Int32
}

func (c countingClient) Do(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.Header.Get("Content-Encoding"), "aws-chunked") && req.Header.Get("X-Amz-Trailer") != "" {
		c.n.Add(1)
	}
	return c.c.Do(req)
}

// nonSeeker hides every method of a reader but Read.
type nonSeeker struct{ r io.Reader }

func (n nonSeeker) Read(p []byte) (int, error) { return n.r.Read(p) }

func testSDKManager(t *testing.T, gw *gateway) {
	ctx := t.Context()
	const bucket = "sdk-manager"
	const size = 40*mib + 12345
	// chunked counts the parts sent as aws-chunked with a trailer.
	var chunked atomic.Int32
	counting := func(o *s3.Options) {
		if o.HTTPClient == nil {
			o.HTTPClient = awshttp.NewBuildableClient()
		}
		o.HTTPClient = countingClient{o.HTTPClient, &chunked}
	}
	for _, tc := range []struct {
		name        string
		c           *s3.Client
		wantChunked bool
	}{
		{"https-trailers", tlsClient(t, gw, counting), true},
		{"http", sdkClient(gw.Endpoint, counting), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			chunked.Store(0)
			defer func() {
				if n := chunked.Load(); (n >= 9) != tc.wantChunked {
					t.Errorf("%d parts sent aws-chunked with trailers", n)
				}
			}()
			if tc.name == "https-trailers" {
				mustCreateBucket(t, c, bucket)
			}
			sum := md5.New()
			stream := nonSeeker{io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{40}), size), sum)}
			//lint:ignore SA1019 the manager is what deployed Go code uses; its successor is tested by nobody yet
			up := manager.NewUploader(c, func(u *manager.Uploader) {
				u.PartSize = 5 * mib
				u.Concurrency = 3
			})
			//lint:ignore SA1019 see NewUploader above
			res, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(tc.name), Body: stream, ContentType: aws.String("application/x-stream")})
			if err != nil {
				t.Fatalf("manager upload: %v", err)
			}
			if res.UploadID == "" || !strings.HasSuffix(aws.ToString(res.ETag), `-9"`) {
				t.Errorf("manager upload: upload id %q ETag %s; want a 9-part multipart upload", res.UploadID, aws.ToString(res.ETag))
			}
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tc.name)})
			if err != nil || aws.ToInt64(h.ContentLength) != size || aws.ToString(h.ContentType) != "application/x-stream" {
				t.Fatalf("head: %v %+v", err, h)
			}
			//lint:ignore SA1019 see NewUploader above
			down := manager.NewDownloader(c, func(d *manager.Downloader) {
				d.PartSize = 3 * mib // not aligned with the parts
				d.Concurrency = 4
			})
			buf := manager.NewWriteAtBuffer(make([]byte, 0, size))
			//lint:ignore SA1019 see NewUploader above
			n, err := down.Download(ctx, buf, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(tc.name)})
			if err != nil {
				t.Fatalf("manager download: %v", err)
			}
			got := md5.Sum(buf.Bytes())
			if n != size || !bytes.Equal(got[:], sum.Sum(nil)) {
				t.Errorf("manager download: %d bytes, MD5 %x; want %d bytes, MD5 %x", n, got, size, sum.Sum(nil))
			}
		})
	}
}

func testSDKConcurrent(t *testing.T, gw *gateway, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-concurrent"
	mustCreateBucket(t, c, bucket)

	// Writers racing on one key: each succeeds (last writer wins, as in
	// S3) and the key ends with one of them, whole.
	const writers = 6
	datas := make([][]byte, writers)
	errs := make(chan error, writers)
	for i := range writers {
		datas[i] = randBytes(uint64(100+i), 300_000+i)
		go func() {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("race"), Body: bytes.NewReader(datas[i])})
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Errorf("concurrent put: %v", err)
		}
	}
	got, out, err := getBody(ctx, c, bucket, "race", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(datas, func(d []byte) bool { return bytes.Equal(d, got) }) || aws.ToString(out.ETag) != `"`+md5hex(got)+`"` {
		t.Errorf("after concurrent puts: %d bytes, ETag %s: not one of the puts", len(got), aws.ToString(out.ETag))
	}

	// A reader streaming a multipart object keeps reading it whole while
	// it is deleted, and a reader of a plain object while it is replaced
	// gets the old content whole or an error, never a mix. The reader's
	// small receive buffer holds the gateway back, a few MiB into the
	// object, while the object changes.
	slow := sdkClient(gw.Endpoint, func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetReadBuffer(128 << 10)
			}
			return conn, err
		}}}
	})
	p1, p2 := randBytes(110, 5*mib), randBytes(111, 5*mib)
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range [][]byte{p1, p2} {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: cu.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	plain := randBytes(112, 13*mib) // four zstor blocks
	mustPut(t, c, bucket, "plain", plain)
	for _, tc := range []struct {
		key    string
		want   []byte
		change func() error
		mustOK bool
	}{
		{"mp", append(append([]byte{}, p1...), p2...), func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
			return err
		}, true},
		{"plain", plain, func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("plain"), Body: bytes.NewReader(randBytes(113, 13*mib))})
			return err
		}, false},
	} {
		out, err := slow.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(tc.key)})
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 64<<10)
		if _, err := io.ReadFull(out.Body, head); err != nil {
			t.Fatal(err)
		}
		if err := tc.change(); err != nil {
			t.Fatalf("%s: change while reading: %v", tc.key, err)
		}
		rest, err := io.ReadAll(out.Body)
		out.Body.Close()
		got := append(head, rest...)
		t.Logf("%s: read %d bytes, %v", tc.key, len(got), err)
		switch {
		case err != nil && tc.mustOK:
			t.Errorf("%s: read interrupted: %v", tc.key, err)
		case err == nil && !bytes.Equal(got, tc.want):
			t.Errorf("%s: read %d bytes that are not the object read", tc.key, len(got))
		}
	}
}

func testSDKPresign(t *testing.T, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-presign"
	mustCreateBucket(t, c, bucket)
	data := randBytes(50, 12345)
	mustPut(t, c, bucket, "get me", data)
	ps := s3.NewPresignClient(c)

	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("get me"),
		ResponseContentDisposition: aws.String("attachment; filename=x.bin")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("presigned GET: %s, %d bytes: %.300s", resp.Status, len(body), body)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=x.bin" {
		t.Errorf("presigned GET: Content-Disposition %q", cd)
	}
	// Tampering with the URL breaks the signature.
	resp, err = http.Get(strings.Replace(get.URL, "get%20me", "get%20you", 1))
	if err != nil {
		t.Fatal(err)
	}
	st, code := readS3Error(resp)
	if st != http.StatusForbidden || code != "SignatureDoesNotMatch" {
		t.Errorf("tampered presigned GET: %d %s; want 403 SignatureDoesNotMatch", st, code)
	}

	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("put me"), ContentType: aws.String("text/x-presigned")},
		s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, put.Method, put.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range put.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"`+md5hex(data)+`"` {
		t.Errorf("presigned PUT: %s ETag %s: %.300s", resp.Status, resp.Header.Get("ETag"), body)
	}
	got, out, err := getBody(ctx, c, bucket, "put me", "")
	if err != nil || !bytes.Equal(got, data) || aws.ToString(out.ContentType) != "text/x-presigned" {
		t.Errorf("object put by presigned URL: %v, %d bytes, Content-Type %q", err, len(got), aws.ToString(out.ContentType))
	}
}

func testSDKAuth(t *testing.T, gw *gateway, c *s3.Client) {
	ctx := t.Context()
	const bucket = "sdk-auth"
	mustCreateBucket(t, c, bucket)
	mustPut(t, c, bucket, "k", []byte("secret"))
	for _, tc := range []struct {
		name   string
		creds  aws.CredentialsProvider
		code   string
		status int
	}{
		{"wrong secret", credentials.NewStaticCredentialsProvider(testAccess, testSecret+"x", ""), "SignatureDoesNotMatch", http.StatusForbidden},
		{"unknown access key", credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", testSecret, ""), "InvalidAccessKeyId", http.StatusForbidden},
		{"anonymous", aws.AnonymousCredentials{}, "AccessDenied", http.StatusForbidden},
	} {
		bad := sdkClient(gw.Endpoint, func(o *s3.Options) { o.Credentials = tc.creds }, noRetry)
		_, err := bad.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		wantAPIError(t, tc.name+": get", err, tc.code, tc.status)
		_, err = bad.ListBuckets(ctx, &s3.ListBucketsInput{})
		wantAPIError(t, tc.name+": list buckets", err, tc.code, tc.status)
		_, err = bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("overwritten")})
		wantAPIError(t, tc.name+": put", err, tc.code, tc.status)
		_, err = bad.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		wantAPIError(t, tc.name+": delete", err, tc.code, tc.status)
		_, err = bad.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		if errStatus(err) != tc.status {
			t.Errorf("%s: head: %v; want %d", tc.name, err, tc.status)
		}
	}
	// Signed for another region.
	other := sdkClient(gw.Endpoint, func(o *s3.Options) { o.Region = "eu-west-1" }, noRetry)
	_, err := other.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if code := errCode(err); errStatus(err) != http.StatusBadRequest && errStatus(err) != http.StatusForbidden || code == "" {
		t.Errorf("request signed for another region: %v; want a 400/403 S3 error", err)
	}
	if got := mustGet(t, c, bucket, "k"); string(got) != "secret" {
		t.Errorf("refused requests changed the object: %q", got)
	}
}

// TestSDKBackendFaults kills backends under the gateway (4+2 over 6):
// with one down everything works; with two down reads work and writes,
// which need k+1 shards, fail with a clean 503.
func TestSDKBackendFaults(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	c := sdkClient(gw.Endpoint)
	ctx := t.Context()
	const bucket = "faults"
	mustCreateBucket(t, c, bucket)
	objs := map[string][]byte{"small": randBytes(60, 1000), "medium": randBytes(61, 3*mib), "empty": nil}
	for k, v := range objs {
		mustPut(t, c, bucket, k, v)
	}
	p1, p2 := randBytes(62, 5*mib), randBytes(63, 100)
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("multipart")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range [][]byte{p1, p2} {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("multipart"), UploadId: cu.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("multipart"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	objs["multipart"] = append(append([]byte{}, p1...), p2...)

	checkReads := func(when string) {
		t.Helper()
		for k, v := range objs {
			got, _, err := getBody(ctx, c, bucket, k, "")
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("%s: get %s: %v (%d bytes of %d)", when, k, err, len(got), len(v))
			}
		}
		got, _, err := getBody(ctx, c, bucket, "multipart", fmt.Sprintf("bytes=%d-%d", 5*mib-10, 5*mib+9))
		if err != nil || !bytes.Equal(got, objs["multipart"][5*mib-10:5*mib+10]) {
			t.Errorf("%s: ranged get across parts: %v", when, err)
		}
		l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil || len(l.Contents) < len(objs) {
			t.Errorf("%s: list: %v", when, err)
		}
	}

	gw.Cluster.Kill(0)
	checkReads("one backend down")
	data := randBytes(64, 2*mib)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("written-degraded"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put with one backend of six down: %v", err)
	}
	objs["written-degraded"] = data

	gw.Cluster.Kill(4)
	checkReads("two backends down")
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.PutObject(pctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("refused"), Body: bytes.NewReader(randBytes(65, 100_000))}, noRetry)
	wantAPIError(t, "put with two backends of six down", err, "ServiceUnavailable", http.StatusServiceUnavailable)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the refused put took %v", d)
	}
	// An upload record holds no data (zstor keeps empty objects without
	// shards), so creating an upload may work; its parts may not.
	if mp, err := c.CreateMultipartUpload(pctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("refused-mp")}, noRetry); err != nil {
		wantAPIError(t, "create multipart upload with two backends of six down", err, "ServiceUnavailable", http.StatusServiceUnavailable)
	} else {
		_, err = c.UploadPart(pctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("refused-mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(data)}, noRetry)
		wantAPIError(t, "upload part with two backends of six down", err, "ServiceUnavailable", http.StatusServiceUnavailable)
	}
	_, err = c.CopyObject(pctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("refused-copy"), CopySource: aws.String(bucket + "/small")}, noRetry)
	wantAPIError(t, "copy with two backends of six down", err, "ServiceUnavailable", http.StatusServiceUnavailable)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("refused")}); errStatus(err) != http.StatusNotFound {
		t.Errorf("the refused put left an object: %v", err)
	}
	// Still serving after the failures.
	checkReads("after refused writes")
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Errorf("head bucket: %v", err)
	}

	// One back: writes work again.
	gw.Cluster.Restart(4)
	var perr error
	for range 20 {
		if _, perr = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("after-restart"), Body: bytes.NewReader(data)}); perr == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if perr != nil {
		t.Errorf("put after a backend came back: %v", perr)
	}
}

// TestMultipartCleanup checks Server.Clean: abandoned uploads go after
// UploadExpiry; a completed upload's parts stay while its object uses
// them and go (after the grace for reads in flight) once it is deleted
// or replaced.
func TestMultipartCleanup(t *testing.T) {
	gw := startGateway(t, gatewayOptions{UploadExpiry: time.Second})
	c := sdkClient(gw.Endpoint)
	ctx := t.Context()
	const bucket = "cleanup"
	mustCreateBucket(t, c, bucket)
	parts := func(id *string) int { return countKeys(t, gw, ".s3/p/"+aws.ToString(id)+"/") }
	record := func(id *string) int { return countKeys(t, gw, ".s3/u/"+bucket+"/"+aws.ToString(id)) }
	clean := func(now time.Time) {
		t.Helper()
		if _, err := gw.Server.Clean(ctx, now); err != nil {
			t.Fatalf("clean: %v", err)
		}
	}

	// Abandoned: gone after UploadExpiry.
	ab, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("abandoned")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("abandoned"), UploadId: ab.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("abandoned part")}); err != nil {
		t.Fatal(err)
	}
	if p, r := parts(ab.UploadId), record(ab.UploadId); p != 1 || r != 1 {
		t.Fatalf("new upload: %d parts, %d records; want 1, 1", p, r)
	}
	time.Sleep(1500 * time.Millisecond)
	clean(time.Now().Add(time.Minute))
	if p, r := parts(ab.UploadId), record(ab.UploadId); p != 0 || r != 0 {
		t.Errorf("abandoned upload after clean: %d parts, %d records; want none", p, r)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(lu.Uploads) != 0 {
		t.Errorf("uploads after clean: %v %+v", err, lu.Uploads)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("abandoned"), UploadId: ab.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("late")}, noRetry)
	wantAPIError(t, "part of a cleaned upload", err, "NoSuchUpload", http.StatusNotFound)

	// complete uploads parts and completes them at key; the background
	// cleaner (every second here) may drop an upload that took over a
	// second on a busy machine: then it tries again.
	complete := func(key string, data ...[]byte) *string {
		t.Helper()
		for attempt := 0; ; attempt++ {
			cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			var done []types.CompletedPart
			for i, p := range data {
				var up *s3.UploadPartOutput
				up, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cu.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)}, noRetry)
				if err != nil {
					break
				}
				done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
			}
			if err == nil {
				_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cu.UploadId,
					MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}, noRetry)
			}
			if err == nil {
				return cu.UploadId
			}
			if errCode(err) != "NoSuchUpload" || attempt == 4 {
				t.Fatalf("multipart upload to %s: %v", key, err)
			}
		}
	}
	p1, p2 := randBytes(90, 5*mib), randBytes(91, 10)
	id := complete("kept", p1, p2)
	whole := append(append([]byte{}, p1...), p2...)
	if n := parts(id); n != 2 {
		t.Fatalf("completed upload: %d parts; want 2", n)
	}
	// However far in the future, its parts stay while the object uses
	// them.
	for _, later := range []time.Duration{time.Minute, time.Hour, 30 * 24 * time.Hour} {
		clean(time.Now().Add(later))
		if n := parts(id); n != 2 {
			t.Errorf("clean at now+%v dropped parts of a live multipart object: %d left", later, n)
		}
	}
	if got := mustGet(t, c, bucket, "kept"); !bytes.Equal(got, whole) {
		t.Errorf("multipart object after cleans: %d bytes differ", len(got))
	}

	// Deleted: the parts stay for the grace (reads in flight), then go.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	clean(time.Now().Add(time.Second))
	if n := parts(id); n != 2 {
		t.Errorf("parts of a just deleted object: %d; want them kept for the grace", n)
	}
	clean(time.Now().Add(24 * time.Hour))
	if p, r := parts(id), record(id); p != 0 || r != 0 {
		t.Errorf("deleted multipart object after clean: %d parts, %d records; want none", p, r)
	}

	// Replaced by a plain object, and by another multipart upload.
	a := complete("replaced", p2)
	mustPut(t, c, bucket, "replaced", []byte("plain"))
	b := complete("replaced-mp", p2)
	c2 := complete("replaced-mp", p1, p2)
	clean(time.Now().Add(24 * time.Hour))
	if n := parts(a); n != 0 {
		t.Errorf("upload replaced by a plain object: %d parts left", n)
	}
	if n := parts(b); n != 0 {
		t.Errorf("upload replaced by another upload: %d parts left", n)
	}
	if n := parts(c2); n != 2 {
		t.Errorf("the replacing upload: %d parts; want 2", n)
	}
	if got := mustGet(t, c, bucket, "replaced"); string(got) != "plain" {
		t.Errorf("replaced: %q", got)
	}
	if got := mustGet(t, c, bucket, "replaced-mp"); !bytes.Equal(got, whole) {
		t.Errorf("replaced-mp: %d bytes differ", len(got))
	}

	// Deleting the bucket takes its uploads in progress.
	if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("replaced")}, {Key: aws.String("replaced-mp")}}}}); err != nil {
		t.Fatal(err)
	}
	open, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("open")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("open"), UploadId: open.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")}); err != nil && errCode(err) != "NoSuchUpload" {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("delete bucket with an upload in progress: %v", err)
	}
	if p, r := parts(open.UploadId), record(open.UploadId); p != 0 || r != 0 {
		t.Errorf("upload of a deleted bucket: %d parts, %d records", p, r)
	}
	clean(time.Now().Add(24 * time.Hour))
	if n := countKeys(t, gw, ".s3/p/"); n != 0 {
		t.Errorf("after everything was deleted and cleaned, %d parts remain", n)
	}
	if n := countKeys(t, gw, ".s3/u/"); n != 0 {
		t.Errorf("after everything was deleted and cleaned, %d upload records remain", n)
	}
}
