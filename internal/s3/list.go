package s3

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxListKeys is S3's page size limit.
const maxListKeys = 1000

// listing is one page of a bucket listing.
type listing struct {
	contents []objectEntry
	prefixes []commonPrefix
	// truncated is set when more keys follow; next is the last key or
	// common prefix returned, from which the next page starts.
	truncated bool
	next      string
}

// listPage lists up to max keys of bucket with prefix after after,
// rolling keys that contain delimiter after the prefix into common
// prefixes (each counted once against max, as S3 does).
func (s *Server) listPage(ctx context.Context, bucket, prefix, delimiter, after string, max int, owner bool) (listing, error) {
	var l listing
	base := objectKey(bucket, "")
	from := ""
	if after != "" {
		from = base + after
		if delimiter != "" && strings.HasPrefix(after, prefix) {
			if i := strings.Index(after[len(prefix):], delimiter); i >= 0 {
				// after is (in) a common prefix already returned: skip
				// all of it.
				from = base + after[:len(prefix)+i+len(delimiter)] + "\xff"
			}
		}
	}
	if max == 0 {
		return l, nil
	}
	for {
		restart := ""
		for info, err := range s.c.List(ctx, base+prefix, from) {
			if err != nil {
				return l, err
			}
			key := strings.TrimPrefix(info.Key, base)
			if delimiter != "" {
				if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
					cp := key[:len(prefix)+i+len(delimiter)]
					if len(l.contents)+len(l.prefixes) == max {
						l.truncated = true
						return l, nil
					}
					l.prefixes = append(l.prefixes, commonPrefix{Prefix: cp})
					l.next = cp
					// Skip every key under cp: restart the walk after it.
					// Keys are UTF-8, so none contains 0xff.
					restart = base + cp + "\xff"
					break
				}
			}
			if len(l.contents)+len(l.prefixes) == max {
				l.truncated = true
				return l, nil
			}
			o := toObjInfo(info)
			e := objectEntry{Key: key, LastModified: isoTime(o.Modified), ETag: `"` + o.ETag + `"`, Size: o.Size, StorageClass: "STANDARD"}
			if owner {
				e.Owner = &s.owner
			}
			l.contents = append(l.contents, e)
			l.next = key
		}
		if restart == "" {
			return l, nil
		}
		from = restart
	}
}

// listParams reads the common parameters of both list versions.
func listParams(v url.Values) (prefix, delimiter string, max int, encode bool, err error) {
	prefix, delimiter = v.Get("prefix"), v.Get("delimiter")
	max = maxListKeys
	if m := v.Get("max-keys"); m != "" {
		n, perr := strconv.Atoi(m)
		if perr != nil || n < 0 {
			return "", "", 0, false, errInvalidMaxKeys
		}
		max = min(n, maxListKeys)
	}
	switch et := v.Get("encoding-type"); et {
	case "":
	case "url":
		encode = true
	default:
		return "", "", 0, false, errf("InvalidArgument", http.StatusBadRequest, "Invalid Encoding Method specified in Request")
	}
	return prefix, delimiter, max, encode, nil
}

// s3Escape is S3's encoding-type=url: keys escaped like a query value,
// with spaces as %20 (the SDKs unescape it as a path).
func s3Escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func (s *Server) listObjects(q *request) error {
	v := q.r.URL.Query()
	prefix, delimiter, max, encode, err := listParams(v)
	if err != nil {
		return err
	}
	v2 := v.Get("list-type") == "2"
	out := listBucketResult{NS: s3NS, Name: q.bucket, MaxKeys: max}
	var after string
	if v2 {
		out.StartAfter = v.Get("start-after")
		after = out.StartAfter
		if tok := v.Get("continuation-token"); tok != "" {
			raw, derr := base64.RawURLEncoding.DecodeString(tok)
			if derr != nil {
				return errInvalidToken
			}
			out.ContinuationToken = tok
			after = string(raw)
		}
	} else {
		marker := v.Get("marker")
		out.Marker = &marker
		after = marker
	}
	l, err := s.listPage(q.r.Context(), q.bucket, prefix, delimiter, after, max, !v2 || v.Get("fetch-owner") == "true")
	if err != nil {
		return err
	}
	esc := func(s string) string { return s }
	if encode {
		esc = s3Escape
		out.EncodingType = "url"
	}
	out.Prefix, out.Delimiter = esc(prefix), esc(delimiter)
	if out.StartAfter != "" {
		out.StartAfter = esc(out.StartAfter)
	}
	if out.Marker != nil {
		m := esc(*out.Marker)
		out.Marker = &m
	}
	for i := range l.contents {
		l.contents[i].Key = esc(l.contents[i].Key)
	}
	for i := range l.prefixes {
		l.prefixes[i].Prefix = esc(l.prefixes[i].Prefix)
	}
	out.Contents, out.CommonPrefixes, out.IsTruncated = l.contents, l.prefixes, l.truncated
	if v2 {
		kc := len(l.contents) + len(l.prefixes)
		out.KeyCount = &kc
		if l.truncated {
			out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(l.next))
		}
	} else if l.truncated && delimiter != "" {
		out.NextMarker = esc(l.next)
	}
	if err := s.requireBucket(q.r.Context(), q.bucket); err != nil {
		return err
	}
	writeXML(q.w, out)
	return nil
}
