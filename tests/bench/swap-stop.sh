#!/bin/bash
# Benchmark: how long a blue/green swap keeps the old instance of the quickstart demo (busybox httpd, which
# installs no SIGTERM handler) after it drained, and what that does to redeploys in a row.  N redeploys of
# packaging/demo run back to back, as a person or a CI job would; for each: the time `slipway deploy` took
# and, from the deploy log's timestamps, the time from "release R is live" (the old instance drains) to
# "previous instance I stopped" (it is gone).  Runs on a temporary state dir; everything is removed at the end.
#
# Usage: tests/bench/swap-stop.sh [BUILD_DIR]      (env: BENCH_RUNS=5)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
runs=${BENCH_RUNS:-5}
py=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "swap-stop.sh: run as root (containers, netns, nftables)." >&2; exit 2; }
[ -x "$build/appliance/engine/slipwayd" ] || { echo "swap-stop.sh: build first (meson setup build && ninja -C build)." >&2; exit 1; }

. "$top/tests/bench/bench-daemon.sh"
bench_daemon_up swap-stop
cli image build "$top/packaging/demo" --build-arg BASE=busybox:1 -t demo:1 >/dev/null
cli project create bench >/dev/null
cli component create bench/demo --image demo:1 --health http:/ >/dev/null
cli deploy bench/demo development --image demo:1 >/dev/null

releases=()
walls=()
for i in $(seq 1 "$runs"); do
        t0=$(date +%s.%N)
        rel=$(cli --json deploy bench/demo development --image demo:1 | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')
        t1=$(date +%s.%N)
        releases+=("$rel")
        walls+=("$($py -c "print(f'{$t1 - $t0:.2f}')")")
done

# Each release's own log: from its "is live" line to the "previous instance … stopped" line (the last stop
# may still be under way when the loop ends: wait for it).
$py - "$state/slipway.db" "${walls[*]}" "${releases[@]}" <<'EOF'
import sqlite3, statistics, sys, time
db, walls, releases = sys.argv[1], sys.argv[2].split(), [int(r) for r in sys.argv[3:]]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
gaps = []
for n, (rel, wall) in enumerate(zip(releases, walls), 1):
        deadline = time.monotonic() + 30
        while True:
                rows = dict(con.execute(
                        "SELECT CASE WHEN line LIKE 'previous instance % stopped%' THEN 'stopped' ELSE 'live' END, at"
                        " FROM deploy_log WHERE release_id = ? AND (line = ? OR line LIKE 'previous instance % stopped%')",
                        (rel, f"release {rel} is live")).fetchall())
                if "stopped" in rows or time.monotonic() > deadline:
                        break
                time.sleep(0.1)
        if "stopped" not in rows or "live" not in rows:
                sys.exit(f"swap-stop.sh: release {rel} has no live/stopped lines in its deploy log")
        gap = (rows["stopped"] - rows["live"]) / 1e6
        gaps.append(gap)
        print(f"redeploy {n}: slipway deploy {wall} s, drain -> old instance gone {gap:.2f} s")
print(f"median over {len(gaps)}: slipway deploy {statistics.median(float(w) for w in walls):.2f} s, "
      f"drain -> old instance gone {statistics.median(gaps):.2f} s")
EOF
