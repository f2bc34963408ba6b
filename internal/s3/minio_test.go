package s3_test

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// minioClient is a minio-go client of the gateway; trailing lets it send
// checksums as aws-chunked trailers.
func minioClient(t testing.TB, gw *gateway, rt http.RoundTripper, trailing bool) *minio.Client {
	t.Helper()
	mc, err := minio.New(gw.Addr, &minio.Options{
		Creds:           credentials.NewStaticV4(testAccess, testSecret, ""),
		Secure:          false,
		Region:          testRegion,
		Transport:       rt,
		TrailingHeaders: trailing,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// payloadRecorder notes the x-amz-content-sha256 modes of the requests
// it carries.
type payloadRecorder struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (p *payloadRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	v := r.Header.Get("X-Amz-Content-Sha256")
	if len(v) == 64 {
		v = "<sha256>"
	}
	p.mu.Lock()
	p.seen[v] = true
	p.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// minioCode is the S3 error code and status of a minio-go error.
func minioCode(err error) (string, int) {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code, er.StatusCode
	}
	return "", 0
}

func wantMinioError(t testing.TB, what string, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded; want %s", what, code)
		return
	}
	if c, st := minioCode(err); c != code || st != status {
		t.Errorf("%s: %q %d; want %q %d (%v)", what, c, st, code, status, err)
	}
}

// TestMinio runs minio-go against the gateway: it signs its uploads
// chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, with trailing
// checksums) over plain HTTP.
func TestMinio(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	rec := &payloadRecorder{seen: map[string]bool{}}
	mc := minioClient(t, gw, rec, false)
	defer func() {
		// minio-go streams uploads with signed chunks over plain HTTP.
		if !rec.seen["STREAMING-AWS4-HMAC-SHA256-PAYLOAD"] && !rec.seen["STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"] {
			t.Errorf("minio-go sent no streaming signed payload: %v", rec.seen)
		}
		t.Logf("payload modes: %v", rec.seen)
	}()
	ctx := t.Context()
	const bucket = "minio-test"
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	if ok, err := mc.BucketExists(ctx, bucket); err != nil || !ok {
		t.Fatalf("bucket exists: %v %v", ok, err)
	}
	if ok, err := mc.BucketExists(ctx, "minio-none"); err != nil || ok {
		t.Errorf("missing bucket exists: %v %v", ok, err)
	}
	err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: testRegion})
	wantMinioError(t, "make bucket twice", err, "BucketAlreadyOwnedByYou", http.StatusConflict)

	get := func(t *testing.T, key string, opts minio.GetObjectOptions) ([]byte, error) {
		t.Helper()
		obj, err := mc.GetObject(ctx, bucket, key, opts)
		if err != nil {
			return nil, err
		}
		defer obj.Close()
		return io.ReadAll(obj)
	}

	t.Run("PutStreamUnknownSize", func(t *testing.T) {
		const size = 20*mib + 777
		sum := md5.New()
		stream := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{80}), size), sum)
		info, err := mc.PutObject(ctx, bucket, "stream/unknown", nonSeeker{stream}, -1, minio.PutObjectOptions{
			PartSize: 5 * mib, ContentType: "application/x-minio-stream",
			UserMetadata: map[string]string{"origin": "stream"},
		})
		if err != nil {
			t.Fatalf("put of unknown size: %v", err)
		}
		if info.Size != size || !strings.HasSuffix(info.ETag, "-5") {
			t.Errorf("put of unknown size: size %d ETag %s; want %d and 5 parts", info.Size, info.ETag, size)
		}
		st, err := mc.StatObject(ctx, bucket, "stream/unknown", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Size != size || st.ContentType != "application/x-minio-stream" || st.UserMetadata["Origin"] != "stream" || st.ETag != info.ETag {
			t.Errorf("stat: size %d type %q metadata %v ETag %s", st.Size, st.ContentType, st.UserMetadata, st.ETag)
		}
		got, err := get(t, "stream/unknown", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if g := md5.Sum(got); len(got) != size || !bytes.Equal(g[:], sum.Sum(nil)) {
			t.Errorf("get: %d bytes, MD5 %x; want %d bytes, MD5 %x", len(got), g, size, sum.Sum(nil))
		}
	})

	small := randBytes(81, 3*mib+5)
	t.Run("PutKnownSize", func(t *testing.T) {
		info, err := mc.PutObject(ctx, bucket, "known/small", bytes.NewReader(small), int64(len(small)), minio.PutObjectOptions{
			ContentType: "text/x-known", UserMetadata: map[string]string{"Color": "green", "x-amz-meta-shape": "round"},
		})
		if err != nil {
			t.Fatalf("put of known size: %v", err)
		}
		if info.ETag != md5hex(small) {
			t.Errorf("put: ETag %s; want %s", info.ETag, md5hex(small))
		}
		// Known size over the part size: a parallel multipart upload.
		big := randBytes(82, 12*mib)
		info, err = mc.PutObject(ctx, bucket, "known/big", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{PartSize: 5 * mib, NumThreads: 3})
		if err != nil {
			t.Fatalf("multipart put of known size: %v", err)
		}
		if want := strings.Trim(multipartETag(big[:5*mib], big[5*mib:10*mib], big[10*mib:]), `"`); info.ETag != want {
			t.Errorf("multipart put: ETag %s; want %s", info.ETag, want)
		}
		if got, err := get(t, "known/big", minio.GetObjectOptions{}); err != nil || !bytes.Equal(got, big) {
			t.Errorf("get multipart: %v, %d bytes", err, len(got))
		}
		// Content-MD5 instead of SHA-256.
		if _, err := mc.PutObject(ctx, bucket, "known/md5", bytes.NewReader(small[:1000]), 1000, minio.PutObjectOptions{SendContentMd5: true}); err != nil {
			t.Errorf("put with Content-MD5: %v", err)
		}
		// Empty.
		if _, err := mc.PutObject(ctx, bucket, "known/empty", bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
			t.Errorf("put of an empty object: %v", err)
		}
		if got, err := get(t, "known/empty", minio.GetObjectOptions{}); err != nil || len(got) != 0 {
			t.Errorf("get empty: %v %d bytes", err, len(got))
		}
	})

	t.Run("PutTrailingChecksums", func(t *testing.T) {
		mc := minioClient(t, gw, rec, true)
		data := randBytes(84, 300_000)
		for _, ct := range []minio.ChecksumType{minio.ChecksumCRC32, minio.ChecksumCRC32C, minio.ChecksumCRC64NVME, minio.ChecksumSHA1, minio.ChecksumSHA256} {
			key := "trailer/" + ct.String()
			if _, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{Checksum: ct, DisableMultipart: true}); err != nil {
				t.Errorf("put with a %s trailer: %v", ct, err)
				continue
			}
			if got, err := get(t, key, minio.GetObjectOptions{}); err != nil || !bytes.Equal(got, data) {
				t.Errorf("get of a put with a %s trailer: %v", ct, err)
			}
		}
		// And a stream of unknown length in parts with trailers.
		stream := nonSeeker{bytes.NewReader(randBytes(85, 6*mib))}
		if _, err := mc.PutObject(ctx, bucket, "trailer/stream", stream, -1, minio.PutObjectOptions{PartSize: 5 * mib, Checksum: minio.ChecksumCRC32C}); err != nil {
			t.Errorf("multipart put with trailers: %v", err)
		}
		if got, err := get(t, "trailer/stream", minio.GetObjectOptions{}); err != nil || !bytes.Equal(got, randBytes(85, 6*mib)) {
			t.Errorf("get of a multipart put with trailers: %v", err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if !rec.seen["STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"] {
			t.Errorf("minio-go sent no signed payload with trailer: %v", rec.seen)
		}
	})

	t.Run("StatMetadata", func(t *testing.T) {
		st, err := mc.StatObject(ctx, bucket, "known/small", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Size != int64(len(small)) || st.ETag != md5hex(small) || st.ContentType != "text/x-known" {
			t.Errorf("stat: size %d ETag %s type %q", st.Size, st.ETag, st.ContentType)
		}
		if st.UserMetadata["Color"] != "green" || st.UserMetadata["Shape"] != "round" {
			t.Errorf("stat: user metadata %v; want Color=green Shape=round", st.UserMetadata)
		}
		if time.Since(st.LastModified) > time.Minute {
			t.Errorf("stat: last modified %v", st.LastModified)
		}
		_, err = mc.StatObject(ctx, bucket, "missing", minio.StatObjectOptions{})
		if _, status := minioCode(err); status != http.StatusNotFound {
			t.Errorf("stat missing: %v; want 404", err)
		}
	})

	t.Run("GetRange", func(t *testing.T) {
		for _, r := range [][2]int64{{0, 0}, {0, 99}, {1000, 2*mib + 17}, {int64(len(small)) - 10, int64(len(small)) - 1}, {3 * mib, 0}} {
			var opts minio.GetObjectOptions
			if err := opts.SetRange(r[0], r[1]); err != nil {
				t.Fatal(err)
			}
			got, err := get(t, "known/small", opts)
			if err != nil {
				t.Errorf("range %v: %v", r, err)
				continue
			}
			end := r[1]
			if end == 0 && r[0] > 0 {
				end = int64(len(small)) - 1 // SetRange(n, 0): from n to the end
			}
			if !bytes.Equal(got, small[r[0]:end+1]) {
				t.Errorf("range %v: %d bytes differ", r, len(got))
			}
		}
		var opts minio.GetObjectOptions
		if err := opts.SetRange(0, -100); err != nil { // the last 100 bytes
			t.Fatal(err)
		}
		got, err := get(t, "known/small", opts)
		if err != nil || !bytes.Equal(got, small[len(small)-100:]) {
			t.Errorf("suffix range: %v, %d bytes", err, len(got))
		}
		// ReadAt / Seek on the object fetch ranges under the hood.
		obj, err := mc.GetObject(ctx, bucket, "stream/unknown", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		buf := make([]byte, 4096)
		whole, err := get(t, "stream/unknown", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{5*mib - 2000, 15 * mib, 20 * mib} {
			n, err := obj.ReadAt(buf, off)
			if err != nil && err != io.EOF {
				t.Errorf("ReadAt %d: %v", off, err)
				continue
			}
			if !bytes.Equal(buf[:n], whole[off:off+int64(n)]) || n != min(4096, len(whole)-int(off)) {
				t.Errorf("ReadAt %d: %d bytes differ", off, n)
			}
		}
		opts = minio.GetObjectOptions{}
		opts.SetRange(int64(len(small))+10, 0)
		_, err = get(t, "known/small", opts)
		wantMinioError(t, "range past the end", err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
	})

	t.Run("ListObjects", func(t *testing.T) {
		for _, k := range []string{"tree/a/1", "tree/a/2", "tree/b/1", "tree/c", "tree/d"} {
			if _, err := mc.PutObject(ctx, bucket, k, strings.NewReader(k), int64(len(k)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		list := func(opts minio.ListObjectsOptions) []string {
			var out []string
			for o := range mc.ListObjects(ctx, bucket, opts) {
				if o.Err != nil {
					t.Fatalf("list %+v: %v", opts, o.Err)
				}
				out = append(out, o.Key)
			}
			slices.Sort(out) // minio-go gives a page's keys, then its prefixes
			return out
		}
		for _, tc := range []struct {
			name string
			opts minio.ListObjectsOptions
			want []string
		}{
			{"recursive", minio.ListObjectsOptions{Prefix: "tree/", Recursive: true}, []string{"tree/a/1", "tree/a/2", "tree/b/1", "tree/c", "tree/d"}},
			{"recursive small pages", minio.ListObjectsOptions{Prefix: "tree/", Recursive: true, MaxKeys: 2}, []string{"tree/a/1", "tree/a/2", "tree/b/1", "tree/c", "tree/d"}},
			{"not recursive", minio.ListObjectsOptions{Prefix: "tree/"}, []string{"tree/a/", "tree/b/", "tree/c", "tree/d"}},
			{"not recursive small pages", minio.ListObjectsOptions{Prefix: "tree/", MaxKeys: 1}, []string{"tree/a/", "tree/b/", "tree/c", "tree/d"}},
			{"not recursive V1", minio.ListObjectsOptions{Prefix: "tree/", UseV1: true, MaxKeys: 1}, []string{"tree/a/", "tree/b/", "tree/c", "tree/d"}},
			{"top level", minio.ListObjectsOptions{}, []string{"known/", "stream/", "trailer/", "tree/"}},
			{"V1", minio.ListObjectsOptions{Prefix: "tree/", Recursive: true, UseV1: true, MaxKeys: 2}, []string{"tree/a/1", "tree/a/2", "tree/b/1", "tree/c", "tree/d"}},
			{"start after", minio.ListObjectsOptions{Prefix: "tree/", Recursive: true, StartAfter: "tree/b"}, []string{"tree/b/1", "tree/c", "tree/d"}},
		} {
			if got := list(tc.opts); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
			}
		}
	})

	t.Run("CopyObject", func(t *testing.T) {
		info, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: "copies/same-meta"}, minio.CopySrcOptions{Bucket: bucket, Object: "known/small"})
		if err != nil {
			t.Fatalf("copy: %v", err)
		}
		if info.ETag != md5hex(small) {
			t.Errorf("copy: ETag %s", info.ETag)
		}
		st, err := mc.StatObject(ctx, bucket, "copies/same-meta", minio.StatObjectOptions{})
		if err != nil || st.UserMetadata["Color"] != "green" || st.ContentType != "text/x-known" {
			t.Errorf("copy kept metadata: %v %v %q", err, st.UserMetadata, st.ContentType)
		}
		if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: "copies/new-meta", ReplaceMetadata: true, UserMetadata: map[string]string{"Color": "red"}},
			minio.CopySrcOptions{Bucket: bucket, Object: "known/small", MatchETag: md5hex(small)}); err != nil {
			t.Fatalf("copy replacing metadata: %v", err)
		}
		st, err = mc.StatObject(ctx, bucket, "copies/new-meta", minio.StatObjectOptions{})
		if err != nil || st.UserMetadata["Color"] != "red" || st.UserMetadata["Shape"] != "" {
			t.Errorf("copy replaced metadata: %v %v", err, st.UserMetadata)
		}
		if got, err := get(t, "copies/new-meta", minio.GetObjectOptions{}); err != nil || !bytes.Equal(got, small) {
			t.Errorf("copied content: %v", err)
		}
		_, err = mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: "copies/x"}, minio.CopySrcOptions{Bucket: bucket, Object: "known/small", MatchETag: "0123"})
		wantMinioError(t, "copy if-match miss", err, "PreconditionFailed", http.StatusPreconditionFailed)
		// A multipart source.
		if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: "copies/of-multipart"}, minio.CopySrcOptions{Bucket: bucket, Object: "known/big"}); err != nil {
			t.Fatalf("copy of a multipart object: %v", err)
		}
		a, _ := get(t, "known/big", minio.GetObjectOptions{})
		b, err := get(t, "copies/of-multipart", minio.GetObjectOptions{})
		if err != nil || !bytes.Equal(a, b) || len(a) != 12*mib {
			t.Errorf("copy of a multipart object: %v, %d bytes", err, len(b))
		}
	})

	t.Run("PresignedGet", func(t *testing.T) {
		u, err := mc.PresignedGetObject(ctx, bucket, "known/small", 5*time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
			t.Errorf("presigned GET: %s, %d bytes", resp.Status, len(body))
		}
		// Presigned PUT too.
		pu, err := mc.PresignedPutObject(ctx, bucket, "presigned/put", 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, pu.String(), strings.NewReader("via presigned PUT"))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, err := get(t, "presigned/put", minio.GetObjectOptions{}); resp.StatusCode != http.StatusOK || err != nil || string(got) != "via presigned PUT" {
			t.Errorf("presigned PUT: %s; get: %v %q", resp.Status, err, got)
		}
	})

	t.Run("RemoveObjects", func(t *testing.T) {
		var keys []string
		for i := range 12 {
			k := fmt.Sprintf("remove/%02d", i)
			keys = append(keys, k)
			if _, err := mc.PutObject(ctx, bucket, k, strings.NewReader(k), int64(len(k)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		ch := make(chan minio.ObjectInfo, len(keys)+1)
		for _, k := range keys[:10] {
			ch <- minio.ObjectInfo{Key: k}
		}
		ch <- minio.ObjectInfo{Key: "remove/missing"}
		close(ch)
		for e := range mc.RemoveObjects(ctx, bucket, ch, minio.RemoveObjectsOptions{}) {
			t.Errorf("remove %s: %v", e.ObjectName, e.Err)
		}
		var left []string
		for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "remove/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			left = append(left, o.Key)
		}
		if !slices.Equal(left, keys[10:]) {
			t.Errorf("after RemoveObjects: %v; want %v", left, keys[10:])
		}
		if err := mc.RemoveObject(ctx, bucket, keys[10], minio.RemoveObjectOptions{}); err != nil {
			t.Errorf("remove object: %v", err)
		}
		_, err := mc.StatObject(ctx, bucket, keys[10], minio.StatObjectOptions{})
		if _, st := minioCode(err); st != http.StatusNotFound {
			t.Errorf("stat removed object: %v", err)
		}
	})

	t.Run("IncompleteUploads", func(t *testing.T) {
		core := minio.Core{Client: mc}
		ids := map[string]string{}
		for _, k := range []string{"incomplete/one", "incomplete/deep/two"} {
			id, err := core.NewMultipartUpload(ctx, bucket, k, minio.PutObjectOptions{})
			if err != nil {
				t.Fatalf("new multipart upload: %v", err)
			}
			ids[k] = id
			data := randBytes(83, 1000)
			part, err := core.PutObjectPart(ctx, bucket, k, id, 1, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
			if err != nil {
				t.Fatalf("put part: %v", err)
			}
			if part.ETag != md5hex(data) || part.Size != 1000 {
				t.Errorf("part: %+v", part)
			}
		}
		list := func(prefix string, recursive bool) map[string]string {
			got := map[string]string{}
			for u := range mc.ListIncompleteUploads(ctx, bucket, prefix, recursive) {
				if u.Err != nil {
					t.Fatalf("list incomplete uploads: %v", u.Err)
				}
				got[u.Key] = u.UploadID
			}
			return got
		}
		if got := list("incomplete/", true); len(got) != 2 || got["incomplete/one"] != ids["incomplete/one"] || got["incomplete/deep/two"] != ids["incomplete/deep/two"] {
			t.Errorf("incomplete uploads: %v; want %v", got, ids)
		}
		// Not recursive: deeper uploads roll up into a prefix entry.
		if got := list("incomplete/", false); len(got) != 2 || got["incomplete/one"] != ids["incomplete/one"] || got["incomplete/deep/"] != "" {
			t.Errorf("incomplete uploads, not recursive: %v", got)
		}
		if err := mc.RemoveIncompleteUpload(ctx, bucket, "incomplete/one"); err != nil {
			t.Fatalf("remove incomplete upload: %v", err)
		}
		if got := list("incomplete/", true); len(got) != 1 || got["incomplete/deep/two"] == "" {
			t.Errorf("after removing one: %v", got)
		}
		if n := countKeys(t, gw, ".s3/p/"+ids["incomplete/one"]+"/"); n != 0 {
			t.Errorf("the removed upload left %d parts", n)
		}
		_, err := core.PutObjectPart(ctx, bucket, "incomplete/one", ids["incomplete/one"], 2, strings.NewReader("late"), 4, minio.PutObjectPartOptions{})
		wantMinioError(t, "part of a removed upload", err, "NoSuchUpload", http.StatusNotFound)
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := get(t, "nothing/here", minio.GetObjectOptions{})
		wantMinioError(t, "get missing key", err, "NoSuchKey", http.StatusNotFound)
		_, err = mc.PutObject(ctx, "minio-none", "k", strings.NewReader("x"), 1, minio.PutObjectOptions{})
		wantMinioError(t, "put into a missing bucket", err, "NoSuchBucket", http.StatusNotFound)
		err = mc.RemoveBucket(ctx, bucket)
		wantMinioError(t, "remove a non-empty bucket", err, "BucketNotEmpty", http.StatusConflict)
		bad, err := minio.New(gw.Addr, &minio.Options{Creds: credentials.NewStaticV4(testAccess, "wrong-secret", ""), Region: testRegion})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.PutObject(ctx, bucket, "k", strings.NewReader("x"), 1, minio.PutObjectOptions{})
		wantMinioError(t, "put with a wrong secret", err, "SignatureDoesNotMatch", http.StatusForbidden)
	})
}
