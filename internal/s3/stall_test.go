package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4signer "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/zerostor/zerostor/zstor"
)

// stallingReader gives data, then blocks until release is closed.
type stallingReader struct {
	data    *bytes.Reader
	release chan struct{}
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.data.Len() > 0 {
		return r.data.Read(p)
	}
	<-r.release
	return 0, io.ErrUnexpectedEOF
}

// TestStalledUpload: a client that stops sending mid-body is cut off
// after the idle timeout; nothing of its object becomes visible and the
// gateway keeps serving.
func TestStalledUpload(t *testing.T) {
	gw := startGateway(t, gatewayOptions{IdleTimeout: time.Second})
	ctx := context.Background()
	if _, err := gw.Client.Put(ctx, ".s3/b/stall", bytes.NewReader(nil), zstor.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	body := &stallingReader{data: bytes.NewReader(make([]byte, 256<<10)), release: release}
	req, err := http.NewRequest(http.MethodPut, gw.Endpoint+"/stall/obj", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 4 << 20
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signer := v4signer.NewSigner(func(o *v4signer.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: testAccess, SecretAccessKey: testSecret}, req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				err = errors.New("the stalled upload succeeded")
			}
		}
		done <- err
	}()
	select {
	case <-done:
		// Cut off (a connection error) or answered with an error status.
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled upload is still open after 30 s with a 1 s idle timeout")
	}
	t.Logf("stalled upload ended after %v", time.Since(start).Round(time.Millisecond))
	// The failed Put is rolled back on its own goroutine: give it a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := gw.Client.Stat(ctx, "stall/obj")
		if errors.Is(err, zstor.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled object is visible: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get(gw.Endpoint + "/")
	if err != nil {
		t.Fatalf("gateway no longer serves: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous list: status %d, want 403", resp.StatusCode)
	}
}
