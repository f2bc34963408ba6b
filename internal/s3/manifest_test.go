package s3_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/zerostor/zerostor/zstor"
)

// TestManifestPartReplaced: a part replaced behind a completed upload's
// back (another writer of the store) is never served as the object's:
// a read of the range before it succeeds, a read through it is cut off
// rather than given the other content.
func TestManifestPartReplaced(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	ctx := context.Background()
	c := sdkClient(gw.Endpoint)
	mustCreateBucket(t, c, "mfst")
	parts := [][]byte{randBytes(1, 5<<20), randBytes(2, 1000)}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mfst"), Key: aws.String("obj")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mfst"), Key: aws.String("obj"), UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mfst"), Key: aws.String("obj"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	// Replace part 2 directly in the store.
	other := bytes.Repeat([]byte("x"), len(parts[1]))
	if _, err := gw.Client.Put(ctx, ".s3/p/"+aws.ToString(up.UploadId)+"/00002", bytes.NewReader(other), zstor.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mfst"), Key: aws.String("obj"), Range: aws.String("bytes=0-99")}, noRetry)
	if err != nil {
		t.Fatalf("range in the intact part: %v", err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || !bytes.Equal(got, parts[0][:100]) {
		t.Fatalf("range in the intact part: %v, %d bytes", err, len(got))
	}
	out, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mfst"), Key: aws.String("obj")}, noRetry)
	if err != nil {
		return // refused outright: fine
	}
	got, err = io.ReadAll(out.Body)
	out.Body.Close()
	if err == nil {
		t.Fatalf("a whole read through a replaced part succeeded with %d bytes (replaced content served: %v)", len(got), bytes.Contains(got, other))
	}
}
