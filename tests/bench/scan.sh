#!/bin/bash
# Scan bench: the debootstrap minbase image (tests/fixtures/make-minbase, cached) scanned on demand with
# `slipway image scan` against a synthetic OSV database of N advisories (tests/bench/make-osv: Debian, PyPI,
# npm and Go names, some for minbase's own source packages).  Reports the vulndb import's wall time, the
# scan's wall time (median of R runs; the first run, which fills the layer cache, apart; and `image sbom`'s,
# the part that is not matching nor the secret walk) and the peak RSS of
# slipwayd, which does the scan (SBOM over the cached layers stacked with overlayfs, layer walk and matching in
# its threads; a first scan fills the layer cache in a short-lived sandboxed child): VmHWM of a fresh slipwayd on the imported database, before and after the
# scans.  Standalone: its own temp state dir and port; uses the build dir (SLIPWAY_BUILD_DIR or build/).
#
# usage: tests/bench/scan.sh [--advisories N] [--runs R]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SLIPWAY_BUILD_DIR:-$top/build}
advisories=100000 runs=3
while [ $# -gt 0 ]; do
        case $1 in
        --advisories) advisories=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "scan.sh: unknown option '$1'." >&2; exit 2 ;;
        esac
done

py=/usr/bin/python3
. "$top/tests/bench/bench-daemon.sh"
bench_binaries scan.sh
bench_daemon_setup scan /var/tmp
trap bench_daemon_cleanup EXIT

tar=$("$top/tests/fixtures/make-minbase") || { echo "scan.sh: no minbase image (see above)." >&2; exit 1; }
root=$(dirname "$tar")/root
echo "writing $advisories synthetic OSV advisories ..."
"$top/tests/bench/make-osv" "$work/all.zip" --count "$advisories" --dpkg-root "$root"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$daemon_pid/status"; }

bench_daemon_start
cli image import "$tar" --rootfs --name minbase:bookworm >/dev/null
t0=$(now); cli vulndb import "$work/all.zip" >/dev/null; t1=$(now)
import_s=$(elapsed "$t0" "$t1")
import_hwm=$(hwm)

# A fresh slipwayd on the same state: its peak RSS is the scans' alone, not the import's.
bench_daemon_stop
bench_daemon_start
hwm_start=$(hwm)
t0=$(now); cli --json image scan minbase:bookworm >"$work/scan.json"; t1=$(now)
first=$(elapsed "$t0" "$t1")
times=() sbom_times=()
for i in $(seq 1 "$runs"); do
        t0=$(now); cli --json image scan minbase:bookworm >"$work/scan.json"; t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        # The SBOM alone (unpack + package databases), for what matching and the secret walk add.
        t0=$(now); cli --json image sbom minbase:bookworm >/dev/null; t1=$(now)
        sbom_times+=("$(elapsed "$t0" "$t1")")
done
hwm_end=$(hwm)
read -r comps findings secrets < <($py -c "
import json; d = json.load(open('$work/scan.json'))
print(d['components'], len(d['findings']), d['counts']['secrets'])")
zip_bytes=$(stat -c %s "$work/all.zip")

echo
printf 'minbase image: %s packages; OSV database: %s advisories (%s bytes zipped)\n' "$comps" "$advisories" "$zip_bytes"
printf 'vulndb import:            %8.2f s (slipwayd VmHWM after it: %s KiB)\n' "$import_s" "$import_hwm"
printf 'image scan, first run:    %8.2f s (unpacks the layer into the cache)\n' "$first"
printf 'image scan, median of %s: %8.2f s (%s findings, %s secrets)\n' "$runs" "$(median "${times[@]}")" "$findings" "$secrets"
printf 'image sbom, median of %s: %8.2f s (the package databases read from the cached layers, alone)\n' "$runs" \
        "$(median "${sbom_times[@]}")"
printf 'slipwayd VmHWM: %s KiB fresh, %s KiB after %s scans and %s SBOMs (growth %s KiB)\n' \
        "$hwm_start" "$hwm_end" "$((runs + 1))" "$runs" "$((hwm_end - hwm_start))"
