#!/bin/bash
# Benchmark: time from `slipway deploy` to live, for a first deploy and for redeploys (blue/green swap of a
# running component), on a private slipwayd with a busybox httpd image built over the test fixture.  Prints
# each run and the median.  Everything runs on a temporary state dir; instances, routes and bridges are
# removed at the end (project delete --force), then slipwayd and its slipway-proxy are stopped.
#
# Usage: tests/bench/deploy.sh [BUILD_DIR]      (env: BENCH_RUNS=5)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
runs=${BENCH_RUNS:-5}
py=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "deploy.sh: run as root (containers, netns, nftables)." >&2; exit 2; }
[ -x "$build/appliance/engine/slipwayd" ] || { echo "deploy.sh: build first (meson setup build && ninja -C build)." >&2; exit 1; }

. "$top/tests/bench/bench-daemon.sh"
bench_daemon_up deploy
for v in a b; do
        bench_httpd_image "$work/$v" "bench:$v" "version $v"
done
cli project create bench >/dev/null
cli component create bench/web --image bench:a --health http:/healthz >/dev/null

times=()
for i in $(seq 0 "$runs"); do
        v=$([ $((i % 2)) -eq 0 ] && echo a || echo b)
        t0=$(date +%s.%N)
        cli deploy bench/web development --image "bench:$v" >/dev/null
        t1=$(date +%s.%N)
        dt=$($py -c "print(f'{$t1 - $t0:.2f}')")
        if [ "$i" -eq 0 ]; then
                echo "first deploy:  ${dt}s"
        else
                echo "redeploy $i:    ${dt}s"
                times+=("$dt")
        fi
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "median redeploy (slipway deploy → live): ${median}s over $runs runs"
