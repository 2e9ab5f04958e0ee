#!/bin/bash
# Benchmark: what configs and secrets cost a deploy.  Two components run the same busybox httpd image; one has
# no values, the other 50 (35 plain environment variables, 10 secrets, 5 files).  Redeploys alternate between
# them and the bench prints each time (slipway deploy → live) and the ratio of the medians (goal ≤ 1.05).
# Everything runs on a private slipwayd on a temporary state dir (bench-daemon.sh), removed at the end.
#
# Usage: tests/bench/deploy-values.sh [BUILD_DIR]      (env: BENCH_RUNS=7)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
runs=${BENCH_RUNS:-7}
py=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "deploy-values.sh: run as root (containers, netns, nftables)." >&2; exit 2; }
[ -x "$build/appliance/engine/slipwayd" ] || { echo "deploy-values.sh: build first (meson setup build && ninja -C build)." >&2; exit 1; }

. "$top/tests/bench/bench-daemon.sh"
bench_daemon_up deploy-values
bench_httpd_image "$work/img" "bench:a" "version a"
cli project create bench >/dev/null
for c in plain valued; do
        cli component create "bench/$c" --image bench:a --health http:/healthz >/dev/null
done
for i in $(seq 1 35); do
        cli config set bench/valued development "PLAIN_$i=value number $i of the plain ones" >/dev/null
done
for i in $(seq 1 10); do
        cli config set bench/valued development "SECRET_$i=s3cr3t-$i-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
                --secret >/dev/null
done
for i in $(seq 1 5); do
        head -c 2048 /dev/urandom | base64 >"$work/file-$i"
        cli config set bench/valued development "FILE_$i" --file "/etc/bench/file-$i.conf" \
                --from-file "$work/file-$i" >/dev/null
done

plain=() valued=()
for i in $(seq 0 "$runs"); do
        for c in plain valued; do
                t0=$(date +%s.%N)
                cli deploy "bench/$c" development >/dev/null
                t1=$(date +%s.%N)
                dt=$($py -c "print(f'{$t1 - $t0:.3f}')")
                # The first deploy of each makes its instance from nothing; only redeploys (swaps) count.
                [ "$i" -eq 0 ] && { echo "first deploy $c: ${dt}s"; continue; }
                echo "redeploy $i $c: ${dt}s"
                if [ "$c" = plain ]; then plain+=("$dt"); else valued+=("$dt"); fi
        done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mp=$(median "${plain[@]}")
mv=$(median "${valued[@]}")
echo "median redeploy without values: ${mp}s, with 50 values (10 secret, 5 files): ${mv}s over $runs runs"
echo "ratio with/without: $($py -c "print(f'{$mv / $mp:.3f}')") (goal <= 1.05)"
