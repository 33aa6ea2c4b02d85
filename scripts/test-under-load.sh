#!/usr/bin/env bash
# Runs the race-enabled suite, the same as make test's unit step, while
# busy loops (LOADERS of them, four by default) keep every CPU saturated, as
# other jobs do on a shared CI machine. A test that asserts a wall-clock
# bound CPU contention can break fails here: tests must assert ordering,
# counts and the server's own counters, and derive any deadline generously
# from the configured timeouts.
#
# The busy loops are bounded (each stops after LOAD_SECONDS on its own) and
# killed by their PIDs when the script exits, however it exits.
set -euo pipefail
GO=${GO:-go}
LOADERS=${LOADERS:-4}
LOAD_SECONDS=${LOAD_SECONDS:-3600}
cd "$(dirname "$0")/.."

pids=()   # the busy loops
gopid=""  # go test, run in the background so that a signal is handled at once
stop_load() {
	for pid in "${pids[@]}" $gopid; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap stop_load EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for ((i = 0; i < LOADERS; i++)); do
	# SECONDS is bash's own clock: the loop forks nothing and is the PID.
	bash -c 'while ((SECONDS < $0)); do :; done' "$LOAD_SECONDS" &
	pids+=("$!")
done
echo "test-under-load: ${LOADERS} busy loops (PIDs ${pids[*]}) on $(nproc) CPUs"

"$GO" test -race -shuffle=on -count=1 -timeout 30m ./... &
gopid=$!
status=0
wait "$gopid" || status=$?
gopid=""
exit "$status"
