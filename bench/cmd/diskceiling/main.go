// Command diskceiling measures how fast this machine takes appends into a
// fresh file through the page cache: pwrite of 1 MiB blocks, no fsync,
// which is exactly what zdb does for a write without --sync. bench/zdb.sh
// runs it in the same run as the servers, so zdb's large-value figure can
// be read against the ceiling that any store writing to this disk has.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the disk to measure")
	size := flag.Int("mib", 1024, "MiB to write")
	flag.Parse()
	f, err := os.CreateTemp(*dir, "diskceiling-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "diskceiling:", err)
		os.Exit(1)
	}
	defer os.Remove(filepath.Clean(f.Name()))
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	for i := 0; i < *size; i++ {
		if _, err := f.WriteAt(buf, int64(i)<<20); err != nil {
			fmt.Fprintln(os.Stderr, "diskceiling:", err)
			os.Exit(1)
		}
	}
	el := time.Since(start)
	fmt.Printf("%.0f\n", float64(*size)*1.048576/el.Seconds())
}
