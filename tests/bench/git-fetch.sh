#!/bin/bash
# Benchmark: incremental fetch of one new commit into a bare mirror, appliance/source's git_mirror_fetch()
# against `git fetch` on a copy of the SAME mirror, p50 over BENCH_RUNS rounds.  Each round commits one
# file to an upstream repository (a few hundred files, served over a local path, or over git:// when
# BENCH_TRANSPORT=git), then fetches it through the module and with git into the copy; both fetch only the
# branch, without tags.  Prints both medians and the ratio module/git.  Everything lives in a temp dir.
#
# Usage: tests/bench/git-fetch.sh [BUILD_DIR]   (env: BENCH_RUNS=20 BENCH_TRANSPORT=path|git)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
runs=${BENCH_RUNS:-20}
transport=${BENCH_TRANSPORT:-path}
helper=$build/tests/bench/bench-git-fetch
[ -x "$helper" ] || { echo "git-fetch.sh: $helper not found; build first (libgit2 needed)." >&2; exit 1; }

work=$(mktemp -d /tmp/slipway-bench-git.XXXXXX)
daemon=
cleanup() {
        if [ -n "$daemon" ]; then
                kill "$daemon" 2>/dev/null || true
                wait "$daemon" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=Bench
export GIT_COMMITTER_EMAIL=bench@example.org GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$work

git -c init.defaultBranch=main init -q "$work/up"
for i in $(seq 1 300); do
        mkdir -p "$work/up/d$((i % 20))"
        head -c 2048 /dev/urandom | base64 > "$work/up/d$((i % 20))/f$i"
done
git -C "$work/up" add -A
git -C "$work/up" commit -q -m initial

url=$work/up
if [ "$transport" = git ]; then
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        git daemon --reuseaddr --base-path="$work" --export-all --listen=127.0.0.1 --port="$port" "$work" 2>/dev/null &
        daemon=$!
        for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
        url=git://127.0.0.1:$port/up
fi

# the first fetch creates the mirror; the copy starts from the same state and fetches from the same URL
read -r _ _ mirror < <("$helper" "$work/git" "$url" main)
cp -a "$mirror" "$work/copy.git"
git -C "$work/copy.git" config remote.origin.url "$url"

mod=() modp=() gitt=()
for r in $(seq 1 "$runs"); do
        echo "change $r" > "$work/up/d0/change"
        git -C "$work/up" add -A && git -C "$work/up" commit -q -m "change $r"
        want=$(git -C "$work/up" rev-parse main)

        t0=$(date +%s%N)
        out=$("$helper" "$work/git" "$url" main)
        t1=$(date +%s%N)
        read -r us got _ <<<"$out"
        [ "$got" = "$want" ] || { echo "git-fetch.sh: module fetched $got, wanted $want" >&2; exit 1; }
        mod+=("$us") modp+=($(( (t1 - t0) / 1000 )))

        t0=$(date +%s%N)
        git -C "$work/copy.git" fetch -q --no-tags origin +refs/heads/main:refs/heads/main
        t1=$(date +%s%N)
        [ "$(git -C "$work/copy.git" rev-parse main)" = "$want" ] || { echo "git-fetch.sh: git fetch missed it" >&2; exit 1; }
        gitt+=($(( (t1 - t0) / 1000 )))
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
m=$(median "${mod[@]}")
mp=$(median "${modp[@]}")
g=$(median "${gitt[@]}")
echo "incremental fetch of one commit over $transport, p50 of $runs:"
echo "  module git_mirror_fetch() ${m} us; the helper process around it ${mp} us; git fetch process ${g} us"
awk -v m="$m" -v mp="$mp" -v g="$g" \
        'BEGIN { printf "ratio module/git: %.2f (fetch call), %.2f (whole process vs whole process)\n", m / g, mp / g }'
