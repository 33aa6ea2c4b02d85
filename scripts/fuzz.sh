#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (go test -fuzz takes
# one target per run). New interesting inputs stay in the Go build cache;
# failing inputs are written to the package's testdata/fuzz/ by go test.
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" when
# -fuzztime runs out while a worker is mid-input (golang/go#75804, fixed in
# Go 1.27): a failure with no input found. Such a run, and only such a run
# (no "Failing input written", no panic or test error), is retried, twice at
# most; anything else fails at once.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_flake reports whether the log of a failed run is only the
# coordinator's deadline race.
deadline_flake() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

status=0
for pkg in $($GO list ./...); do
	targets=$($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for t in $targets; do
		for try in 1 2 3; do
			echo "fuzz $pkg $t ($FUZZTIME)"
			if $GO test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$log"; then
				break
			fi
			if [ "$try" -lt 3 ] && deadline_flake; then
				echo "fuzz $pkg $t: the fuzz coordinator's deadline race (golang/go#75804), no failing input: running it again"
				continue
			fi
			status=1
			break
		done
	done
done
exit $status
