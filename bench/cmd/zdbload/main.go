// Command zdbload pipelines many small SETs into a RESP server (zdb or
// redis-server) as fast as the connection allows, then checks that every
// reply arrived and none was an error. It is used by bench/zdb.sh to fill a
// server before measuring its resident memory; redis-cli --pipe cannot be
// used against zdb because it ends the stream with ECHO, which zdb lacks.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9900", "server address")
	n := flag.Int("n", 1000000, "number of SETs")
	mode := flag.String("mode", "user", "user: SET key:%012d <value>; seq: SET \"\" <value>")
	keyfmt := flag.String("keyfmt", "key:%012d", "key format for user mode (printf, one integer)")
	vsize := flag.Int("vsize", 8, "value size in bytes")
	flag.Parse()
	if *mode != "user" && *mode != "seq" {
		fmt.Fprintln(os.Stderr, "zdbload: --mode must be user or seq")
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zdbload:", err)
		os.Exit(1)
	}
	defer conn.Close()

	type result struct {
		replies, errs int
		firstErr      string
		err           error
	}
	done := make(chan result, 1)
	go func() {
		r := bufio.NewReaderSize(conn, 1<<20)
		var res result
		for res.replies < *n {
			isErr, msg, err := readReply(r)
			if err != nil {
				res.err = err
				break
			}
			res.replies++
			if isErr {
				res.errs++
				if res.firstErr == "" {
					res.firstErr = msg
				}
			}
		}
		done <- res
	}()

	start := time.Now()
	w := bufio.NewWriterSize(conn, 1<<20)
	val := strings.Repeat("v", *vsize)
	valPart := "$" + strconv.Itoa(len(val)) + "\r\n" + val + "\r\n"
	var werr error
	for i := 0; i < *n && werr == nil; i++ {
		if *mode == "seq" {
			_, werr = w.WriteString("*3\r\n$3\r\nSET\r\n$0\r\n\r\n" + valPart)
			continue
		}
		k := fmt.Sprintf(*keyfmt, i)
		_, werr = w.WriteString("*3\r\n$3\r\nSET\r\n$" + strconv.Itoa(len(k)) + "\r\n" + k + "\r\n" + valPart)
	}
	if werr == nil {
		werr = w.Flush()
	}
	if werr != nil {
		fmt.Fprintln(os.Stderr, "zdbload: write:", werr)
		os.Exit(1)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(120 * time.Second):
		fmt.Fprintln(os.Stderr, "zdbload: timed out waiting for replies")
		os.Exit(1)
	}
	el := time.Since(start)
	fmt.Printf("sets=%d replies=%d errors=%d elapsed=%.3fs rate=%.0f/s\n",
		*n, res.replies, res.errs, el.Seconds(), float64(res.replies)/el.Seconds())
	if res.err != nil {
		fmt.Fprintln(os.Stderr, "zdbload: read:", res.err)
		os.Exit(1)
	}
	if res.errs > 0 {
		fmt.Fprintf(os.Stderr, "zdbload: %d error replies, first: %q\n", res.errs, res.firstErr)
		os.Exit(1)
	}
}

// readReply reads one RESP2 reply (nested arrays included) and reports
// whether it was an error.
func readReply(r *bufio.Reader) (isErr bool, msg string, err error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return false, "", err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return false, "", fmt.Errorf("bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return false, body, nil
	case '-':
		return true, body, nil
	case '$':
		l, err := strconv.Atoi(body)
		if err != nil {
			return false, "", err
		}
		if l < 0 {
			return false, "", nil
		}
		_, err = io.CopyN(io.Discard, r, int64(l)+2)
		return false, "", err
	case '*':
		c, err := strconv.Atoi(body)
		if err != nil {
			return false, "", err
		}
		for i := 0; i < c; i++ {
			if _, _, err := readReply(r); err != nil {
				return false, "", err
			}
		}
		return false, "", nil
	}
	return false, "", errors.New("unknown reply type " + strconv.Quote(line))
}
