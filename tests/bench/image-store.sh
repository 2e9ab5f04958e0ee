#!/bin/bash
# Image store bench: import and export of a ~200 MiB multi-layer image of random data with slipway, against
# skopeo doing the same conversion on the same files (oci-archive -> OCI layout -> oci-archive).  Three
# alternating runs each, medians, ratio slipway/skopeo; and slipwayd's peak RSS (VmHWM) after start vs after
# the imports.  Standalone: its own temp state dir and port; uses the build dir (SLIPWAY_BUILD_DIR or build/).
#
# usage: tests/bench/image-store.sh [--size-mb N] [--layers N] [--runs N]
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
        *) echo "image-store.sh: unknown option '$1'." >&2; exit 2 ;;
        esac
done

. "$top/tests/bench/bench-daemon.sh"
bench_binaries image-store.sh
command -v skopeo >/dev/null || { echo "image-store.sh: skopeo is missing; run packaging/install-deps." >&2; exit 1; }

py=/usr/bin/python3
bench_daemon_setup image-store /var/tmp
trap bench_daemon_cleanup EXIT

echo "making a ${size_mb} MiB image of $layers layers of random data ..."
"$top/tests/fixtures/make-images" --large-only "$work/image.tar" --large-mb "$size_mb" --layers "$layers"
ref=large:1
bytes=$(stat -c %s "$work/image.tar")

bench_daemon_start
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$daemon_pid/status"; }
hwm_start=$(hwm)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

sl_imp=() sl_exp=() sk_imp=() sk_exp=()
for i in $(seq 1 "$runs"); do
        sync
        # slipway: import (a fresh store each run: remove, gc, import again) and export
        cli image rm "$ref" >/dev/null 2>&1 || true
        cli image gc >/dev/null
        t0=$(now); cli image import "$work/image.tar" >/dev/null; t1=$(now)
        sl_imp+=("$(elapsed "$t0" "$t1")")
        rm -f "$work/out-slipway.tar"
        t0=$(now); cli image export "$ref" --oci-archive "$work/out-slipway.tar" >/dev/null; t1=$(now)
        sl_exp+=("$(elapsed "$t0" "$t1")")
        sync
        # skopeo: the same conversions
        rm -rf "$work/oci" "$work/out-skopeo.tar"
        t0=$(now); skopeo copy --quiet "oci-archive:$work/image.tar:$ref" "oci:$work/oci:$ref"; t1=$(now)
        sk_imp+=("$(elapsed "$t0" "$t1")")
        t0=$(now); skopeo copy --quiet "oci:$work/oci:$ref" "oci-archive:$work/out-skopeo.tar:$ref"; t1=$(now)
        sk_exp+=("$(elapsed "$t0" "$t1")")
        echo "run $i: slipway import ${sl_imp[-1]}s export ${sl_exp[-1]}s; skopeo import ${sk_imp[-1]}s export ${sk_exp[-1]}s"
done
hwm_end=$(hwm)

digest_in=$(skopeo inspect --raw "oci-archive:$work/image.tar:$ref" | sha256sum | cut -d' ' -f1)
digest_out=$(skopeo inspect --raw "oci-archive:$work/out-slipway.tar:$ref" | sha256sum | cut -d' ' -f1)

mi=$(median "${sl_imp[@]}") me=$(median "${sl_exp[@]}") ki=$(median "${sk_imp[@]}") ke=$(median "${sk_exp[@]}")
echo
printf 'image: %s MiB, %s layers (%s bytes as oci-archive); %s runs, medians\n' "$size_mb" "$layers" "$bytes" "$runs"
printf '%-8s %10s %10s %8s\n' step slipway skopeo ratio
printf '%-8s %9.2fs %9.2fs %8.2f\n' import "$mi" "$ki" "$(ratio "$mi" "$ki")"
printf '%-8s %9.2fs %9.2fs %8.2f\n' export "$me" "$ke" "$(ratio "$me" "$ke")"
printf 'slipwayd VmHWM: %s KiB after start, %s KiB after %s imports+exports (growth %s KiB)\n' \
        "$hwm_start" "$hwm_end" "$runs" "$((hwm_end - hwm_start))"
if [ "$digest_in" = "$digest_out" ]; then
        echo "round trip: manifest digest unchanged (sha256:$digest_in)"
else
        echo "round trip: MANIFEST DIGEST CHANGED (sha256:$digest_in -> sha256:$digest_out)"
        exit 1
fi
