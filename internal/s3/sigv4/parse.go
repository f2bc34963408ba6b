package sigv4

import (
	"encoding/hex"
	"strings"
	"time"
)

const (
	// iso8601 is the layout of X-Amz-Date and of the timestamp signed.
	iso8601 = "20060102T150405Z"
	// yyyymmdd is the layout of the date in the credential scope.
	yyyymmdd = "20060102"
	// maxExpires is the longest validity of a presigned URL (7 days).
	maxExpires = 7 * 24 * 60 * 60
)

// credential is the parsed Credential: "<access key>/<date>/<region>/
// <service>/aws4_request".
type credential struct {
	accessKey, date, region, service string
}

// scope is the credential scope as signed.
func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + terminator
}

// authParams is what the client claims: who signed, which headers, and the
// signature (decoded; the hex form seeds the chunk-signature chain).
type authParams struct {
	cred          credential
	signedHeaders []string
	signature     []byte
}

// parseAuthorization parses an "AWS4-HMAC-SHA256 Credential=...,
// SignedHeaders=..., Signature=..." header. The components may come in
// any order, separated by commas with optional spaces, each exactly once.
func parseAuthorization(h string) (authParams, *Error) {
	var p authParams
	h = strings.TrimLeft(h, " \t")
	alg, rest, _ := strings.Cut(h, " ")
	switch alg {
	case algorithm:
	case "AWS":
		// "AWS <key>:<signature>" is Signature Version 2.
		return p, errAccessDenied("Signature Version 2 is not supported; use Signature Version 4")
	case "AWS4-ECDSA-P256-SHA256":
		return p, errNotImplemented("Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not supported; use AWS4-HMAC-SHA256")
	default:
		return p, errInvalidArgument("Unsupported Authorization Type")
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.Trim(part, " \t")
		if part == "" {
			return p, errMalformedHeader("the authorization header has an empty component.")
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return p, errMalformedHeader("the authorization component \"" + clip(part) + "\" is malformed.")
		}
		var dst *string
		var seen *bool
		switch strings.TrimRight(k, " \t") {
		case "Credential":
			dst, seen = &cred, &haveCred
		case "SignedHeaders":
			dst, seen = &signed, &haveSigned
		case "Signature":
			dst, seen = &sig, &haveSig
		default:
			return p, errMalformedHeader("the authorization component \"" + clip(part) + "\" is malformed.")
		}
		if *seen {
			return p, errMalformedHeader("the authorization header repeats " + k + ".")
		}
		*dst, *seen = strings.TrimLeft(v, " \t"), true
	}
	if !haveCred || !haveSigned || !haveSig {
		return p, errMalformedHeader("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	var msg string
	if p.cred, msg = parseCredential(cred); msg != "" {
		return p, errMalformedHeader(msg)
	}
	if p.signedHeaders, msg = parseSignedHeaders(signed); msg != "" {
		return p, errMalformedHeader(msg)
	}
	if p.signature = parseSignature(sig); p.signature == nil {
		// S3 answers a signature it cannot decode like a wrong one.
		return p, errSignatureMismatch()
	}
	return p, nil
}

// parseCredential splits a Credential value, or says what is wrong with it
// (a message fit for both the header and the query error). The access key
// is everything before the last four fields, so a key containing '/' still
// parses.
func parseCredential(s string) (credential, string) {
	const bad = "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
	var c credential
	f := strings.Split(s, "/")
	n := len(f)
	if n < 5 {
		return c, bad
	}
	c = credential{
		accessKey: strings.Join(f[:n-4], "/"),
		date:      f[n-4],
		region:    f[n-3],
		service:   f[n-2],
	}
	if c.accessKey == "" || c.region == "" || c.service == "" {
		return c, bad
	}
	if _, err := time.Parse(yyyymmdd, c.date); err != nil || len(c.date) != 8 {
		return c, "invalid date format \"" + clip(c.date) + "\", expecting YYYYMMDD."
	}
	if f[n-1] != terminator {
		return c, "incorrect terminal \"" + clip(f[n-1]) + "\". This endpoint uses \"aws4_request\"."
	}
	return c, ""
}

// parseSignedHeaders splits "host;x-amz-date;..." into lower-case names.
// The host header must be signed: without it a signature would be valid
// for any endpoint sharing the credentials.
func parseSignedHeaders(s string) ([]string, string) {
	if s == "" {
		return nil, "the SignedHeaders are empty."
	}
	names := strings.Split(strings.ToLower(s), ";")
	host := false
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, " \t:\r\n") {
			return nil, "the SignedHeaders \"" + clip(s) + "\" are malformed."
		}
		if n == "host" {
			host = true
		}
	}
	if !host {
		return nil, "the SignedHeaders must include host."
	}
	return names, ""
}

// parseSignature decodes a 64-digit hex signature, or returns nil.
func parseSignature(s string) []byte {
	if len(s) != 64 {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// parseAmzDate parses an X-Amz-Date value.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(iso8601) {
		return time.Time{}, false
	}
	t, err := time.Parse(iso8601, s)
	return t, err == nil
}

// clip shortens client-supplied text echoed in an error message, so that
// a huge header cannot make a huge error document.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
