package cli

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
)

// printFlags prints the flags that keep selects. Aliases (flags bound to
// the same variable, like -f and --file) share one line.
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool) {
	type entry struct {
		names []string
		f     *flag.Flag
	}
	var entries []*entry
	byVar := map[uintptr]*entry{}
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		var ptr uintptr
		if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
			ptr = v.Pointer()
		}
		if e := byVar[ptr]; ptr != 0 && e != nil {
			e.names = append(e.names, dash+f.Name)
			if len(f.Name) > 1 && strings.HasPrefix(f.Usage, "same as") {
				return
			}
			if strings.HasPrefix(e.f.Usage, "same as") {
				e.f = f
			}
			return
		}
		e := &entry{names: []string{dash + f.Name}, f: f}
		entries = append(entries, e)
		if ptr != 0 {
			byVar[ptr] = e
		}
	})
	for _, e := range entries {
		slices.SortStableFunc(e.names, func(a, b string) int { return len(a) - len(b) })
		typ, help := flag.UnquoteUsage(e.f)
		line := "  " + strings.Join(e.names, ", ")
		if typ != "" {
			line += " " + typ
		}
		if d := e.f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			help += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(w, "%-30s %s\n", line, help)
	}
}

func usage(w io.Writer, top *flag.FlagSet, cmds []*command) {
	fmt.Fprintf(w, "Usage: zstor [-c CONFIG] [--json] [--log-level L] COMMAND [flags]\n\n")
	fmt.Fprintf(w, "zstor stores files dispersed, encrypted and erasure-coded over zdb backends.\n\nCommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nGlobal flags:\n")
	printFlags(w, top, func(string) bool { return true })
	fmt.Fprintf(w, "\nRun 'zstor help COMMAND' for a command's flags. Exit codes: 0 ok, 1 error, 2 usage, 3 not found.\n")
}

// parseInterspersed parses flags wherever they are among the positional
// arguments (until a "--").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
