#!/bin/bash
# Builder bench: `slipway image build` against `buildah bud --isolation=chroot` (overlay storage, vfs if the
# host refuses overlay) on the same Dockerfiles and the same busybox base, alternating runs, medians, ratio
# slipway/buildah:
#   cold      a small 5-step build (COPY, RUN, ENV, RUN, CMD) with --no-cache
#   cached    the same build again, every step a cache hit (buildah with --layers, so it has a cache)
#   per RUN   (build of 10 RUN steps - build of none) / 10, --no-cache; next to a plain systemd-nspawn start
#             of /bin/true in the busybox rootfs, the floor for running a step in a container
# Standalone: its own temp state dir, port and buildah store; uses the build dir (SLIPWAY_BUILD_DIR or build/).
#
# usage: tests/bench/build.sh [--runs N]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SLIPWAY_BUILD_DIR:-$top/build}
runs=5
while [ $# -gt 0 ]; do
        case $1 in
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option '$1'." >&2; exit 2 ;;
        esac
done

. "$top/tests/bench/bench-daemon.sh"
bench_binaries build.sh
for t in buildah systemd-nspawn; do
        command -v "$t" >/dev/null || { echo "build.sh: $t is missing; run packaging/install-deps." >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "build.sh: run as root (systemd-nspawn and buildah need it)." >&2; exit 1; }

py=/usr/bin/python3
bench_daemon_setup build /var/tmp
BH=()
cleanup() {
        bench_daemon_stop
        [ ${#BH[@]} -gt 0 ] && "${BH[@]}" rm --all >/dev/null 2>&1 || true
        [ ${#BH[@]} -gt 0 ] && "${BH[@]}" rmi --all --force >/dev/null 2>&1 || true
        umount -R "$work/buildah/root/overlay" 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT

# The busybox fixture (made once and cached by tests/fixtures/make-images).
version=$(cd "$top/tests/fixtures" && $py -c 'import slipway_images; print(slipway_images.FIXTURE_VERSION)')
images=${SLIPWAY_FIXTURE_CACHE:-/var/tmp/slipway-test-images}/v$version
"$top/tests/fixtures/make-images" "$images" >/dev/null
base=$images/busybox.oci.tar

bench_daemon_start
swq() { cli "$@" >/dev/null; }
cli image import "$base" >/dev/null

driver=overlay
BH=(buildah --root "$work/buildah/root" --runroot "$work/buildah/runroot" --storage-driver "$driver")
if ! "${BH[@]}" pull -q "oci-archive:$base:busybox:1" >/dev/null 2>&1; then
        driver=vfs
        BH=(buildah --root "$work/buildah/root-vfs" --runroot "$work/buildah/runroot-vfs" --storage-driver vfs)
        "${BH[@]}" pull -q "oci-archive:$base:busybox:1" >/dev/null
fi
bud() { "${BH[@]}" bud --isolation=chroot --pull=never -q "$@" >/dev/null; }

# The Dockerfiles.
mkdir -p "$work/small" "$work/runs10" "$work/runs0"
printf 'hello\n' >"$work/small/hello.txt"
cat >"$work/small/Dockerfile" <<'EOF'
FROM busybox:1
COPY hello.txt /app/hello.txt
RUN cat /app/hello.txt > /app/copy.txt
ENV GREETING=hello
RUN echo "$GREETING" >> /app/copy.txt
CMD ["cat", "/app/copy.txt"]
EOF
{ echo "FROM busybox:1"; for i in $(seq 1 10); do echo "RUN echo $i > /step$i"; done; } >"$work/runs10/Dockerfile"
printf 'FROM busybox:1\nLABEL runs=none\n' >"$work/runs0/Dockerfile"

# A plain systemd-nspawn start in the busybox rootfs (nspawn wants a /usr).
cli image unpack busybox:1 "$work/rootfs" >/dev/null
mkdir -p "$work/rootfs/usr"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timed() { local t0 t1; t0=$(now); "$@"; t1=$(now); elapsed "$t0" "$t1"; }
nspawn_true() { systemd-nspawn --register=no --keep-unit -q -M "$1" -D "$work/rootfs" /bin/true 2>/dev/null; }

# Warm up both (page cache, layer cache, buildah's cache for --layers).
cli image build "$work/small" -t small:1 >/dev/null
bud --layers -t small "$work/small"

s_cold=() b_cold=() s_cached=() b_cached=() s_r10=() s_r0=() b_r10=() b_r0=() nspawn=()
for i in $(seq 1 "$runs"); do
        s_cold+=("$(timed swq image build "$work/small" -t small:1 --no-cache)")
        b_cold+=("$(timed bud --no-cache -t small "$work/small")")
        s_cached+=("$(timed swq image build "$work/small" -t small:1)")
        b_cached+=("$(timed bud --layers -t small "$work/small")")
        s_r10+=("$(timed swq image build "$work/runs10" -t runs10:1 --no-cache)")
        b_r10+=("$(timed bud --layers --no-cache -t runs10 "$work/runs10")")
        s_r0+=("$(timed swq image build "$work/runs0" -t runs0:1 --no-cache)")
        b_r0+=("$(timed bud --layers --no-cache -t runs0 "$work/runs0")")
        nspawn+=("$(timed nspawn_true "bench-$i")")
        echo "run $i: cold ${s_cold[-1]}s/${b_cold[-1]}s  cached ${s_cached[-1]}s/${b_cached[-1]}s" \
             " 10 RUNs ${s_r10[-1]}s/${b_r10[-1]}s  0 RUNs ${s_r0[-1]}s/${b_r0[-1]}s  nspawn ${nspawn[-1]}s (slipway/buildah)"
done

mc=$(median "${s_cold[@]}") bc=$(median "${b_cold[@]}")
mk=$(median "${s_cached[@]}") bk=$(median "${b_cached[@]}")
s_step=$(awk -v a="$(median "${s_r10[@]}")" -v b="$(median "${s_r0[@]}")" 'BEGIN { printf "%.3f", (a - b) / 10 }')
b_step=$(awk -v a="$(median "${b_r10[@]}")" -v b="$(median "${b_r0[@]}")" 'BEGIN { printf "%.3f", (a - b) / 10 }')
mn=$(median "${nspawn[@]}")
echo
printf 'buildah storage: %s; %s alternating runs, medians\n' "$driver" "$runs"
printf '%-28s %10s %10s %8s\n' "" slipway buildah ratio
printf '%-28s %9.3fs %9.3fs %8.2f\n' "cold 5-step build" "$mc" "$bc" "$(ratio "$mc" "$bc")"
printf '%-28s %9.3fs %9.3fs %8.2f\n' "fully cached rebuild" "$mk" "$bk" "$(ratio "$mk" "$bk")"
printf '%-28s %9.3fs %9.3fs %8.2f\n' "per RUN step (10 vs 0)" "$s_step" "$b_step" "$(ratio "$s_step" "$b_step")"
printf '%-28s %9.3fs\n' "plain systemd-nspawn start" "$mn"
