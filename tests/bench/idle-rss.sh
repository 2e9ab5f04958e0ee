#!/bin/bash
# Benchmark: memory of the control and data plane with BENCH_INSTANCES (default 20) live instances.  A private
# slipwayd on a temporary state dir builds a busybox httpd image, creates that many components in one
# project and deploys each to development (health-gated, one after the other), checks that every one answers
# through slipway-proxy's ingress, lets everything idle 5 s, then prints VmRSS and VmHWM of slipwayd and
# slipway-proxy (from /proc/PID/status; Pss from smaps_rollup) and their sum, and separately the
# systemd-nspawn supervisors (one per instance) and the container payloads (busybox sh + httpd).  Everything is removed at the end
# (project delete --force), then slipwayd and its slipway-proxy are stopped.
# Run it under the shared lock:  flock /tmp/slipway-itest.lock tests/bench/idle-rss.sh
#
# Usage: tests/bench/idle-rss.sh [BUILD_DIR]      (env: BENCH_INSTANCES=20 BENCH_IDLE_SEC=5)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
count=${BENCH_INSTANCES:-20}
idle=${BENCH_IDLE_SEC:-5}
py=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "idle-rss.sh: run as root (containers, netns, nftables)." >&2; exit 2; }
[ -x "$build/appliance/engine/slipwayd" ] || { echo "idle-rss.sh: build first (meson setup build && ninja -C build)." >&2; exit 1; }
[[ "$count" =~ ^[1-9][0-9]?$ ]] || { echo "idle-rss.sh: BENCH_INSTANCES must be 1..99." >&2; exit 2; }

. "$top/tests/bench/bench-daemon.sh"
bench_daemon_up rss
bench_httpd_image "$work/app" bench:a hello
cli project create bench >/dev/null

t0=$(date +%s.%N)
for i in $(seq -w 1 "$count"); do
        cli component create "bench/web$i" --image bench:a --health http:/ >/dev/null
        cli deploy "bench/web$i" development --image bench:a >/dev/null ||
                { echo "idle-rss.sh: deploy of bench/web$i failed; slipwayd log:" >&2; tail -20 "$work/slipwayd.log" >&2; exit 1; }
done
t1=$(date +%s.%N)
echo "$count components deployed to bench/development, one after the other, in $($py -c "print(f'{$t1 - $t0:.1f}')") s"

# Every instance answers through the proxy's ingress (what a user would check).
for i in $(seq -w 1 "$count"); do
        url=$(cli url "bench/web$i" development | head -1)
        body=$(curl -fsS --max-time 5 "$url") || { echo "idle-rss.sh: $url does not answer." >&2; exit 1; }
        [ "$body" = hello ] || { echo "idle-rss.sh: $url answered '$body', not 'hello'." >&2; exit 1; }
done
echo "all $count answer through slipway-proxy (e.g. $url)"
sleep "$idle"

proxy_pid=$(pgrep -f "slipway-proxy serve --state-dir $state\$" | head -1)
$py - "$daemon_pid" "$proxy_pid" "$state" "$count" "$idle" <<'EOF'
import os, sys

daemon, proxy, state, count, idle = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]

def status(pid):
        v = {}
        with open(f"/proc/{pid}/status") as f:
                for line in f:
                        k, _, rest = line.partition(":")
                        if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                                v[k] = int(rest.split()[0])
        # Pss divides each shared page among its users: the fair share when many processes map the same files.
        with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                        if line.startswith("Pss:"):
                                v["Pss"] = int(line.split()[1])
        return v

def children(pid):
        out = []
        for task in os.listdir(f"/proc/{pid}/task"):
                try:
                        with open(f"/proc/{pid}/task/{task}/children") as f:
                                out += [int(c) for c in f.read().split()]
                except FileNotFoundError:
                        pass
        return out

def mib(kib):
        return f"{kib / 1024:8.1f}"

nspawns = []
for d in os.listdir("/proc"):
        if not d.isdigit():
                continue
        try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
        except OSError:
                continue
        if argv and argv[0].endswith(b"systemd-nspawn") and \
           any(a.startswith(f"--oci-bundle={state}/instances/".encode()) for a in argv):
                nspawns.append(int(d))
if len(nspawns) != count:
        sys.exit(f"idle-rss.sh: expected {count} systemd-nspawn supervisors, found {len(nspawns)}")
payload = []
todo = [c for p in nspawns for c in children(p)]
while todo:
        p = todo.pop()
        payload.append(p)
        todo += children(p)

print(f"\nafter {idle} s idle with {count} live instances (KiB from /proc/PID/status; MiB shown)")
print(f"{'process':34} {'VmRSS MiB':>9} {'VmHWM MiB':>9} {'RssAnon':>9} {'RssFile':>9} {'Pss':>9}")
d, p = status(daemon), status(proxy)
for name, s in (("slipwayd", d), ("slipway-proxy", p)):
        print(f"{name:34} {mib(s['VmRSS']):>9} {mib(s['VmHWM']):>9} {mib(s['RssAnon']):>9} {mib(s['RssFile']):>9} "
              f"{mib(s['Pss']):>9}")
print(f"{'slipwayd + slipway-proxy':34} {mib(d['VmRSS'] + p['VmRSS']):>9} {mib(d['VmHWM'] + p['VmHWM']):>9} "
      f"{mib(d['RssAnon'] + p['RssAnon']):>9} {mib(d['RssFile'] + p['RssFile']):>9} {mib(d['Pss'] + p['Pss']):>9}")
for label, pids in ((f"systemd-nspawn x{len(nspawns)} (sum)", nspawns),
                    (f"payloads x{len(payload)} procs (sum)", payload)):
        ss = [status(x) for x in pids]
        tot = {k: sum(s[k] for s in ss) for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Pss")}
        print(f"{label:34} {mib(tot['VmRSS']):>9} {mib(tot['VmHWM']):>9} {mib(tot['RssAnon']):>9} "
              f"{mib(tot['RssFile']):>9} {mib(tot['Pss']):>9}")
ns = [status(x) for x in nspawns]
print(f"per instance: systemd-nspawn VmRSS {sum(s['VmRSS'] for s in ns) / len(ns) / 1024:.1f} MiB, "
      f"Pss {sum(s['Pss'] for s in ns) / len(ns) / 1024:.2f} MiB, RssAnon {sum(s['RssAnon'] for s in ns) / len(ns) / 1024:.2f} "
      f"MiB (its file pages are shared by all of them)")
EOF
