package server_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/zerostor/zerostor/internal/shardtree"
	"github.com/zerostor/zerostor/internal/zdb/server"
)

// proofFromReply turns a PROOF reply read by go-redis into a proof.
func proofFromReply(t *testing.T, index int, reply any) shardtree.Proof {
	t.Helper()
	arr, isArr := reply.([]any)
	if !isArr || len(arr) == 0 {
		t.Fatalf("PROOF reply %s: want a non-empty array", showReply(reply))
	}
	p := shardtree.Proof{Index: index}
	for i, e := range arr {
		s, isStr := e.(string)
		if !isStr {
			t.Fatalf("PROOF reply element %d: %s, want a bulk string", i, showReply(e))
		}
		if i == 0 {
			p.Leaf = []byte(s)
			continue
		}
		if len(s) != 32 {
			t.Fatalf("PROOF reply path hash %d: %d bytes", i-1, len(s))
		}
		p.Path = append(p.Path, [32]byte([]byte(s)))
	}
	return p
}

// TestHashAndProof: HASH is the value's shardtree root and PROOF gives,
// for every leaf, a proof that verifies against it.
func TestHashAndProof(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "pf")
	ok(t, c, "SELECT", "pf")
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{0, 1, 100, shardtree.LeafSize, shardtree.LeafSize + 1, 5*shardtree.LeafSize + 3, 256 << 10} {
		key := "v" + strconv.Itoa(size)
		value := make([]byte, size)
		rng.Read(value)
		expect(t, c, key, "SET", key, value)
		root := shardtree.Root(value)
		expect(t, c, hex.EncodeToString(root[:]), "HASH", key)
		for i := range shardtree.Leaves(size) {
			p := proofFromReply(t, i, do(t, c, "PROOF", key, strconv.Itoa(i)))
			if err := shardtree.Verify(root, size, p); err != nil {
				t.Fatalf("%d-byte value: PROOF %d: %v", size, i, err)
			}
		}
	}
	// The command name ignores case, like every other.
	if p := proofFromReply(t, 0, do(t, c, "proof", "v100", "0")); len(p.Leaf) != 100 || len(p.Path) != 0 {
		t.Errorf("proof of a one-leaf value: %d-byte leaf, %d hashes", len(p.Leaf), len(p.Path))
	}
}

// TestProofWire checks PROOF's exact reply types with a raw RESP client:
// an array of bulk strings, the leaf first, then 32-byte hashes.
func TestProofWire(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	value := bytes.Repeat([]byte("0123456789abcdef"), 3*shardtree.LeafSize/16+1) // 4 leaves, the last of 16 bytes
	if r := rc.cmd("SET", "w", string(value)); r.kind != '$' || r.str != "w" {
		t.Fatalf("SET: %v", r)
	}
	root := shardtree.Root(value)
	for i := range shardtree.Leaves(len(value)) {
		r := rc.cmd("PROOF", "w", strconv.Itoa(i))
		if r.kind != '*' || len(r.arr) != 3 { // 4 leaves: depth 2
			t.Fatalf("PROOF w %d: reply type %q with %d elements, want an array of 3", i, r.kind, len(r.arr))
		}
		p := shardtree.Proof{Index: i}
		for j, e := range r.arr {
			if e.kind != '$' {
				t.Fatalf("PROOF w %d element %d: %v, want a bulk string", i, j, e)
			}
			if j == 0 {
				p.Leaf = []byte(e.str)
			} else if len(e.str) != 32 {
				t.Fatalf("PROOF w %d hash %d: %d bytes", i, j-1, len(e.str))
			} else {
				p.Path = append(p.Path, [32]byte([]byte(e.str)))
			}
		}
		if err := shardtree.Verify(root, len(value), p); err != nil {
			t.Fatalf("PROOF w %d: %v", i, err)
		}
	}
	for _, tc := range []struct {
		args []string
		want rawReply
	}{
		{[]string{"PROOF", "w", "4"}, rawReply{kind: '-', str: "Invalid leaf index"}},
		{[]string{"PROOF", "missing", "0"}, rawReply{kind: 0}}, // null bulk, as HASH
		{[]string{"PROOF", "w"}, rawReply{kind: '-', str: "Unexpected arguments"}},
	} {
		if got := rc.cmd(tc.args...); got.kind != tc.want.kind || got.str != tc.want.str {
			t.Errorf("%q: %v, want %v", tc.args, got, tc.want)
		}
	}
}

// TestProofErrors: arguments, missing and deleted keys, and indexes out
// of range, in 0-db's argument-check order.
func TestProofErrors(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	value := strings.Repeat("x", 2*shardtree.LeafSize+1) // 3 leaves
	expect(t, c, "k", "SET", "k", value)
	expect(t, c, "gone", "SET", "gone", "v")
	ok(t, c, "DEL", "gone")
	expect(t, c, "empty", "SET", "empty", "")
	run(t, c, []step{
		{[]any{"PROOF"}, replyErr("Unexpected arguments")},
		{[]any{"PROOF", "k"}, replyErr("Unexpected arguments")},
		{[]any{"PROOF", "k", "0", "0"}, replyErr("Unexpected arguments")},
		{[]any{"PROOF", "", "0"}, replyErr("Invalid argument")},
		{[]any{"PROOF", "k", ""}, replyErr("Invalid argument")},
		{[]any{"PROOF", strings.Repeat("k", 256), "0"}, replyErr("Invalid key")},
		{[]any{"PROOF", "k", "one"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "1.0"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "0x1"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", " 1"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "+1"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "-1"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "-0"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "3"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "1024"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "2147483648"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "k", "99999999999999999999999"}, replyErr("Invalid leaf index")},
		{[]any{"PROOF", "empty", "1"}, replyErr("Invalid leaf index")},
		// A missing key is nil, as HASH answers it, whatever the index.
		{[]any{"PROOF", "missing", "0"}, null},
		{[]any{"PROOF", "missing", "7"}, null},
		{[]any{"PROOF", "gone", "0"}, null},
		{[]any{"HASH", "gone"}, null},
		// Good ones still work after the errors: the connection is fine.
		{[]any{"PROOF", "empty", "0"}, []any{""}},
	})
	if p := proofFromReply(t, 2, do(t, c, "PROOF", "k", "002")); len(p.Leaf) != 1 {
		t.Errorf("PROOF k 002: leaf of %d bytes, want the 1-byte last leaf", len(p.Leaf))
	}
}

// TestProofStrict0DB: PROOF is ours, so --strict-0db hides it like HASH,
// SCRUB and COMPACT: 0-db's reply to a command it does not know.
func TestProofStrict0DB(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			ts := startServer(t, server.Config{Strict0DB: strict}, false)
			c := ts.conn(t)
			expect(t, c, "k", "SET", "k", "value")
			for _, args := range [][]any{{"PROOF", "k", "0"}, {"proof", "k", "0"}, {"HASH", "k"}, {"SCRUB"}, {"COMPACT"}} {
				got := do(t, c, args...)
				if refused := replyEqual(got, replyErr("Command not supported")); refused != strict {
					t.Errorf("%s with strict %v: %s", fmtArgs(args), strict, showReply(got))
				}
			}
			// Refusal does not depend on the arguments being right.
			if strict {
				expect(t, c, replyErr("Command not supported"), "PROOF")
			}
		})
	}
}
