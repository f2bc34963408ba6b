#!/usr/bin/env bash
# bench/repair.sh: zstor's self-healing end to end on this machine: 16+4
# over 22 local zdb backends in 4 groups (20 for the shards plus a spare
# for each of the 2 backends the run kills).
#
# It fills the store, times an idle store as the reference, then kills
# the backend holding the most shards and times the background repair
# back to full redundancy (detection delay printed apart: terminal_after
# is 1 s), then kills a second one and times a store running during that
# repair. It reads 2 random objects back byte for byte and checks their
# shards, and prints one line per figure with CPU per phase and peak RSS
# against the targets: repair >= 300 MB/s of rebuilt shards, store during
# repair >= 70% of idle.
#
# Usage: bench/repair.sh              (4 GiB fill as 64 MiB objects, 512 MiB probes)
#        QUICK=1 bench/repair.sh      (512 MiB fill)
# Environment: SIZE, OBJECT, PROBE, WRITERS, WORKERS, RATE, RESULTS dir;
# extra arguments go to repairbench (see repairbench -h).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ "${QUICK:-0}" == 1 ]]; then
	: "${SIZE:=512MiB}"
fi
SIZE=${SIZE:-4GiB}
OBJECT=${OBJECT:-64MiB}
PROBE=${PROBE:-512MiB}
WRITERS=${WRITERS:-2}
WORKERS=${WORKERS:-2}
RATE=${RATE:-64MiB}
RESULTS=${RESULTS:-/tmp/repair-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
go build -o "$RESULTS/repairbench" ./bench/cmd/repairbench
sync
"$RESULTS/repairbench" -size "$SIZE" -object "$OBJECT" -probe "$PROBE" \
	-writers "$WRITERS" -workers "$WORKERS" -rate "$RATE" "$@" | tee "$RESULTS/repair.txt"
echo "raw output in $RESULTS"
