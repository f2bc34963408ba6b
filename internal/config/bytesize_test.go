package config

import (
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want ByteSize
		err  string // part of the error, "" for success
	}{
		{"4MiB", 4 << 20, ""},
		{"512KiB", 512 << 10, ""},
		{"4194304", 4 << 20, ""},
		{"4 MiB", 4 << 20, ""},
		{" 64kib ", 64 << 10, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"1.5MiB", 3 << 19, ""},
		{"64KB", 64000, ""},
		{"4MB", 4000000, ""},
		{"1GB", 1000000000, ""},
		{"100B", 100, ""},
		{"1_048_576", 1 << 20, ""},
		{"0", 0, ""},
		{"4194304.000000", 4 << 20, ""}, // a TOML float reaches UnmarshalText so
		{"", 0, "no number"},
		{"MiB", 0, "no number"},
		{"4M", 0, "ambiguous"},
		{"4k", 0, "ambiguous"},
		{"4XB", 0, "unknown unit"},
		{"4 MiBs", 0, "unknown unit"},
		{"-1", 0, "negative"},
		{"-1.5KiB", 0, "negative"},
		{"1.3B", 0, "whole number"},
		{"1.2.3MiB", 0, "bad number"},
		{"9223372036854775807KiB", 0, "too large"},
		{"99999999999999999999", 0, "bad number"},
		{"1e9", 0, "unknown unit"},
		{"NaN", 0, "no number"},
	}
	for _, tc := range cases {
		got, err := ParseByteSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseByteSize(%q) = %d, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	cases := []struct {
		in   ByteSize
		want string
	}{
		{4 * MiB, "4MiB"},
		{64 * KiB, "64KiB"},
		{1536 * KiB, "1536KiB"},
		{3 * GiB, "3GiB"},
		{5 * TiB, "5TiB"},
		{1000, "1000B"},
		{0, "0B"},
	}
	for _, tc := range cases {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
		text, _ := tc.in.MarshalText()
		var back ByteSize
		if err := back.UnmarshalText(text); err != nil || back != tc.in {
			t.Errorf("round trip of %d through %q = %d, %v", int64(tc.in), text, back, err)
		}
	}
}

func TestByteSizeTOML(t *testing.T) {
	cases := []struct {
		line string
		want ByteSize
	}{
		{`block_size = "512KiB"`, 512 * KiB},
		{`block_size = 1048576`, MiB},
		{`block_size = "8 MiB"`, 8 * MiB},
		{`block_size = 0`, DefaultBlockSize},
	}
	for _, tc := range cases {
		c := mustParse(t, tc.line+"\n")
		if c.BlockSize != tc.want {
			t.Errorf("%s: BlockSize = %s, want %s", tc.line, c.BlockSize, tc.want)
		}
	}
	if _, err := Parse([]byte("block_size = \"4 lightyears\"\n")); !hasKey(err, "block_size", "unknown unit") {
		t.Errorf("bad block_size: %v", err)
	}
}
