package commitlog_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/zerostor/zerostor/internal/commitlog"
)

func TestKeyText(t *testing.T) {
	priv, err := commitlog.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	text, err := commitlog.MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(text), "zstor-log-key-v1:") || !bytes.HasSuffix(text, []byte("\n")) {
		t.Errorf("private key text %q", text)
	}
	got, err := commitlog.ParsePrivateKey(append([]byte("  \n"), text...))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) {
		t.Error("private key changed through its text form")
	}
	pub := priv.Public().(ed25519.PublicKey)
	ptext, err := commitlog.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	gotPub, err := commitlog.ParsePublicKey(ptext)
	if err != nil {
		t.Fatal(err)
	}
	if !gotPub.Equal(pub) {
		t.Error("public key changed through its text form")
	}
	if _, err := commitlog.ParsePrivateKey(ptext); !errors.Is(err, commitlog.ErrInvalid) {
		t.Errorf("public key parsed as a private one: %v", err)
	}
	if _, err := commitlog.ParsePublicKey(text); !errors.Is(err, commitlog.ErrInvalid) {
		t.Errorf("private key parsed as a public one: %v", err)
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"no prefix", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"other version", "zstor-log-key-v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"bad base64", "zstor-log-key-v1:not base64!"},
		{"short", "zstor-log-key-v1:AAAA"},
		{"long", "zstor-log-key-v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	} {
		_, err := commitlog.ParsePrivateKey([]byte(c.text))
		if !errors.Is(err, commitlog.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
		if err != nil && c.text != "" && strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: the error quotes the key text: %v", c.name, err)
		}
	}
	if _, err := commitlog.MarshalPrivateKey(make([]byte, 5)); !errors.Is(err, commitlog.ErrInvalid) {
		t.Errorf("MarshalPrivateKey of a short key: %v", err)
	}
	if _, err := commitlog.MarshalPublicKey(make([]byte, 5)); !errors.Is(err, commitlog.ErrInvalid) {
		t.Errorf("MarshalPublicKey of a short key: %v", err)
	}
}
