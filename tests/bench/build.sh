#!/bin/bash
# Builder bench: `slipway image build` against `buildah bud --isolation=chroot` (overlay storage, vfs if the
# host refuses overlay) on the same Dockerfiles and the same busybox base, alternating runs, medians, ratio
# slipway/buildah:
#   cold      a small 5-step build (COPY, RUN, ENV, RUN, CMD) with --no-cache
#   cached    the same build again, every step a cache hit (buildah with --layers, so it has a cache)
#   per RUN   (build of 10 RUN steps - build of none) / 10, --no-cache; next to a plain systemd-nspawn start
#             of /bin/true in the busybox rootfs, the floor for running a step in a container
#   modern    a BuildKit-style Dockerfile (COPY <<EOF, RUN --mount=type=cache with a heredoc script that fills
#             a package-cache-like mount, COPY --link) against the same steps written for buildah 1.28 (no
#             heredocs, no --link; its own cache mount): cold (empty cache mount, --no-cache; goal ratio
#             <= 0.5), --no-cache with the mount warm, fully cached, and the rebuild when only the cache
#             mount's content changed (another build wrote into it: every step must still hit)
# Standalone: its own temp state dir, port and buildah store; uses the build dir (SLIPWAY_BUILD_DIR or build/).
# --skip-modern leaves the modern rows out (a build without heredocs and RUN --mount fails them).
#
# usage: tests/bench/build.sh [--runs N] [--skip-modern]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SLIPWAY_BUILD_DIR:-$top/build}
runs=5
modern=1
while [ $# -gt 0 ]; do
        case $1 in
        --runs) runs=$2; shift 2 ;;
        --skip-modern) modern=0; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
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
# buildah keeps cache mounts under $TMPDIR/buildah-cache: a private one, so the bench can empty it.
export TMPDIR=$work/buildah-tmp
mkdir -p "$TMPDIR"
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

[ "$modern" -eq 1 ] || exit 0

# ---- modern: heredocs, a cache mount, --link (Slipway) vs the same steps for buildah 1.28
mkdir -p "$work/modern" "$work/modern-bh" "$work/poke"
printf 'hello\n' >"$work/modern/hello.txt"
cp "$work/modern/hello.txt" "$work/modern-bh/hello.txt"
printf '[app]\nname=bench\n' >"$work/modern-bh/config.ini"
# The "package manager": fills the cache with 300 files the first time, then installs 111 of them from it.
fill='set -e
if [ ! -f /var/cache/pkgs/index ]; then
  i=0
  while [ $i -lt 300 ]; do seq 1 800 > /var/cache/pkgs/pkg$i; i=$((i+1)); done
  ls /var/cache/pkgs > /var/cache/pkgs/index
fi
mkdir -p /app/pkgs
cp /var/cache/pkgs/pkg1* /app/pkgs/'
mount='--mount=type=cache,id=bench-pkgs,target=/var/cache/pkgs'
cat >"$work/modern/Dockerfile" <<DOCKERFILE
# syntax=docker/dockerfile:1
FROM busybox:1
COPY <<CONF /app/config.ini
[app]
name=bench
CONF
RUN $mount <<'SCRIPT'
$fill
SCRIPT
COPY --link hello.txt /app/hello.txt
CMD ["cat", "/app/config.ini"]
DOCKERFILE
# buildah 1.28 has no heredocs: the script goes on one line, the file comes from the context.
one_line=$(printf '%s\n' "$fill" | awk '{ printf "%s%s", sep, $0; sep = (/then$|do$|else$/) ? " " : "; " }')
{
        echo "FROM busybox:1"
        echo "COPY config.ini /app/config.ini"
        printf "RUN %s sh -c '%s'\n" "$mount" "$one_line"
        echo "COPY hello.txt /app/hello.txt"
        echo 'CMD ["cat", "/app/config.ini"]'
} >"$work/modern-bh/Dockerfile"
printf 'FROM busybox:1\nRUN %s date > /var/cache/pkgs/poked\n' "$mount" >"$work/poke/Dockerfile"

# Slipway's cache mounts are cleared by `image gc --build-cache`, buildah's live in $TMPDIR/buildah-cache.
s_empty() { cli image gc --build-cache >/dev/null; }
b_empty() { rm -rf "$TMPDIR/buildah-cache/bench-pkgs"; }
# Slipway's build result as "STEPS CACHED_STEPS".
s_steps() {
        cli --json image build "$@" 2>/dev/null |
                $py -c 'import json, sys; r = json.load(sys.stdin); print(r["steps"], r["cached_steps"])'
}

if ! out=$(cli image build "$work/modern" -t modern:1 2>&1); then
        echo
        echo "modern: Slipway cannot build the heredoc/cache-mount Dockerfile (a build without heredocs or"
        echo "RUN --mount?), so its rows are left out:"
        printf '%s\n' "$out" | tail -3
        exit 1
fi
bud --layers -t modern "$work/modern-bh"
check_tree() {
        # Both builds must install the same files, or the timings compare different work.
        local d
        for d in s b; do rm -rf "$work/check-$d"; done
        cli image unpack modern:1 "$work/check-s" >/dev/null
        "${BH[@]}" push -q modern "oci:$work/check-b-oci:modern" >/dev/null
        umoci unpack --image "$work/check-b-oci:modern" "$work/check-b" >/dev/null
        diff <(cd "$work/check-s/app" && find . -type f | sort | xargs cat) \
             <(cd "$work/check-b/rootfs/app" && find . -type f | sort | xargs cat) >/dev/null ||
                { echo "build.sh: the modern images of Slipway and buildah differ in /app." >&2; exit 1; }
        [ "$(ls "$work/check-s/app/pkgs" | wc -l)" -eq 111 ] ||
                { echo "build.sh: the modern image does not hold the 111 installed packages." >&2; exit 1; }
        rm -rf "$work/check-b-oci"
}
check_tree

m_cold_s=() m_cold_b=() m_warm_s=() m_warm_b=() m_hit_s=() m_hit_b=() m_poke_s=() m_poke_b=()
poke_missed=
for i in $(seq 1 "$runs"); do
        s_empty
        m_cold_s+=("$(timed swq image build "$work/modern" -t modern:1 --no-cache)")
        b_empty
        m_cold_b+=("$(timed bud --layers --no-cache -t modern "$work/modern-bh")")
        m_warm_s+=("$(timed swq image build "$work/modern" -t modern:1 --no-cache)")
        m_warm_b+=("$(timed bud --layers --no-cache -t modern "$work/modern-bh")")
        m_hit_s+=("$(timed swq image build "$work/modern" -t modern:1)")
        m_hit_b+=("$(timed bud --layers -t modern "$work/modern-bh")")
        # Another build writes into the cache mount; the rebuild must not care (untimed).
        swq image build "$work/poke" -t poke:1 --no-cache
        bud --no-cache -t poke "$work/poke"
        t0=$(now)
        res=$(s_steps "$work/modern" -t modern:1)
        t1=$(now)
        m_poke_s+=("$(elapsed "$t0" "$t1")")
        m_poke_b+=("$(timed bud --layers -t modern "$work/modern-bh")")
        read -r n_steps n_cached <<<"$res"
        [ "$n_steps" = "$n_cached" ] || poke_missed="only $n_cached of $n_steps steps were cached"
        echo "modern run $i: cold ${m_cold_s[-1]}s/${m_cold_b[-1]}s  warm mount ${m_warm_s[-1]}s/${m_warm_b[-1]}s" \
             " cached ${m_hit_s[-1]}s/${m_hit_b[-1]}s  after the cache changed ${m_poke_s[-1]}s/${m_poke_b[-1]}s" \
             "(slipway/buildah)"
done
check_tree

# row LABEL SLIPWAY-TIMES... BUILDAH-TIMES... (as many of each)
row() {
        local label=$1 n a b
        shift
        n=$(($# / 2))
        a=$(median "${@:1:$n}") b=$(median "${@:$((n + 1))}")
        printf '%-40s %9.3fs %9.3fs %8.2f\n' "$label" "$a" "$b" "$(ratio "$a" "$b")"
}
echo
printf 'modern Dockerfile (heredocs, cache mount, --link; buildah: the same steps unrolled); %s runs, medians\n' "$runs"
printf '%-40s %10s %10s %8s\n' "" slipway buildah ratio
row "cold, empty cache mount (goal <= 0.5)" "${m_cold_s[@]}" "${m_cold_b[@]}"
row "--no-cache, cache mount warm" "${m_warm_s[@]}" "${m_warm_b[@]}"
row "fully cached rebuild" "${m_hit_s[@]}" "${m_hit_b[@]}"
row "rebuild after only the cache changed" "${m_poke_s[@]}" "${m_poke_b[@]}"
if [ -n "$poke_missed" ]; then
        echo "build.sh: after only the cache mount's content changed, the rebuild missed: $poke_missed." >&2
        exit 1
fi
echo "after only the cache mount's content changed: every Slipway step was a cache hit"
