package testcluster

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes lines until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestProxy(t *testing.T) {
	t.Parallel()
	p, err := NewProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	roundTrip := func(msg string) (time.Duration, error) {
		start := time.Now()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, msg+"\n"); err != nil {
			return 0, err
		}
		got, err := br.ReadString('\n')
		if err == nil && got != msg+"\n" {
			t.Fatalf("echo %q, got %q", msg, got)
		}
		return time.Since(start), err
	}
	if _, err := roundTrip("hello"); err != nil {
		t.Fatal(err)
	}
	p.SetDelay(100 * time.Millisecond)
	if d, err := roundTrip("slow"); err != nil || d < 100*time.Millisecond {
		t.Fatalf("delayed round trip: %v, %v", d, err)
	}
	p.SetDelay(0)

	// A long delay in progress does not hold up Close, and Close ends the
	// client's connection.
	p.SetDelay(time.Hour)
	io.WriteString(c, "stuck\n")
	time.Sleep(20 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs while a chunk is delayed")
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadString('\n'); err == nil {
		t.Fatal("client connection still open after Close")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("client connection hangs after Close instead of closing")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("proxy still accepts after Close")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
