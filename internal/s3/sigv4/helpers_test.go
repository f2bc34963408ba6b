package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// The tests sign with the AWS SDK for Go v2's signer, configured as its S3
// client configures it, so that they check the verifier against an
// independent implementation rather than against itself.

const (
	testAccessKey = "AKIDEXAMPLE"
	testSecret    = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion    = "us-east-1"
	testHost      = "s3.example.test:9000"
)

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func newVerifier() *Verifier {
	return &Verifier{
		Region: testRegion,
		Lookup: func(ak string) (string, bool) {
			if ak == testAccessKey {
				return testSecret, true
			}
			return "", false
		},
		Now: func() time.Time { return testNow },
	}
}

// clientRequest builds a request as the SDK's S3 client does: the key
// escaped with the SigV4 rules in RawPath, the query encoded by
// url.Values.
func clientRequest(t testing.TB, method, key string, query url.Values, body []byte) *http.Request {
	t.Helper()
	path := "/bucket"
	if key != "" {
		path += "/" + key
	}
	u := &url.URL{
		Scheme:   "http",
		Host:     testHost,
		Path:     path,
		RawPath:  httpbinding.EscapePath(path, false),
		RawQuery: query.Encode(),
	}
	r, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.URL.RawPath = u.RawPath
	r.ContentLength = int64(len(body))
	if body == nil {
		r.Body = http.NoBody
	}
	return r
}

func sdkSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) {
		// What the S3 client sets: S3 does not encode the path twice.
		o.DisableURIPathEscaping = true
	})
}

var testCreds = aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}

// sign signs r in its Authorization header, setting x-amz-content-sha256
// to payload first as the S3 client does.
func sign(t testing.TB, r *http.Request, payload string, at time.Time, creds aws.Credentials, region string) {
	t.Helper()
	if payload != "" {
		r.Header.Set("X-Amz-Content-Sha256", payload)
	}
	if err := sdkSigner().SignHTTP(context.Background(), creds, r, payload, "s3", region, at); err != nil {
		t.Fatal(err)
	}
}

// presign returns r's presigned URL and the headers to send with it.
func presign(t testing.TB, r *http.Request, at time.Time, expires time.Duration) (string, http.Header) {
	t.Helper()
	q := r.URL.Query()
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(expires/time.Second), 10))
	r.URL.RawQuery = q.Encode()
	u, h, err := sdkSigner().PresignHTTP(context.Background(), testCreds, r, unsignedPayload, "s3", testRegion, at)
	if err != nil {
		t.Fatal(err)
	}
	return u, h
}

// toServer sends r through the HTTP/1.1 wire format and reads it back as
// net/http's server would, so that the verifier sees what a handler sees
// (RawPath and Host as the server sets them, the Content-Length header).
func toServer(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("read request: %v\n%s", err, buf.String())
	}
	return sr
}

// s3Code returns the code of an *Error, or "" for nil and the error text
// for anything else.
func s3Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an *Error: " + err.Error()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testSigningKey derives the signing key independently of deriveKey.
func testSigningKey(secret, date, region string) []byte {
	mac := func(k []byte, s string) []byte {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	return mac(mac(mac(mac([]byte("AWS4"+secret), date), region), "s3"), "aws4_request")
}

// seedSignature extracts the signature from an Authorization header.
func seedSignature(t testing.TB, r *http.Request) string {
	t.Helper()
	h := r.Header.Get("Authorization")
	i := strings.LastIndex(h, "Signature=")
	if i < 0 {
		t.Fatalf("no signature in %q", h)
	}
	return h[i+len("Signature="):]
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
