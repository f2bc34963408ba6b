#!/usr/bin/env bash
# bench/zstor.sh: zstor end to end on this machine: 16+4 over 20 local zdb
# backends in 4 groups. One run with the backends in their default mode
# (writes acknowledged from the page cache) and one with --sync (every
# shard fsynced before it is acknowledged).
#
# Each run stores and retrieves one large incompressible object and
# SMALL 4 KiB objects with 16 concurrent clients, then repeats the reads
# with one backend slowed by 200 ms and with 4 backends killed; it prints
# MB/s, objects/s, p50/p99, zstor's peak RSS, and the raw memcpy and
# `dd conv=fdatasync` rates measured in the same run.
#
# Usage: bench/zstor.sh              (2 GiB, 10,000 small objects, both modes)
#        QUICK=1 bench/zstor.sh      (256 MiB, 2,000 small objects)
# Environment: SIZE, SMALL, CLIENTS, MODES ("default sync"), RESULTS dir.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ "${QUICK:-0}" == 1 ]]; then
	: "${SIZE:=256MiB}" "${SMALL:=2000}"
fi
SIZE=${SIZE:-2GiB}
SMALL=${SMALL:-10000}
CLIENTS=${CLIENTS:-16}
MODES=${MODES:-default sync}
RESULTS=${RESULTS:-/tmp/zstor-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
go build -o "$RESULTS/zstorbench" ./bench/cmd/zstorbench
for mode in $MODES; do
	args=(-size "$SIZE" -small "$SMALL" -clients "$CLIENTS")
	[[ "$mode" == sync ]] && args+=(-sync)
	echo "== mode: $mode"
	sync
	"$RESULTS/zstorbench" "${args[@]}" | tee "$RESULTS/$mode.txt"
done
echo "raw outputs in $RESULTS"
