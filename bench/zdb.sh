#!/usr/bin/env bash
# bench/zdb.sh: throughput of zdb against an in-memory redis-server with
# redis-benchmark, plus zdb's resident memory per key in user and seq mode.
#
# Usage: bench/zdb.sh            (full run, ~2-3 minutes)
#        QUICK=1 bench/zdb.sh    (small counts, smoke test)
#
# Environment overrides:
#   N_P1      requests for the -P 1 SET/GET runs           (100000; QUICK 5000)
#   N_P16     requests for the -P 16 SET/GET runs          (400000; QUICK 20000)
#   M         requests for the 1 MiB SET runs              (2000;   QUICK 100)
#   KEYSPACE  -r for the 4 KiB runs                        (100000)
#   MEM_KEYS  keys loaded for the memory measurement       (1000000; QUICK 100000)
#   RUN_TIMEOUT  seconds before one benchmark run is abandoned (90)
#   RESULTS   directory for raw outputs (/tmp/zdb-bench-<timestamp>)
#   KEEP_DATA=1  keep the zdb data directories
#   SKIP_BUILD=1 use the existing bin/zdb
#
# The 1 MiB SET is run twice. The "distinct keys" row adds -r so every SET
# writes a new key (real appends). The "same key" row is the literal
# `redis-benchmark -d 1048576 -t set` without -r: every request rewrites the
# one key "key:__rand_int__" with the same bytes, which zdb (like 0-db)
# detects as unchanged and does not append, so it measures the compare path.
#
# Writes are acknowledged once in the kernel's page cache (zdb's contract
# without --sync). Each run starts after a sync, and M keeps the 1 MiB run
# (1 GiB by default) within what this machine's page cache absorbs before
# it throttles writers to the disk's own speed (~300-450 MB/s here, as
# `dd bs=1M count=2000` after a dirty run shows).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ "${QUICK:-0}" == 1 ]]; then
	: "${N_P1:=5000}" "${N_P16:=20000}" "${M:=100}" "${MEM_KEYS:=100000}" "${N_SYNC:=5000}"
fi
N_P1=${N_P1:-100000}
N_P16=${N_P16:-400000}
M=${M:-1000}
N_SYNC=${N_SYNC:-100000}
KEYSPACE=${KEYSPACE:-100000}
MEM_KEYS=${MEM_KEYS:-1000000}
RUN_TIMEOUT=${RUN_TIMEOUT:-90}
RESULTS=${RESULTS:-/tmp/zdb-bench-$(date +%Y%m%d-%H%M%S)}

for tool in go redis-server redis-cli redis-benchmark timeout; do
	command -v "$tool" >/dev/null || { echo "zdb.sh: $tool not found (apt-get install redis-server redis-tools)" >&2; exit 1; }
done

mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/zdb-bench-work.XXXXXX)
PIDS=()      # servers we started
CUR=""       # the benchmark/loader running in the background right now
NOTES=()     # oddities found on the way, printed at the end

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
note() { NOTES+=("$*"); log "NOTE: $*"; }

stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		note "pid $pid did not stop within 5s of SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -n "$CUR" ]] && stop_pid "$CUR"
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	if [[ "${KEEP_DATA:-0}" == 1 ]]; then
		log "data kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a command in the background (so signals reach our trap at once) and
# wait for it; returns its exit status.
run() {
	"$@" &
	CUR=$!
	local rc=0
	wait "$CUR" || rc=$?
	CUR=""
	return "$rc"
}

free_port() {
	local p i
	for i in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "zdb.sh: no free port found" >&2
	return 1
}

wait_ready() { # port pid name
	local i
	for i in $(seq 100); do
		if ! kill -0 "$2" 2>/dev/null; then
			echo "zdb.sh: $3 exited during startup (see $RESULTS/$3.log)" >&2
			return 1
		fi
		[[ "$(redis-cli -p "$1" PING 2>/dev/null)" == PONG ]] && return 0
		sleep 0.1
	done
	echo "zdb.sh: $3 not answering PING on port $1" >&2
	return 1
}

# start_zdb name [extra flags...]: sets ZPORT and ZPID.
start_zdb() {
	local name=$1
	shift
	ZPORT=$(free_port)
	mkdir -p "$WORK/$name"
	./bin/zdb --data "$WORK/$name/data" --index "$WORK/$name/index" \
		--listen 127.0.0.1 --port "$ZPORT" "$@" >"$RESULTS/$name.log" 2>&1 &
	ZPID=$!
	PIDS+=("$ZPID")
	wait_ready "$ZPORT" "$ZPID" "$name"
	log "$name: pid $ZPID port $ZPORT $*"
}

# start_redis name: sets RPORT and RPID.
start_redis() {
	local name=$1
	RPORT=$(free_port)
	mkdir -p "$WORK/$name"
	redis-server --save '' --appendonly no --port "$RPORT" --bind 127.0.0.1 \
		--daemonize no --dir "$WORK/$name" >"$RESULTS/$name.log" 2>&1 &
	RPID=$!
	PIDS+=("$RPID")
	wait_ready "$RPORT" "$RPID" "$name"
	log "$name: pid $RPID port $RPORT"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

info_field() { # port field -> value from INFO (zdb) / NSINFO default
	redis-cli -p "$1" "${@:3}" 2>/dev/null | tr -d '\r' | awk -F': *' -v f="$2" '$1 == f {print $2; exit}'
}

# ---------------------------------------------------------------- build
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
	log "building bin/zdb"
	go build -o bin/ ./cmd/...
fi
[[ -x bin/zdb ]] || { echo "zdb.sh: bin/zdb missing" >&2; exit 1; }
go build -o "$WORK/zdbload" ./bench/cmd/zdbload
go build -o "$WORK/diskceiling" ./bench/cmd/diskceiling
{
	echo "date: $(date -Is)"
	echo "host: $(uname -a)"
	echo "cpus: $(nproc)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) $(git status --porcelain 2>/dev/null | grep -q . && echo dirty)"
	echo "redis: $(redis-server --version)"
	echo "redis-benchmark: $(redis-benchmark --version)"
	echo "N_P1=$N_P1 N_P16=$N_P16 M=$M KEYSPACE=$KEYSPACE MEM_KEYS=$MEM_KEYS"
} >"$RESULTS/env.txt"

# ---------------------------------------------------------------- throughput
start_zdb zdb-bench
BZ_PORT=$ZPORT BZ_PID=$ZPID
start_redis redis-bench
BR_PORT=$RPORT BR_PID=$RPID

declare -A RPS # RPS[<row>/<server>]

# bench row server port test args...
bench() {
	local row=$1 server=$2 port=$3 test=$4
	shift 4
	local out="$RESULTS/${row}.${server}"
	local -a cmd=(redis-benchmark -h 127.0.0.1 -p "$port" --csv -t "$test" "$@")
	echo "${cmd[*]}" >"$out.cmd"
	local before_failed="" before_wr=""
	if [[ $server == zdb ]]; then
		before_failed=$(info_field "$port" commands_failed INFO)
		before_wr=$(info_field "$port" data_disk_write_bytes INFO)
	fi
	local rc=0 t0 t1
	# Start every run from a clean page cache: writes left dirty by the run
	# before would otherwise throttle this one to disk speed.
	sync
	t0=$(date +%s.%N)
	run timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$out.csv" 2>"$out.err" || rc=$?
	t1=$(date +%s.%N)
	local rps
	rps=$(awk -F'"' -v t="${test^^}" '$2 == t {print $4}' "$out.csv")
	if [[ $rc -ne 0 ]]; then
		if [[ $rc -eq 124 ]]; then
			note "$row vs $server: redis-benchmark timed out after ${RUN_TIMEOUT}s (see $out.err)"
		else
			note "$row vs $server: redis-benchmark exited $rc (see $out.err)"
		fi
		rps=""
	fi
	RPS[$row/$server]=${rps:-NA}
	if grep -v -e '^WARNING: Could not fetch server CONFIG' -e '^$' "$out.err" | grep -q .; then
		note "$row vs $server: redis-benchmark stderr: $(grep -v '^WARNING: Could not fetch server CONFIG' "$out.err" | sort | uniq -c | head -3 | tr -s ' \n' ' ')"
	fi
	if [[ $server == zdb ]]; then
		local after_failed
		after_failed=$(info_field "$port" commands_failed INFO)
		# redis-benchmark's startup "CONFIG GET save" and "CONFIG GET
		# appendonly" fail on zdb (it prints "WARNING: Could not fetch server
		# CONFIG" and goes on): 2 failures per run are expected.
		if [[ -n "$before_failed" && -n "$after_failed" ]] && ((after_failed - before_failed != 2)); then
			note "$row vs zdb: commands_failed went $before_failed -> $after_failed (2 expected: the CONFIG GETs)"
		fi
		kill -0 "$BZ_PID" 2>/dev/null || { note "zdb died during $row"; exit 1; }
		local after_wr
		after_wr=$(info_field "$port" data_disk_write_bytes INFO)
		if [[ -n "$before_wr" && -n "$after_wr" ]]; then
			printf '%-15s zdb appended %8.1f MB to its data files\n' "$row" \
				"$(echo "($after_wr - $before_wr) / 1000000" | bc -l)" >>"$RESULTS/zdb-writes.txt"
		fi
	fi
	log "$(printf '%-14s %-5s %12s rps  (%.1fs)' "$row" "$server" "${RPS[$row/$server]}" "$(echo "$t1 - $t0" | bc -l)")"
}

# Both servers run the same sequence; SETs first so the GETs find keys
# (same -r, same key:<12 digits> space).
both() {
	bench "$1" zdb "$BZ_PORT" "${@:2}"
	bench "$1" redis "$BR_PORT" "${@:2}"
}
both set-4k-p1 set -d 4096 -c 50 -r "$KEYSPACE" -n "$N_P1" -P 1
both set-4k-p16 set -d 4096 -c 50 -r "$KEYSPACE" -n "$N_P16" -P 16
# The same with a fresh key every time: every SET appends (redis-benchmark
# sends one constant payload, so above most SETs rewrite an unchanged value).
both set-4k-p16-new set -d 4096 -c 50 -r 1000000000 -n "$N_P16" -P 16
for s in zdb:$BZ_PORT redis:$BR_PORT; do
	p=${s#*:}
	if [[ ${s%%:*} == zdb ]]; then
		k=$(info_field "$p" entries NSINFO default)
	else
		k=$(redis-cli -p "$p" DBSIZE)
	fi
	echo "${s%%:*} keys after 4 KiB SETs: $k (of $KEYSPACE possible)" | tee -a "$RESULTS/keys.txt" >&2
done
# Sanity: a key present in both must read back as 4096 bytes from both.
for i in $(seq 0 50); do
	key=$(printf 'key:%012d' "$i")
	zv=$(redis-cli -p "$BZ_PORT" GET "$key" 2>/dev/null | head -c 5000 | tr -d '\n' | wc -c)
	rv=$(redis-cli -p "$BR_PORT" GET "$key" 2>/dev/null | head -c 5000 | tr -d '\n' | wc -c)
	if ((zv > 0 && rv > 0)); then
		echo "GET $key: zdb $zv bytes, redis $rv bytes" >>"$RESULTS/keys.txt"
		((zv == 4096 && rv == 4096)) || note "GET $key returned $zv bytes from zdb, $rv from redis (4096 expected)"
		break
	fi
done
both get-4k-p1 get -d 4096 -c 50 -r "$KEYSPACE" -n "$N_P1" -P 1
both get-4k-p16 get -d 4096 -c 50 -r "$KEYSPACE" -n "$N_P16" -P 16
# 1 MiB: distinct keys (real writes), then the literal same-key form.
both set-1m-c4 set -d 1048576 -c 4 -r 1000000000 -n "$M"
# The reference for that row: how fast a plain program appends the same
# amount to a fresh file on this disk, in the same run (after a sync, as
# every run). This VM's disk is noisy: compare the two, not absolutes.
sync
CEIL=$("$WORK/diskceiling" -dir "$WORK" -mib "$M" 2>>"$RESULTS/diskceiling.err" || echo NA)
echo "$CEIL" >"$RESULTS/diskceiling.txt"
both set-1m-c4-same set -d 1048576 -c 4 -n "$M"

# Durable writes: a zdb with --sync acknowledges only after fdatasync;
# concurrent clients share each flush (group commit).
start_zdb zdb-sync --sync
bench set-4k-p1-sync zdb "$ZPORT" set -d 4096 -c 50 -r 1000000000 -n "$N_SYNC" -P 1
bench set-4k-p16-sync zdb "$ZPORT" set -d 4096 -c 50 -r 1000000000 -n "$N_SYNC" -P 16

redis-cli -p "$BZ_PORT" INFO >"$RESULTS/zdb-bench.info" 2>&1 || true
redis-cli -p "$BZ_PORT" NSINFO default >"$RESULTS/zdb-bench.nsinfo" 2>&1 || true
redis-cli -p "$BR_PORT" INFO >"$RESULTS/redis-bench.info" 2>&1 || true
stop_pid "$BZ_PID"
stop_pid "$BR_PID"

# ---------------------------------------------------------------- memory
declare -A MEM # MEM[<name>] = bytes/key

# mem name pid port loader-mode
mem() {
	local name=$1 pid=$2 port=$3 lmode=$4
	local before after settled
	# Warm up first, so fixed costs (connection buffers, runtime arenas)
	# are in the baseline and the delta is what the keys themselves cost.
	run "$WORK/zdbload" -addr "127.0.0.1:$port" -n 20000 -mode "$lmode" -vsize 8 -keyfmt "warm:%012d" \
		>"$RESULTS/mem-$name.warm" 2>&1 || true
	sleep 0.5
	before=$(rss_kb "$pid")
	if ! run "$WORK/zdbload" -addr "127.0.0.1:$port" -n "$MEM_KEYS" -mode "$lmode" -vsize 8 \
		>"$RESULTS/mem-$name.load" 2>&1; then
		note "memory load into $name failed: $(tail -2 "$RESULTS/mem-$name.load" | tr '\n' ' ')"
		MEM[$name]=NA
		return 0
	fi
	after=$(rss_kb "$pid")
	sleep 1
	settled=$(rss_kb "$pid")
	{
		echo "rss_before_kb=$before rss_after_kb=$after rss_after_1s_kb=$settled keys=$MEM_KEYS"
		grep -E '^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem)' "/proc/$pid/status"
	} >>"$RESULTS/mem-$name.load"
	MEM[$name]=$(echo "($settled - $before) * 1024 / $MEM_KEYS" | bc -l)
	log "$(printf '%-10s rss %d kB -> %d kB (%d kB after 1s): %.1f B/key' "$name" "$before" "$after" "$settled" "${MEM[$name]}")"
}

start_zdb zdb-mem-user
mem zdb-user "$ZPID" "$ZPORT" user
redis-cli -p "$ZPORT" NSINFO default >"$RESULTS/mem-zdb-user.nsinfo" 2>&1 || true
stop_pid "$ZPID"

start_zdb zdb-mem-seq --mode seq
mem zdb-seq "$ZPID" "$ZPORT" seq
redis-cli -p "$ZPORT" NSINFO default >"$RESULTS/mem-zdb-seq.nsinfo" 2>&1 || true
stop_pid "$ZPID"

start_redis redis-mem
mem redis-user "$RPID" "$RPORT" user
stop_pid "$RPID"

for f in "$RESULTS"/zdb-*.log; do
	if grep -qiE 'panic|level=ERROR|fatal' "$f"; then
		note "$(basename "$f"): $(grep -ciE 'panic|level=ERROR|fatal' "$f") error/panic lines, first: $(grep -iE -m1 'panic|level=ERROR|fatal' "$f")"
	fi
done

# ---------------------------------------------------------------- report
fmt_rps() { [[ $1 == NA ]] && echo NA || printf '%.0f' "$1"; }
ratio() { [[ $1 == NA || $2 == NA ]] && echo NA || printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
mbps() { [[ $1 == NA ]] && echo NA || printf '%.0f' "$(echo "$1 * 1048576 / 1000000" | bc -l)"; }
ge() { [[ $1 != NA ]] && (($(echo "$1 >= $2" | bc -l))); }

report() {
	echo
	echo "## zdb vs redis-server (in-memory), redis-benchmark, $(nproc) CPUs"
	echo
	echo "| test | zdb rps | redis rps | zdb/redis | target | met |"
	echo "|---|---:|---:|---:|---|---|"
	local row label target z r q met
	for row in set-4k-p1 get-4k-p1 set-4k-p16 get-4k-p16 set-4k-p16-new; do
		z=${RPS[$row/zdb]} r=${RPS[$row/redis]} q=$(ratio "${RPS[$row/zdb]}" "${RPS[$row/redis]}")
		case $row in
		set-4k-p1) label="SET 4KiB P1 (c50, n=$N_P1)" ;;
		get-4k-p1) label="GET 4KiB P1 (c50, n=$N_P1)" ;;
		set-4k-p16) label="SET 4KiB P16 (c50, n=$N_P16)" ;;
		get-4k-p16) label="GET 4KiB P16 (c50, n=$N_P16)" ;;
		set-4k-p16-new) label="SET 4KiB P16, a new key every time (c50, n=$N_P16)" ;;
		esac
		if [[ $row == *p16 ]]; then
			target="≥ 0.8×"
			if ge "$q" 0.8; then met=yes; else met=NO; fi
		else
			target="–" met="–"
		fi
		echo "| $label | $(fmt_rps "$z") | $(fmt_rps "$r") | $q | $target | $met |"
	done
	for row in set-1m-c4 set-1m-c4-same; do
		z=${RPS[$row/zdb]} r=${RPS[$row/redis]} q=$(ratio "$z" "$r")
		if [[ $row == set-1m-c4 ]]; then
			label="SET 1MiB c4 distinct keys (n=$M)"
		else
			label="SET 1MiB c4 same key, unchanged value (n=$M)"
		fi
		if [[ $row == set-1m-c4 ]]; then
			target="≥ 1.5× and ≥ 800 MB/s"
			if ge "$q" 1.5 && ge "$(mbps "$z")" 800; then met=yes; else met=NO; fi
		else
			target="– (info: zdb compares, does not append)" met="–"
		fi
		echo "| $label | $(fmt_rps "$z") ($(mbps "$z") MB/s) | $(fmt_rps "$r") ($(mbps "$r") MB/s) | $q | $target | $met |"
	done
	echo
	echo "Plain file appends on this disk in the same run (pwrite of $M × 1 MiB to a fresh file, no fsync): $CEIL MB/s;"
	echo "zdb's 1 MiB SET: $(mbps "${RPS[set-1m-c4/zdb]}") MB/s."
	echo
	echo "zdb --sync (acknowledged after fdatasync, group commit), SET 4KiB, a new key every time (c50, n=$N_SYNC):"
	echo "P1 $(fmt_rps "${RPS[set-4k-p1-sync/zdb]}") rps, P16 $(fmt_rps "${RPS[set-4k-p16-sync/zdb]}") rps."
	echo
	echo "## resident memory per key ($MEM_KEYS keys, 8-byte values, ΔVmRSS / keys)"
	echo
	echo "| server / mode | key | bytes/key | target | met |"
	echo "|---|---|---:|---|---|"
	local b
	b=${MEM[zdb-user]}
	echo "| zdb user | key:%012d (16 B) | $([[ $b == NA ]] && echo NA || printf '%.1f' "$b") | ≤ 80 (64 + key 16) | $([[ $b != NA ]] && (($(echo "$b <= 80" | bc -l))) && echo yes || echo NO) |"
	b=${MEM[zdb-seq]}
	echo "| zdb seq | \"\" (8-byte id) | $([[ $b == NA ]] && echo NA || printf '%.1f' "$b") | ≤ 16 | $([[ $b != NA ]] && (($(echo "$b <= 16" | bc -l))) && echo yes || echo NO) |"
	b=${MEM[redis-user]}
	echo "| redis-server (reference) | key:%012d (16 B) | $([[ $b == NA ]] && echo NA || printf '%.1f' "$b") | – | – |"
	echo
	cat "$RESULTS/keys.txt"
	[[ -f "$RESULTS/zdb-writes.txt" ]] && cat "$RESULTS/zdb-writes.txt"
	if ((${#NOTES[@]})); then
		echo
		echo "Notes:"
		local n
		for n in "${NOTES[@]}"; do echo "- $n"; done
	fi
	echo
	echo "raw outputs: $RESULTS"
}
report | tee "$RESULTS/report.md"
