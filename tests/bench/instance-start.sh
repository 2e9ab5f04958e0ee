#!/bin/bash
# Benchmark: instance start time, Slipway's instance_start() against plain `systemd-nspawn --oci-bundle=` and
# `crun run` on the SAME bundle (same config.json, rootfs and netns), p50/p95 over BENCH_RUNS starts each,
# rounds interleaved.  A private slipwayd on a temporary state dir builds a busybox httpd image and deploys it
# once (so its layers are in the layer cache, unpacked by the daemon's own code, and the deploy is known to
# work); the daemon is then stopped and bench-instance-start prepares one instance with the deployer's
# instance_setup_prepare() (overlay rootfs, hosts file, hardened bundle, netns + veth on a bridge of its own)
# and times each start until the httpd answers GET / on the instance's address.  Rootfs, bundle, netns and
# veth setup are outside the timing for all three runtimes.  Everything is removed at the end.
# Run it under the shared lock:  flock /tmp/slipway-itest.lock tests/bench/instance-start.sh
#
# Usage: tests/bench/instance-start.sh [BUILD_DIR]   (env: BENCH_RUNS=20 BENCH_RUNTIMES=slipway,nspawn,crun)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
runs=${BENCH_RUNS:-20}
runtimes=${BENCH_RUNTIMES:-slipway,nspawn,crun}
py=/usr/bin/python3
helper=$build/tests/bench/bench-instance-start
[ "$(id -u)" -eq 0 ] || { echo "instance-start.sh: run as root (containers, netns, mounts)." >&2; exit 2; }
for f in "$build/appliance/engine/slipwayd" "$build/appliance/cli/slipway" "$helper"; do
        [ -x "$f" ] || { echo "instance-start.sh: $f not found; build first (meson setup build && ninja -C build)." >&2; exit 1; }
done
case ",$runtimes," in *,crun,*)
        command -v crun >/dev/null ||
                { echo "instance-start.sh: crun is not installed (packaging/install-deps), or set BENCH_RUNTIMES=slipway,nspawn." >&2; exit 1; }
esac

. "$top/tests/bench/bench-daemon.sh"
bench_daemon_setup start
cleanup() {
        bench_daemon_stop
        # The helper removes what it set up, even when interrupted; a mount left by a crash would keep
        # rm -rf from the lower layers, so never cross into one.
        if ! grep -q " $work/" /proc/self/mounts; then
                rm -rf "$work"
        else
                echo "instance-start.sh: mounts remain below $work; not removing it." >&2
        fi
}
trap cleanup EXIT

bench_daemon_start
bench_import_busybox
bench_httpd_image "$work/app" bench:a hello
cli project create bench >/dev/null
cli component create bench/web --image bench:a --health http:/ >/dev/null
cli deploy bench/web development --image bench:a >/dev/null
digest=$(cli --json image inspect bench:a | $py -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
echo "image bench:a = $digest (deployed once by slipwayd: layers cached)"
bench_daemon_stop

# A /24 for the helper's own bridge that overlaps no address or route on this host.
subnet=$($py - <<'EOF'
import ipaddress, subprocess
used = []
for args in (["ip", "-4", "-o", "addr", "show"], ["ip", "-4", "route", "show", "table", "all"]):
        for line in subprocess.run(args, capture_output=True, text=True, check=True).stdout.splitlines():
                for tok in line.split()[:4]:
                        try:
                                used.append(ipaddress.ip_network(tok, strict=False))
                                break
                        except ValueError:
                                continue
for third in range(200, 255):
        net = ipaddress.ip_network(f"10.214.{third}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
                print(net)
                break
else:
        raise SystemExit("no free 10.214.200-254.0/24 subnet on this host")
EOF
)

echo "kernel $(uname -r), $(nproc) cores; systemd-nspawn $(systemd-nspawn --version | head -1 | awk '{print $2}'), $(crun --version 2>/dev/null | head -1 || echo 'no crun')"
# Two passes.  crun cannot start a bundle with a user namespace over a rootfs mounted in the host's mount
# namespace (it makes the rootfs private from inside the new user namespace: EPERM), so the three-way
# comparison runs with user namespaces off (SLIPWAY_USERNS=0, the bundle of a host without them); then
# Slipway and plain systemd-nspawn again with them on, as slipwayd runs instances here by default.
echo
echo "== pass 1: without a user namespace (all runtimes)"
SLIPWAY_USERNS=0 "$helper" --state-dir "$state" --image "$digest" --work "$work/bench" --subnet "$subnet" \
        --runs "$runs" --runtimes "$runtimes"
userns_runtimes=$(echo "$runtimes" | tr ',' '\n' | grep -v '^crun$' | paste -sd, -)
if [ -n "$userns_runtimes" ] && [ "${SLIPWAY_USERNS:-1}" != 0 ]; then
        echo
        echo "== pass 2: with a user namespace (slipwayd's default here; crun cannot run this bundle, see above)"
        rm -rf "$work/bench"
        "$helper" --state-dir "$state" --image "$digest" --work "$work/bench" --subnet "$subnet" --runs "$runs" \
                --runtimes "$userns_runtimes"
fi
