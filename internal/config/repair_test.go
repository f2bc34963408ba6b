package config

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// repairFull sets every key of [repair] to a value other than its default.
const repairFull = `
[repair]
terminal_after = "1h30m"
probe_interval = "250ms"
rate = "16MiB"
idle_rate = "1GiB"
scrub_rate = 0
scrub_interval = "24h"
audit_interval = "0"
workers = 8
`

func TestRepairParse(t *testing.T) {
	def := DefaultRepair()
	with := func(f func(r *Repair)) Repair {
		r := DefaultRepair()
		f(&r)
		return r
	}
	cases := []struct {
		name string
		text string
		want Repair
	}{
		{"absent", "", def},
		{"empty table", "[repair]\n", def},
		{"every key", repairFull, Repair{
			TerminalAfter: 90 * time.Minute,
			ProbeInterval: 250 * time.Millisecond,
			Rate:          16 * MiB,
			IdleRate:      GiB,
			ScrubRate:     0,
			ScrubInterval: 24 * time.Hour,
			AuditInterval: 0,
			Workers:       8,
		}},
		{"defaults written out", "[repair]\nterminal_after = \"15m\"\nprobe_interval = \"5s\"\nrate = \"64MiB\"\nidle_rate = \"0\"\nscrub_rate = \"32MiB\"\nscrub_interval = \"168h\"\naudit_interval = \"10s\"\nworkers = 2\n", def},
		{"terminal_after", "[repair]\nterminal_after = \"30m\"\n", with(func(r *Repair) { r.TerminalAfter = 30 * time.Minute })},
		{"probe_interval", "[repair]\nprobe_interval = \"1m\"\n", with(func(r *Repair) { r.ProbeInterval = time.Minute })},
		{"rate unlimited", "[repair]\nrate = 0\n", with(func(r *Repair) { r.Rate = 0 })},
		{"rate string zero", "[repair]\nrate = \"0\"\n", with(func(r *Repair) { r.Rate = 0 })},
		{"rate integer", "[repair]\nrate = 1048576\n", with(func(r *Repair) { r.Rate = MiB })},
		{"rate SI", "[repair]\nrate = \"100MB\"\n", with(func(r *Repair) { r.Rate = 100_000_000 })},
		{"idle_rate", "[repair]\nidle_rate = \"512 MiB\"\n", with(func(r *Repair) { r.IdleRate = 512 * MiB })},
		{"scrub off", "[repair]\nscrub_rate = \"0B\"\n", with(func(r *Repair) { r.ScrubRate = 0 })},
		{"scrub_interval", "[repair]\nscrub_interval = \"720h\"\n", with(func(r *Repair) { r.ScrubInterval = 720 * time.Hour })},
		{"audits off, string", "[repair]\naudit_interval = \"0\"\n", with(func(r *Repair) { r.AuditInterval = 0 })},
		{"audits off, 0s", "[repair]\naudit_interval = \"0s\"\n", with(func(r *Repair) { r.AuditInterval = 0 })},
		{"audits off, integer", "[repair]\naudit_interval = 0\n", with(func(r *Repair) { r.AuditInterval = 0 })},
		{"audit_interval", "[repair]\naudit_interval = \"1.5s\"\n", with(func(r *Repair) { r.AuditInterval = 1500 * time.Millisecond })},
		{"workers", "[repair]\nworkers = 64\n", with(func(r *Repair) { r.Workers = 64 })},
		{"inline table", "repair = { workers = 3, rate = \"1MiB\" }\n", with(func(r *Repair) { r.Workers, r.Rate = 3, MiB })},
		{"dotted keys", "repair.workers = 4\n", with(func(r *Repair) { r.Workers = 4 })},
		// Parse reads what the file says; Validate refuses it.
		{"every key 0", "[repair]\nterminal_after = 0\nprobe_interval = 0\nrate = 0\nidle_rate = 0\nscrub_rate = 0\nscrub_interval = 0\naudit_interval = 0\nworkers = 0\n", Repair{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.text)
			if c.Repair != tc.want {
				t.Errorf("Repair = %+v, want %+v", c.Repair, tc.want)
			}
		})
	}
}

// TestRepairDefaults: no [repair] means the defaults, in a file (0-stor's
// example among them) and in a Config built in code.
func TestRepairDefaults(t *testing.T) {
	cleanEnv(t)
	want := Repair{
		TerminalAfter: 15 * time.Minute,
		ProbeInterval: 5 * time.Second,
		Rate:          64 * MiB,
		IdleRate:      0,
		ScrubRate:     32 * MiB,
		ScrubInterval: 168 * time.Hour,
		AuditInterval: 10 * time.Second,
		Workers:       2,
	}
	if DefaultRepair() != want {
		t.Fatalf("DefaultRepair() = %+v, want %+v", DefaultRepair(), want)
	}
	example, err := ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	local, err := Local(t.TempDir(), []string{"127.0.0.1:9901", "127.0.0.1:9902"}, 2, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	inCode := &Config{MinimalShards: 1, ExpectedShards: 2}
	inCode.EnsureDefaults()
	for name, c := range map[string]*Config{
		"0-stor example": example,
		"valid text":     mustParse(t, validText),
		"local":          local,
		"built in code":  inCode,
	} {
		if c.Repair != want {
			t.Errorf("%s: Repair = %+v, want the defaults", name, c.Repair)
		}
	}

	// A non-zero Repair is left as it is: 0 means unlimited or off.
	partial := Repair{TerminalAfter: time.Hour, ProbeInterval: time.Second, ScrubInterval: time.Hour, Workers: 1}
	c := &Config{Repair: partial}
	c.EnsureDefaults()
	if c.Repair != partial {
		t.Errorf("EnsureDefaults changed a set Repair to %+v", c.Repair)
	}

	// Without EnsureDefaults, the zero Repair does not validate.
	c = mustParse(t, validText)
	c.Repair = Repair{}
	if err := c.Validate(); !hasKey(err, "repair.terminal_after", "minimum") || !hasKey(err, "repair.workers", "out of bounds") {
		t.Errorf("Validate of a zero Repair = %v", err)
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after EnsureDefaults: %v", err)
	}
}

// TestRepairParseErrors: values that do not decode are errors naming the
// key and its line.
func TestRepairParseErrors(t *testing.T) {
	cases := []struct {
		name string
		text string
		key  string
		msg  string
	}{
		{"no unit", "[repair]\nprobe_interval = \"5\"\n", "repair.probe_interval", "not a duration"},
		{"bad unit", "[repair]\nterminal_after = \"15 minutes\"\n", "repair.terminal_after", "not a duration"},
		{"empty duration", "[repair]\nscrub_interval = \"\"\n", "repair.scrub_interval", "not a duration"},
		{"negative duration", "[repair]\nterminal_after = \"-1s\"\n", "repair.terminal_after", "negative"},
		{"negative audit", "[repair]\naudit_interval = \"-10s\"\n", "repair.audit_interval", "negative"},
		{"integer duration", "[repair]\nterminal_after = 900\n", "repair.terminal_after", "no unit"},
		{"float duration", "[repair]\nprobe_interval = 1.5\n", "repair.probe_interval", "must be a string"},
		{"overflowing duration", "[repair]\nscrub_interval = \"9999999999h\"\n", "repair.scrub_interval", "not a duration"},
		{"negative rate", "[repair]\nrate = \"-1MiB\"\n", "repair.rate", "negative"},
		{"negative integer rate", "[repair]\nidle_rate = -1\n", "repair.idle_rate", "negative"},
		{"ambiguous rate", "[repair]\nscrub_rate = \"32M\"\n", "repair.scrub_rate", "ambiguous"},
		{"rate unit", "[repair]\nrate = \"64MiB/s\"\n", "repair.rate", "unknown unit"},
		{"line", "minimal_shards = 1\n\n[repair]\nworkers = 2\nidle_rate = \"1 parsec\"\n", "repair.idle_rate", "unknown unit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error is not ErrInvalid: %v", err)
			}
			fes := fieldErrors(err)
			if len(fes) != 1 || fes[0].Key != tc.key || !strings.Contains(fes[0].Msg, tc.msg) {
				t.Fatalf("Parse = %v\nwant one problem on %q mentioning %q", err, tc.key, tc.msg)
			}
			if want := strings.Count(tc.text, "\n"); fes[0].Line != want {
				t.Errorf("line %d, want %d", fes[0].Line, want)
			}
		})
	}
	// A wrong type and an unknown key name the key and the line too.
	if _, err := Parse([]byte("[repair]\nworkers = \"two\"\n")); err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "repair.workers") {
		t.Errorf("workers = \"two\": %v", err)
	}
	_, err := Parse([]byte("[repair]\nworker = 2\n"))
	if fes := fieldErrors(err); !errors.Is(err, ErrUnknownKey) || len(fes) != 1 || fes[0].Key != "repair.worker" || fes[0].Line != 2 {
		t.Errorf("worker = 2: %v", err)
	}
}

func TestRepairValidate(t *testing.T) {
	cleanEnv(t)
	bad := []struct {
		name   string
		mutate func(r *Repair)
		key    string
		msg    string
	}{
		{"terminal_after 0", func(r *Repair) { r.TerminalAfter = 0 }, "repair.terminal_after", "0s is below the minimum of 1s"},
		{"terminal_after short", func(r *Repair) { r.TerminalAfter = 999 * time.Millisecond }, "repair.terminal_after", "minimum of 1s"},
		{"terminal_after negative", func(r *Repair) { r.TerminalAfter = -time.Minute }, "repair.terminal_after", "negative"},
		{"probe_interval 0", func(r *Repair) { r.ProbeInterval = 0 }, "repair.probe_interval", "out of bounds (100ms to 10m)"},
		{"probe_interval short", func(r *Repair) { r.ProbeInterval = 99 * time.Millisecond }, "repair.probe_interval", "out of bounds"},
		{"probe_interval long", func(r *Repair) { r.ProbeInterval = 10*time.Minute + time.Second }, "repair.probe_interval", "10m1s is out of bounds"},
		{"probe_interval negative", func(r *Repair) { r.ProbeInterval = -time.Second }, "repair.probe_interval", "negative"},
		{"rate negative", func(r *Repair) { r.Rate = -1 }, "repair.rate", "negative (0 means unlimited)"},
		{"idle_rate negative", func(r *Repair) { r.IdleRate = -MiB }, "repair.idle_rate", "negative"},
		{"scrub_rate negative", func(r *Repair) { r.ScrubRate = -1 }, "repair.scrub_rate", "0 means no background scrub"},
		{"scrub_interval 0", func(r *Repair) { r.ScrubInterval = 0 }, "repair.scrub_interval", "minimum of 1m"},
		{"scrub_interval short", func(r *Repair) { r.ScrubInterval = 59 * time.Second }, "repair.scrub_interval", "59s is below the minimum of 1m"},
		{"scrub_interval negative", func(r *Repair) { r.ScrubInterval = -time.Hour }, "repair.scrub_interval", "negative"},
		{"audit_interval short", func(r *Repair) { r.AuditInterval = 9 * time.Millisecond }, "repair.audit_interval", "minimum of 10ms"},
		{"audit_interval negative", func(r *Repair) { r.AuditInterval = -1 }, "repair.audit_interval", "negative"},
		{"workers 0", func(r *Repair) { r.Workers = 0 }, "repair.workers", "0 is out of bounds (1 to 64)"},
		{"workers negative", func(r *Repair) { r.Workers = -1 }, "repair.workers", "out of bounds"},
		{"workers many", func(r *Repair) { r.Workers = 65 }, "repair.workers", "65 is out of bounds"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, validText)
			tc.mutate(&c.Repair)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) || !hasKey(err, tc.key, tc.msg) {
				t.Fatalf("Validate = %v\nwant a problem on %q mentioning %q", err, tc.key, tc.msg)
			}
			if n := len(fieldErrors(err)); n != 1 {
				t.Errorf("%d problems, want 1: %v", n, err)
			}
		})
	}
	good := []struct {
		name   string
		mutate func(r *Repair)
	}{
		{"defaults", func(r *Repair) {}},
		{"minimums", func(r *Repair) {
			*r = Repair{TerminalAfter: MinTerminalAfter, ProbeInterval: MinProbeInterval, ScrubInterval: MinScrubInterval, AuditInterval: MinAuditInterval, Workers: 1}
		}},
		{"maximums", func(r *Repair) { r.ProbeInterval, r.Workers = MaxProbeInterval, MaxRepairWorkers }},
		{"unlimited and off", func(r *Repair) { r.Rate, r.IdleRate, r.ScrubRate, r.AuditInterval = 0, 0, 0, 0 }},
		{"long", func(r *Repair) {
			r.TerminalAfter, r.ScrubInterval, r.AuditInterval = 30*24*time.Hour, 365*24*time.Hour, time.Hour
		}},
		{"fast", func(r *Repair) { r.Rate, r.IdleRate, r.ScrubRate = 10*GiB, 100*GiB, TiB }},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, validText)
			tc.mutate(&c.Repair)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	// Every bound error at once, from a file.
	c := mustParse(t, validText+"[repair]\nterminal_after = \"0\"\nprobe_interval = \"11m\"\nscrub_interval = \"59s\"\naudit_interval = \"1ms\"\nworkers = 0\n")
	err := c.Validate()
	for _, k := range []string{"repair.terminal_after", "repair.probe_interval", "repair.scrub_interval", "repair.audit_interval", "repair.workers"} {
		if !hasKey(err, k, "") || !strings.Contains(err.Error(), k) {
			t.Errorf("no problem on %s in %v", k, err)
		}
	}
	if n := len(fieldErrors(err)); n != 5 {
		t.Errorf("%d problems, want 5: %v", n, err)
	}
}

// TestRepairRoundTrip: Parse(Marshal(c)) == c, and Marshal writes only
// the keys that differ from their defaults.
func TestRepairRoundTrip(t *testing.T) {
	cleanEnv(t)
	cases := []struct {
		name    string
		text    string
		written []string // [repair] keys Marshal writes; nil: no [repair]
	}{
		{"absent", "", nil},
		{"defaults written out", "[repair]\nterminal_after = \"15m\"\nworkers = 2\nidle_rate = 0\n", nil},
		{"one key", "[repair]\nworkers = 4\n", []string{"workers = 4"}},
		{"every key", repairFull, []string{
			`terminal_after = "1h30m"`, `probe_interval = "250ms"`, `rate = "16MiB"`, `idle_rate = "1GiB"`,
			`scrub_rate = "0B"`, `scrub_interval = "24h"`, `audit_interval = "0s"`, "workers = 8",
		}},
		{"odd values", "[repair]\nterminal_after = \"1h0m1.5s\"\nrate = 1000\naudit_interval = \"123456789ns\"\n", []string{
			`terminal_after = "1h0m1.5s"`, `rate = "1000B"`, `audit_interval = "123.456789ms"`,
		}},
		{"every key 0", "[repair]\nterminal_after = 0\nprobe_interval = 0\nrate = 0\nidle_rate = 0\nscrub_rate = 0\nscrub_interval = 0\naudit_interval = 0\nworkers = 0\n", []string{
			`terminal_after = "0s"`, `probe_interval = "0s"`, `rate = "0B"`, `scrub_rate = "0B"`, `scrub_interval = "0s"`, `audit_interval = "0s"`, "workers = 0",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, validText+tc.text)
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) {
				t.Errorf("round trip differs: Repair %+v, want %+v\n%s", back.Repair, c.Repair, out)
			}
			_, section, found := bytes.Cut(out, []byte("\n[repair]\n"))
			if tc.written == nil {
				if found {
					t.Errorf("Marshal writes [repair] with the defaults:\n%s", out)
				}
				return
			}
			if !found {
				t.Fatalf("Marshal writes no [repair]:\n%s", out)
			}
			section, _, _ = bytes.Cut(section, []byte("\n\n"))
			lines := strings.Split(strings.TrimSpace(string(section)), "\n")
			if !reflect.DeepEqual(lines, tc.written) {
				t.Errorf("[repair] written as %q, want %q", lines, tc.written)
			}
		})
	}
	// A Config built in code: its Repair survives WriteFile and Load.
	c := mustParse(t, validText)
	c.Repair.Rate, c.Repair.AuditInterval, c.Repair.Workers = 0, time.Minute, 16
	path := t.TempDir() + "/zstor.toml"
	if err := WriteFile(path, c); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Repair != c.Repair {
		t.Errorf("Load(WriteFile) Repair = %+v, want %+v", back.Repair, c.Repair)
	}
}

func TestFormatDuration(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{15 * time.Minute, "15m"},
		{168 * time.Hour, "168h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{5 * time.Second, "5s"},
		{10 * time.Millisecond, "10ms"},
		{-time.Minute, "-1m"},
	}
	for _, tc := range cases {
		got := formatDuration(tc.in)
		if got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.in {
			t.Errorf("ParseDuration(%q) = %v, %v", got, back, err)
		}
	}
}

func TestRepairString(t *testing.T) {
	cleanEnv(t)
	c := mustParse(t, validText)
	want := "repair: terminal_after=15m probe_interval=5s rate=64MiB/s idle_rate=unlimited scrub_rate=32MiB/s scrub_interval=168h audit_interval=10s workers=2"
	if s := c.String(); !slices.Contains(strings.Split(s, "\n"), want) {
		t.Errorf("String() has no %q:\n%s", want, s)
	}
	c = mustParse(t, validText+repairFull)
	want = "repair: terminal_after=1h30m probe_interval=250ms rate=16MiB/s idle_rate=1GiB/s scrub_rate=off scrub_interval=24h audit_interval=off workers=8"
	if s := c.String(); !slices.Contains(strings.Split(s, "\n"), want) {
		t.Errorf("String() has no %q:\n%s", want, s)
	}
}
