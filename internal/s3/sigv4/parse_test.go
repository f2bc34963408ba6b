package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const validSig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"

func TestParseAuthorization(t *testing.T) {
	cred := "AKID/20130524/us-east-1/s3/aws4_request"
	tests := []struct {
		h       string
		code    string
		key     string
		headers string
	}{
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;range;x-amz-date, Signature=" + validSig, key: "AKID", headers: "host;range;x-amz-date"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ",SignedHeaders=host,Signature=" + validSig, key: "AKID", headers: "host"},
		{h: "AWS4-HMAC-SHA256  Signature=" + validSig + " , Credential=" + cred + " ,  SignedHeaders=Host;X-Amz-Date", key: "AKID", headers: "host;x-amz-date"},
		{h: "AWS4-HMAC-SHA256 Credential=my/key/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + validSig, key: "my/key", headers: "host"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + strings.ToUpper(validSig), key: "AKID", headers: "host"},
		{h: "AWS4-HMAC-SHA256", code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 ", code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host", code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + validSig + ", Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + validSig + ", Extra=1", code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + validSig + ",", code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3, SignedHeaders=host, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=AKID/2013-05-24/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=AKID/20131324/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_requesx, SignedHeaders=host, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=AKID/20130524//s3/aws4_request, SignedHeaders=host, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;;range, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=range, Signature=" + validSig, code: "AuthorizationHeaderMalformed"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=xyz", code: "SignatureDoesNotMatch"},
		{h: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + validSig[:63] + "g", code: "SignatureDoesNotMatch"},
		{h: "AWS AKID:sig", code: "AccessDenied"},
		{h: "AWS4-ECDSA-P256-SHA256 Credential=x", code: "NotImplemented"},
		{h: "Basic dXNlcjpwYXNz", code: "InvalidArgument"},
		{h: "", code: "InvalidArgument"},
	}
	for _, tt := range tests {
		p, err := parseAuthorization(tt.h)
		if got := s3Code(errOrNil(err)); got != tt.code {
			t.Errorf("%q: got %q (%v), want %q", tt.h, got, err, tt.code)
			continue
		}
		if err != nil {
			continue
		}
		if p.cred.accessKey != tt.key || strings.Join(p.signedHeaders, ";") != tt.headers || hexSignature(p.signature) != validSig {
			t.Errorf("%q: parsed %+v", tt.h, p)
		}
	}
}

// errOrNil keeps a nil *Error from becoming a non-nil error.
func errOrNil(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

func TestCanonicalURI(t *testing.T) {
	for _, tt := range []struct{ target, want string }{
		{"/", "/"},
		{"/bucket/a%20b", "/bucket/a%20b"},
		{"/bucket/a+b", "/bucket/a%2Bb"},
		{"/bucket/a%2bb", "/bucket/a%2Bb"},
		{"/bucket/a%2Fb/c", "/bucket/a%2Fb/c"},
		{"/bucket/%7Etilde~", "/bucket/~tilde~"},
		{"/bucket/x!$&'()*,;=:@", "/bucket/x%21%24%26%27%28%29%2A%2C%3B%3D%3A%40"},
		{"/bucket/%C3%A9", "/bucket/%C3%A9"},
		{"/bucket//./../x/", "/bucket//./../x/"},
	} {
		r, err := http.ReadRequest(bufioReader("GET " + tt.target + " HTTP/1.1\r\nHost: h\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := canonicalURI(r.URL); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.target, got, tt.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"", ""},
		{"acl", "acl="},
		{"b=2&a=1&a=0", "a=0&a=1&b=2"},
		{"prefix=a+b%20c&delimiter=%2F", "delimiter=%2F&prefix=a%20b%20c"},
		{"k=%7E~*!", "k=~~%2A%21"},
		{"X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Date=1"},
		{"bad=%zz&ok=1", "ok=1"},
	} {
		if got := canonicalQuery(tt.raw, true); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestTrimAll(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"  a  ":           "a",
		"a   b    c":      "a b c",
		"\ta \t b":        "a \t b",
		"no-change":       "no-change",
		"  lead and  end": "lead and end",
	} {
		if got := trimAll(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// handSign signs r for the tests that the SDK cannot express (a Date
// header instead of X-Amz-Date, a path signed verbatim), following the
// documentation's steps by hand.
func handSign(r *http.Request, uri, timestamp string, headers []string) {
	var canon strings.Builder
	canon.WriteString(r.Method + "\n" + uri + "\n" + r.URL.RawQuery + "\n")
	for _, h := range headers {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canon.WriteString(h + ":" + v + "\n")
	}
	canon.WriteString("\n" + strings.Join(headers, ";") + "\n" + r.Header.Get("X-Amz-Content-Sha256"))
	sum := sha256.Sum256([]byte(canon.String()))
	scope := timestamp[:8] + "/" + testRegion + "/s3/aws4_request"
	m := hmac.New(sha256.New, testSigningKey(testSecret, timestamp[:8], testRegion))
	m.Write([]byte("AWS4-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n" + hex.EncodeToString(sum[:])))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAccessKey+"/"+scope+", SignedHeaders="+strings.Join(headers, ";")+", Signature="+hex.EncodeToString(m.Sum(nil)))
}

func TestDateHeader(t *testing.T) {
	r := readRaw(t, "GET /bucket/obj HTTP/1.1\r\nHost: "+testHost+"\r\nDate: "+testNow.Format(http.TimeFormat)+"\r\nX-Amz-Content-Sha256: "+emptyHash+"\r\n\r\n")
	handSign(r, "/bucket/obj", testNow.Format(iso8601), []string{"date", "host", "x-amz-content-sha256"})
	if _, err := newVerifier().Verify(r); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Date", "not a date")
	if _, err := newVerifier().Verify(r); s3Code(err) != "AccessDenied" {
		t.Fatal(err)
	}
}

// A signer that signs its request line verbatim, with characters the
// SigV4 rules would have encoded, is still understood.
func TestVerbatimPath(t *testing.T) {
	for _, path := range []string{"/bucket/a!b(c)", "/bucket/a%20b", "/bucket/a+b"} {
		r := readRaw(t, "GET "+path+" HTTP/1.1\r\nHost: "+testHost+"\r\nX-Amz-Date: "+testNow.Format(iso8601)+"\r\nX-Amz-Content-Sha256: "+emptyHash+"\r\n\r\n")
		handSign(r, path, testNow.Format(iso8601), []string{"host", "x-amz-content-sha256", "x-amz-date"})
		if _, err := newVerifier().Verify(r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

func TestMultiValuedHeader(t *testing.T) {
	r := clientRequest(t, http.MethodGet, "obj", url.Values{"tagging": {""}}, nil)
	r.Header.Add("X-Amz-Meta-Multi", "one")
	r.Header.Add("X-Amz-Meta-Multi", "  two   words ")
	sign(t, r, emptyHash, testNow, testCreds, testRegion)
	sr := toServer(t, r)
	if len(sr.Header.Values("X-Amz-Meta-Multi")) != 2 {
		t.Fatal("expected two header lines")
	}
	if _, err := newVerifier().Verify(sr); err != nil {
		t.Fatal(err)
	}
}

// Errors of the connection reach the caller as they are, so that it can
// tell a client that went away from a bad request.
func TestChunkedPassesReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	payload := testPayload(50000)
	sr := streamingRequest(t, payload, streamingUnsignedTrailer, chunkOpts{trailers: [][2]string{{"x-amz-checksum-crc32", crc32Of(payload)}}}, nil)
	enc, _ := io.ReadAll(sr.Body)
	sr.Body = io.NopCloser(io.MultiReader(bytes.NewReader(enc[:30000]), errReader{boom}))
	if _, err := newVerifier().Verify(sr); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(sr.Body); err != boom {
		t.Fatal(err)
	}
}
