#!/usr/bin/env bash
# bench/s3.sh: zstor's S3 gateway end to end on this machine: 16+4 over 20
# local zdb backends in 4 groups, the gateway in the benchmark's process
# on a loopback port, driven over HTTP by minio-go (in a child process).
# One run with the backends in their default mode (writes acknowledged
# from the page cache) and one with --sync (every shard fsynced before it
# is acknowledged).
#
# Each run puts and gets one large incompressible object (minio-go's
# multipart upload from a stream), PAR objects of PAR_SIZE in parallel,
# and SMALL 4 KiB objects with WORKERS workers; it prints MB/s, ops/s,
# p50/p99 against the gateway's targets (large PUT >= 400 MB/s, large GET
# >= 700 MB/s, 4 KiB PUT >= 2,000 ops/s, GET >= 4,000 ops/s), the CPU of
# the gateway's process, of the client and of the backends per phase, and
# the peak RSS.
#
# Usage: bench/s3.sh                 (1 GiB, 16 x 64 MiB, 10,000 small, both modes)
#        QUICK=1 bench/s3.sh         (256 MiB, 4 x 64 MiB, 2,000 small)
#        PROFILE=small bench/s3.sh   (also a CPU profile of the gateway's
#                                     process during the 4 KiB phase:
#                                     RESULTS/<mode>.small.pprof; or large,
#                                     parallel, all)
#        bench/s3.sh -part-threads 4 (extra arguments go to s3bench)
# Environment: SIZE, PAR, PAR_SIZE, SMALL, WORKERS, MODES ("default sync"),
# PROFILE, RESULTS dir.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ "${QUICK:-0}" == 1 ]]; then
	: "${SIZE:=256MiB}" "${PAR:=4}" "${SMALL:=2000}"
fi
SIZE=${SIZE:-1GiB}
PAR=${PAR:-16}
PAR_SIZE=${PAR_SIZE:-64MiB}
SMALL=${SMALL:-10000}
WORKERS=${WORKERS:-16}
MODES=${MODES:-default sync}
PROFILE=${PROFILE:-}
RESULTS=${RESULTS:-/tmp/s3-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
go build -o "$RESULTS/s3bench" ./bench/cmd/s3bench
for mode in $MODES; do
	args=(-size "$SIZE" -par "$PAR" -par-size "$PAR_SIZE" -small "$SMALL" -workers "$WORKERS")
	[[ "$mode" == sync ]] && args+=(-sync)
	[[ -n "$PROFILE" ]] && args+=(-cpuprofile "$RESULTS/$mode.$PROFILE.pprof" -cpuprofile-phase "$PROFILE")
	echo "== mode: $mode"
	sync
	"$RESULTS/s3bench" "${args[@]}" "$@" | tee "$RESULTS/$mode.txt"
done
echo "raw outputs in $RESULTS"
