#!/bin/bash
# Registry bench: `skopeo copy` of a ~200 MiB multi-layer image of random data into and out of slipwayd's /v2/
# against Debian's docker-registry (distribution v2, filesystem storage) on the same box, both over plain HTTP
# on loopback with Basic auth on ours.  Each run starts both on fresh storage (a new state dir for slipwayd),
# so every blob is sent; the pull goes into a fresh OCI layout.
# Medians of --runs alternating runs; throughput ratio slipway/docker-registry (>= 1.0: we are as fast or faster).
#
# usage: tests/bench/registry.sh [--size-mb N] [--layers N] [--runs N]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SLIPWAY_BUILD_DIR:-$top/build}
size_mb=200 layers=5 runs=3
while [ $# -gt 0 ]; do
        case $1 in
        --size-mb) size_mb=$2; shift 2 ;;
        --layers) layers=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "registry.sh: unknown option '$1'." >&2; exit 2 ;;
        esac
done

. "$top/tests/bench/bench-daemon.sh"
bench_binaries registry.sh
for t in skopeo docker-registry; do
        command -v "$t" >/dev/null || { echo "registry.sh: $t is missing; run packaging/install-deps." >&2; exit 1; }
done

py=/usr/bin/python3
bench_daemon_setup registry /var/tmp
reg_pid=
cleanup() {
        [ -n "$reg_pid" ] && { kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; }
        bench_daemon_cleanup
}
trap cleanup EXIT

echo "making a ${size_mb} MiB image of $layers layers of random data ..."
"$top/tests/fixtures/make-images" --large-only "$work/image.tar" --large-mb "$size_mb" --layers "$layers"
bytes=$(stat -c %s "$work/image.tar")
# The source as an OCI layout on disk, so both registries are fed from the same files.
skopeo copy --quiet "oci-archive:$work/image.tar" "oci:$work/src:large"

reg_port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_registry() {
        rm -rf "$work/reg-data"
        cat >"$work/reg.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/reg-data
http:
  addr: 127.0.0.1:$reg_port
YML
        docker-registry serve "$work/reg.yml" >"$work/reg.log" 2>&1 &
        reg_pid=$!
        for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$reg_port") 2>/dev/null && return 0; sleep 0.05; done
        echo "registry.sh: docker-registry did not start:" >&2; cat "$work/reg.log" >&2; exit 1
}
stop_registry() { kill "$reg_pid"; wait "$reg_pid" 2>/dev/null || true; reg_pid=; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mbps() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.0f", b / 1048576 / t }'; }

sl_in=() sl_out=() dr_in=() dr_out=()
for i in $(seq 1 "$runs"); do
        # ours: a fresh state dir, so every blob is sent
        [ -n "$daemon_pid" ] && bench_daemon_stop
        state=$work/state$i
        bench_daemon_start
        api=$(cat "$state/api.url")
        ours=${api#http://}
        token=$(cat "$state/admin.token")
        rm -rf "$work/out"
        sync
        t0=$(now)
        skopeo copy --quiet --dest-tls-verify=false --dest-creds "admin:$token" "oci:$work/src:large" \
                "docker://$ours/bench/large$i:1"
        t1=$(now)
        skopeo copy --quiet --src-tls-verify=false --src-creds "admin:$token" "docker://$ours/bench/large$i:1" \
                "oci:$work/out:x"
        t2=$(now)
        sl_in+=("$(elapsed "$t0" "$t1")") sl_out+=("$(elapsed "$t1" "$t2")")

        start_registry
        rm -rf "$work/out"
        sync
        t0=$(now)
        skopeo copy --quiet --dest-tls-verify=false "oci:$work/src:large" "docker://127.0.0.1:$reg_port/bench/large$i:1"
        t1=$(now)
        skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$reg_port/bench/large$i:1" "oci:$work/out:x"
        t2=$(now)
        dr_in+=("$(elapsed "$t0" "$t1")") dr_out+=("$(elapsed "$t1" "$t2")")
        stop_registry
        echo "run $i: push slipway ${sl_in[-1]}s docker-registry ${dr_in[-1]}s; pull slipway ${sl_out[-1]}s docker-registry ${dr_out[-1]}s"
done

si=$(median "${sl_in[@]}") so=$(median "${sl_out[@]}") di=$(median "${dr_in[@]}") do_=$(median "${dr_out[@]}")
echo
echo "image: $((bytes / 1048576)) MiB in $layers layers; medians of $runs runs"
printf 'push (skopeo copy in):  slipway %ss (%s MiB/s)  docker-registry %ss (%s MiB/s)  throughput ratio %.2f\n' \
        "$si" "$(mbps "$si")" "$di" "$(mbps "$di")" "$(awk -v a="$di" -v b="$si" 'BEGIN{print a/b}')"
printf 'pull (skopeo copy out): slipway %ss (%s MiB/s)  docker-registry %ss (%s MiB/s)  throughput ratio %.2f\n' \
        "$so" "$(mbps "$so")" "$do_" "$(mbps "$do_")" "$(awk -v a="$do_" -v b="$so" 'BEGIN{print a/b}')"
