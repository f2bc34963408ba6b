package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes. In TOML it is an integer of bytes or a
// string with a unit: "4MiB", "512 KiB", "1.5GiB", "4MB" (IEC units are
// powers of 1024, SI units powers of 1000).
type ByteSize int64

// Binary units.
const (
	B   ByteSize = 1
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

var byteUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
}

// ParseByteSize parses "4MiB", "512KiB", "4194304", "1.5 GiB", "64kB". Unit
// names are case-insensitive; a bare "K", "M" or "G" is refused as ambiguous.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || t[i] == '_' || (i == 0 && (t[i] == '+' || t[i] == '-'))) {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("byte size %q: no number", s)
	}
	mul, ok := byteUnits[unit]
	if !ok {
		switch unit {
		case "k", "m", "g", "t":
			return 0, fmt.Errorf("byte size %q: ambiguous unit %q, use %siB (1024) or %sB (1000)", s, unit, strings.ToUpper(unit), strings.ToUpper(unit))
		}
		return 0, fmt.Errorf("byte size %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s, t[i:])
	}
	num = strings.ReplaceAll(num, "_", "")
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("byte size %q: bad number", s)
		}
		if n < 0 {
			return 0, fmt.Errorf("byte size %q: negative", s)
		}
		if n > math.MaxInt64/mul {
			return 0, fmt.Errorf("byte size %q: too large", s)
		}
		return ByteSize(n * mul), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("byte size %q: bad number", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("byte size %q: negative", s)
	}
	v := f * float64(mul)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("byte size %q: too large", s)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("byte size %q: not a whole number of bytes", s)
	}
	return ByteSize(v), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; TOML integers reach it
// as decimal text.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText implements encoding.TextMarshaler with String.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// String is the size in the largest binary unit that divides it exactly:
// "4MiB", "64KiB", "1000B".
func (b ByteSize) String() string {
	if b == 0 {
		return "0B"
	}
	for _, u := range []struct {
		n    ByteSize
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}
