package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

var emptyHash = sha256Hex(nil)

// Keys whose path encoding trips naive implementations.
var testKeys = []string{
	"plain.txt",
	"dir/sub/obj",
	"with space",
	"a+b",
	"eq=sign&amp",
	"unicodé/日本語",
	"tilde~-_.",
	"sub!$'()*,;:@delims",
	"percent%20literal",
	"hash#q?mark",
	"double//slash",
	"./dot/../seg",
	"encoded%2Fslash",
	"trailing/",
}

func TestHeaderAuth(t *testing.T) {
	body := []byte("hello, world")
	for _, key := range testKeys {
		for _, q := range []url.Values{
			nil,
			{"uploads": {""}},
			{"list-type": {"2"}, "prefix": {"a b+c/é"}, "delimiter": {"/"}},
			{"partNumber": {"3"}, "uploadId": {"x~y=z&w"}, "z": {"2", "1"}},
		} {
			r := clientRequest(t, http.MethodPut, key, q, body)
			r.Header.Set("X-Amz-Meta-Note", "  spaced   value  ")
			r.Header.Set("Content-Type", "text/plain")
			sign(t, r, sha256Hex(body), testNow, testCreds, testRegion)
			sr := toServer(t, r)
			res, err := newVerifier().Verify(sr)
			if err != nil {
				t.Fatalf("key %q query %v: %v", key, q, err)
			}
			if res.AccessKey != testAccessKey || res.Anonymous {
				t.Fatalf("result %+v", res)
			}
			got, err := io.ReadAll(sr.Body)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("key %q: body %q, %v", key, got, err)
			}
		}
	}
}

func TestHeaderAuthGETAndHEAD(t *testing.T) {
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodDelete} {
		r := clientRequest(t, m, "obj", nil, nil)
		r.Header.Set("Range", "bytes=0-9")
		sign(t, r, emptyHash, testNow, testCreds, testRegion)
		sr := toServer(t, r)
		if _, err := newVerifier().Verify(sr); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if _, err := io.ReadAll(sr.Body); err != nil {
			t.Fatalf("%s: body: %v", m, err)
		}
	}
}

// The example of the S3 documentation ("Example: GET Object"), with its
// published signature.
func TestAWSDocumentationExample(t *testing.T) {
	raw := "GET /test.txt HTTP/1.1\r\n" +
		"Host: examplebucket.s3.amazonaws.com\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41\r\n" +
		"Range: bytes=0-9\r\n" +
		"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n" +
		"x-amz-date: 20130524T000000Z\r\n\r\n"
	v := &Verifier{
		Lookup: func(string) (string, bool) { return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true },
		Now:    func() time.Time { return time.Date(2013, 5, 24, 0, 5, 0, 0, time.UTC) },
	}
	r := readRaw(t, raw)
	if res, err := v.Verify(r); err != nil || res.AccessKey != "AKIAIOSFODNN7EXAMPLE" {
		t.Fatalf("%+v %v", res, err)
	}

	// And its presigned example.
	raw = "GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 HTTP/1.1\r\n" +
		"Host: examplebucket.s3.amazonaws.com\r\n\r\n"
	if _, err := v.Verify(readRaw(t, raw)); err != nil {
		t.Fatal(err)
	}
}

func readRaw(t testing.TB, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufioReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHeaderAuthErrors(t *testing.T) {
	body := []byte("payload")
	otherRegion := testRegion + "x"
	tests := []struct {
		name   string
		v      func(*Verifier)
		at     time.Time
		creds  aws.Credentials
		region string
		before func(*http.Request) // before signing
		after  func(*http.Request) // after signing, as the server got it
		code   string
		status int
	}{
		{name: "ok"},
		{name: "wrong secret", creds: aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: "nope"}, code: "SignatureDoesNotMatch", status: 403},
		{name: "unknown key", creds: aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}, code: "InvalidAccessKeyId", status: 403},
		{name: "nil lookup", v: func(v *Verifier) { v.Lookup = nil }, code: "InvalidAccessKeyId"},
		{name: "skew past", at: testNow.Add(-16 * time.Minute), code: "RequestTimeTooSkewed", status: 403},
		{name: "skew future", at: testNow.Add(16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "within skew", at: testNow.Add(-14 * time.Minute)},
		{name: "custom skew", at: testNow.Add(-2 * time.Minute), v: func(v *Verifier) { v.MaxSkew = time.Minute }, code: "RequestTimeTooSkewed"},
		{name: "wrong region", region: otherRegion, code: "AuthorizationHeaderMalformed", status: 400},
		{name: "any region", region: otherRegion, v: func(v *Verifier) { v.Region = "" }},
		{name: "wrong service", v: func(v *Verifier) { v.Service = "iam" }, code: "AuthorizationHeaderMalformed"},
		{name: "tampered signed header", after: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Note", "evil") }, code: "SignatureDoesNotMatch"},
		{name: "tampered query", after: func(r *http.Request) { r.URL.RawQuery = "versionId=2" }, code: "SignatureDoesNotMatch"},
		{name: "added query", after: func(r *http.Request) { r.URL.RawQuery += "&acl" }, code: "SignatureDoesNotMatch"},
		{name: "tampered path", after: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bucket/other", "" }, code: "SignatureDoesNotMatch"},
		{name: "tampered method", after: func(r *http.Request) { r.Method = http.MethodDelete }, code: "SignatureDoesNotMatch"},
		{name: "tampered host", after: func(r *http.Request) { r.Host = "elsewhere:9000" }, code: "SignatureDoesNotMatch"},
		{name: "tampered date", after: func(r *http.Request) { r.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format(iso8601)) }, code: "SignatureDoesNotMatch"},
		{name: "tampered payload hash", after: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", unsignedPayload) }, code: "SignatureDoesNotMatch"},
		{name: "unsigned header added", after: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Other", "fine for header auth") }},
		{name: "missing content sha256", after: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, code: "InvalidRequest", status: 400},
		{name: "bad content sha256", after: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "abc") }, code: "InvalidArgument", status: 400},
		{name: "missing date", after: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, code: "AccessDenied"},
		{name: "bad date", after: func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }, code: "AccessDenied"},
		{name: "scope date differs", after: func(r *http.Request) {
			r.Header.Set("X-Amz-Date", testNow.Add(-24*time.Hour).Format(iso8601))
		}, code: "AuthorizationHeaderMalformed"},
		{name: "v2", after: func(r *http.Request) { r.Header.Set("Authorization", "AWS AKIDEXAMPLE:c2lnbmF0dXJl") }, code: "AccessDenied", status: 403},
		{name: "sigv4a", after: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), algorithm, "AWS4-ECDSA-P256-SHA256", 1))
		}, code: "NotImplemented"},
		{name: "garbage", after: func(r *http.Request) { r.Header.Set("Authorization", "Bearer xyz") }, code: "InvalidArgument"},
		{name: "two mechanisms", after: func(r *http.Request) { r.URL.RawQuery = "X-Amz-Signature=00" }, code: "InvalidArgument"},
		{name: "two authorization headers", after: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, code: "AuthorizationHeaderMalformed"},
		{name: "short signature", after: func(r *http.Request) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-2])
		}, code: "SignatureDoesNotMatch"},
		{name: "upper-case signature", after: func(r *http.Request) {
			h := r.Header.Get("Authorization")
			i := strings.LastIndex(h, "=") + 1
			r.Header.Set("Authorization", h[:i]+strings.ToUpper(h[i:]))
		}},
		{name: "components reordered without spaces", after: func(r *http.Request) {
			p, _ := parseAuthorization(r.Header.Get("Authorization"))
			r.Header.Set("Authorization", algorithm+" Signature="+hexSignature(p.signature)+",SignedHeaders="+strings.Join(p.signedHeaders, ";")+",Credential="+testAccessKey+"/"+p.cred.scope())
		}},
		{name: "host not signed", after: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
		}, code: "AuthorizationHeaderMalformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, creds, region := tt.at, tt.creds, tt.region
			if at.IsZero() {
				at = testNow
			}
			if creds.AccessKeyID == "" {
				creds = testCreds
			}
			if region == "" {
				region = testRegion
			}
			r := clientRequest(t, http.MethodPut, "some key+x", url.Values{"partNumber": {"1"}, "uploadId": {"u p"}}, body)
			r.Header.Set("X-Amz-Meta-Note", "note")
			if tt.before != nil {
				tt.before(r)
			}
			sign(t, r, sha256Hex(body), at, creds, region)
			sr := toServer(t, r)
			if tt.after != nil {
				tt.after(sr)
			}
			v := newVerifier()
			if tt.v != nil {
				tt.v(v)
			}
			_, err := v.Verify(sr)
			if got := s3Code(err); got != tt.code {
				t.Fatalf("got %q (%v), want %q", got, err, tt.code)
			}
			if err != nil && tt.status != 0 && err.(*Error).Status != tt.status {
				t.Fatalf("status %d, want %d", err.(*Error).Status, tt.status)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Fatal("secret in error message")
			}
		})
	}
}

func TestWrongRegionMessage(t *testing.T) {
	r := clientRequest(t, http.MethodGet, "k", nil, nil)
	sign(t, r, emptyHash, testNow, testCreds, "eu-west-1")
	_, err := newVerifier().Verify(toServer(t, r))
	if s3Code(err) != "AuthorizationHeaderMalformed" || !strings.Contains(err.Error(), "'eu-west-1' is wrong; expecting 'us-east-1'") {
		t.Fatal(err)
	}
}

func TestPayloadHash(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10000)
	tests := []struct {
		name    string
		payload string
		send    []byte
		code    string // at the end of the body
	}{
		{"match", sha256Hex(body), body, ""},
		{"upper-case hex", strings.ToUpper(sha256Hex(body)), body, ""},
		{"mismatch", sha256Hex(body), append(append([]byte{}, body[:len(body)-1]...), 'x'), "XAmzContentSHA256Mismatch"},
		{"unsigned", unsignedPayload, []byte("anything"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clientRequest(t, http.MethodPut, "obj", nil, tt.send)
			sign(t, r, tt.payload, testNow, testCreds, testRegion)
			sr := toServer(t, r)
			if _, err := newVerifier().Verify(sr); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(sr.Body)
			if s3Code(err) != tt.code {
				t.Fatalf("got %v, want %q", err, tt.code)
			}
			if !bytes.Equal(got, tt.send) {
				t.Fatal("body changed")
			}
			// The error sticks.
			if _, err2 := sr.Body.Read(make([]byte, 1)); tt.code != "" && s3Code(err2) != tt.code {
				t.Fatalf("second read: %v", err2)
			}
			if err := sr.Body.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPresigned(t *testing.T) {
	for _, key := range testKeys {
		r := clientRequest(t, http.MethodGet, key, url.Values{"response-content-type": {"text/plain; charset=utf-8"}}, nil)
		u, _ := presign(t, r, testNow.Add(-time.Hour), 2*time.Hour)
		sr := toServer(t, mustRequest(t, http.MethodGet, u, nil))
		res, err := newVerifier().Verify(sr)
		if err != nil || res.AccessKey != testAccessKey {
			t.Fatalf("key %q: %v (%s)", key, err, u)
		}
	}
}

func TestPresignedPut(t *testing.T) {
	r := clientRequest(t, http.MethodPut, "up load", nil, nil)
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Header.Set("X-Amz-Meta-Owner", "me")
	u, h := presign(t, r, testNow, time.Hour)
	body := []byte("data")
	send := func(extra http.Header) error {
		pr := mustRequest(t, http.MethodPut, u, body)
		for k, vs := range h {
			if !strings.EqualFold(k, "Host") {
				pr.Header[k] = vs
			}
		}
		for k, vs := range extra {
			pr.Header[k] = vs
		}
		sr := toServer(t, pr)
		if _, err := newVerifier().Verify(sr); err != nil {
			return err
		}
		got, err := io.ReadAll(sr.Body)
		if err == nil && !bytes.Equal(got, body) {
			t.Fatal("body changed")
		}
		return err
	}
	if err := send(nil); err != nil {
		t.Fatal(err)
	}
	if err := send(http.Header{"X-Amz-Acl": {"public-read"}}); s3Code(err) != "AccessDenied" {
		t.Fatalf("unsigned x-amz-acl: %v", err)
	}
	if err := send(http.Header{"Content-Type": {"text/html"}}); s3Code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("changed content-type: %v", err)
	}
	// A payload hash in a header binds the body, when the URL was signed
	// with it; otherwise the signature does not match.
	if err := send(http.Header{"X-Amz-Content-Sha256": {sha256Hex(body)}}); s3Code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("payload header: %v", err)
	}
}

func TestPresignedErrors(t *testing.T) {
	r := clientRequest(t, http.MethodGet, "obj", nil, nil)
	u, _ := presign(t, r, testNow.Add(-10*time.Minute), time.Hour)
	edit := func(f func(q url.Values)) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			f(q)
			r.URL.RawQuery = q.Encode()
		}
	}
	tests := []struct {
		name string
		now  time.Time
		edit func(*http.Request)
		code string
	}{
		{name: "ok"},
		{name: "just before expiry", now: testNow.Add(50 * time.Minute)},
		{name: "expired", now: testNow.Add(51 * time.Minute), code: "AccessDenied"},
		{name: "not yet valid", now: testNow.Add(-30 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "tampered expires", edit: edit(func(q url.Values) { q.Set("X-Amz-Expires", "7200") }), code: "SignatureDoesNotMatch"},
		{name: "added param", edit: edit(func(q url.Values) { q.Set("versionId", "1") }), code: "SignatureDoesNotMatch"},
		{name: "tampered path", edit: func(r *http.Request) { r.URL.Path = "/bucket/obj2" }, code: "SignatureDoesNotMatch"},
		{name: "expires zero", edit: edit(func(q url.Values) { q.Set("X-Amz-Expires", "0") }), code: "AuthorizationQueryParametersError"},
		{name: "expires negative", edit: edit(func(q url.Values) { q.Set("X-Amz-Expires", "-1") }), code: "AuthorizationQueryParametersError"},
		{name: "expires too long", edit: edit(func(q url.Values) { q.Set("X-Amz-Expires", "604801") }), code: "AuthorizationQueryParametersError"},
		{name: "expires huge", edit: edit(func(q url.Values) { q.Set("X-Amz-Expires", "99999999999999999999999") }), code: "AuthorizationQueryParametersError"},
		{name: "expires not a number", edit: edit(func(q url.Values) { q.Set("X-Amz-Expires", "soon") }), code: "AuthorizationQueryParametersError"},
		{name: "missing signed headers", edit: edit(func(q url.Values) { q.Del("X-Amz-SignedHeaders") }), code: "AuthorizationQueryParametersError"},
		{name: "bad algorithm", edit: edit(func(q url.Values) { q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA1") }), code: "AuthorizationQueryParametersError"},
		{name: "bad date", edit: edit(func(q url.Values) { q.Set("X-Amz-Date", "2025-03-14") }), code: "AuthorizationQueryParametersError"},
		{name: "repeated signature", edit: edit(func(q url.Values) { q.Add("X-Amz-Signature", q.Get("X-Amz-Signature")) }), code: "AuthorizationQueryParametersError"},
		{name: "wrong region", edit: edit(func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), testRegion, "eu-west-1", 1))
		}), code: "AuthorizationQueryParametersError"},
		{name: "unknown key", edit: edit(func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), testAccessKey, "AKIDOTHER", 1))
		}), code: "InvalidAccessKeyId"},
		{name: "with authorization header", edit: func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") }, code: "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := toServer(t, mustRequest(t, http.MethodGet, u, nil))
			if tt.edit != nil {
				tt.edit(sr)
			}
			v := newVerifier()
			if !tt.now.IsZero() {
				v.Now = func() time.Time { return tt.now }
			}
			_, err := v.Verify(sr)
			if got := s3Code(err); got != tt.code {
				t.Fatalf("got %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func TestAnonymous(t *testing.T) {
	r := toServer(t, clientRequest(t, http.MethodGet, "obj", url.Values{"list-type": {"2"}}, nil))
	res, err := newVerifier().Verify(r)
	if err != nil || !res.Anonymous || res.AccessKey != "" {
		t.Fatalf("%+v %v", res, err)
	}

	// Signature Version 2 presigned URLs are refused, not taken as
	// anonymous.
	r = toServer(t, clientRequest(t, http.MethodGet, "obj", url.Values{"AWSAccessKeyId": {"AK"}, "Expires": {"1"}, "Signature": {"x"}}, nil))
	if _, err := newVerifier().Verify(r); s3Code(err) != "AccessDenied" || !strings.Contains(err.Error(), "Signature Version 2") {
		t.Fatal(err)
	}

	// An anonymous body is still checked against its hash.
	r = clientRequest(t, http.MethodPut, "obj", nil, []byte("abc"))
	r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("abd")))
	r = toServer(t, r)
	if _, err := newVerifier().Verify(r); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r.Body); s3Code(err) != "XAmzContentSHA256Mismatch" {
		t.Fatal(err)
	}
}

func TestSigningKeyCache(t *testing.T) {
	v := newVerifier()
	for i := 0; i < keyCacheSize+10; i++ {
		k1 := v.keys.get(testSecret, "20250314", formatRegion(i), "s3")
		if !bytes.Equal(k1, testSigningKey(testSecret, "20250314", formatRegion(i))) {
			t.Fatal("wrong key")
		}
	}
	if n := len(v.keys.m); n > keyCacheSize {
		t.Fatalf("cache holds %d keys", n)
	}
}

func formatRegion(i int) string { return "region-" + strconv.Itoa(i) }

func mustRequest(t testing.TB, method, u string, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		r.Body = http.NoBody
	}
	return r
}

func TestConcurrentVerify(t *testing.T) {
	v := newVerifier()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				r := clientRequest(t, http.MethodGet, "k", nil, nil)
				sign(t, r, emptyHash, testNow.Add(-time.Duration(i)*time.Second), testCreds, testRegion)
				if _, err := v.Verify(toServer(t, r)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
