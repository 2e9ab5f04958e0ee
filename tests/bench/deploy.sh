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

work=$(mktemp -d /tmp/slipway-bench-deploy.XXXXXX)
state=$work/state
cli() { "$build/appliance/cli/slipway" --state-dir "$state" "$@"; }
daemon_pid=
cleanup() {
        if [ -n "$daemon_pid" ]; then
                cli project delete bench --force >/dev/null 2>&1 || true
                kill "$daemon_pid" 2>/dev/null || true
                wait "$daemon_pid" 2>/dev/null || true
                proxy=$(pgrep -f "slipway-proxy serve --state-dir $state\$" || true)
                [ -n "$proxy" ] && kill $proxy 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

base=$($py -c 'import random; print(random.randrange(30000, 39000))')
api=127.0.0.1:$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/appliance/engine/slipwayd" --state-dir "$state" --api "$api" --ingress-base-port "$base" \
        >"$work/slipwayd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -f "$state/api.url" ] && break; sleep 0.1; done

images=$($py -c "
import sys; sys.path.insert(0, '$top/tests/fixtures'); import slipway_images, os
out = os.environ.get('SLIPWAY_FIXTURE_CACHE', '/var/tmp/slipway-test-images') + '/v' + str(slipway_images.FIXTURE_VERSION)
slipway_images.make_all(out); print(out)")
cli image import "$images/busybox.oci.tar" >/dev/null
for v in a b; do
        mkdir -p "$work/$v/www"
        echo "version $v" >"$work/$v/www/index.html"
        echo ok >"$work/$v/www/healthz"
        printf '%s\n' 'FROM busybox:1' 'COPY www /www' \
                "CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]" 'EXPOSE 8080' \
                >"$work/$v/Dockerfile"
        cli image build "$work/$v" -t "bench:$v" >/dev/null
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
