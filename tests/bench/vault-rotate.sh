#!/bin/bash
# Benchmark: `slipway vault rotate` with BENCH_VALUES (default 10000) config values stored (64 bytes each,
# a quarter of them secrets, spread over the project-wide and a component's slots of two environments): the
# wall time of the command and the daemon's own time for the transaction (re-encrypting every value, retiring
# the old key), BENCH_ROUNDS (default 3) rotations, then the median.  A private slipwayd on a temporary state
# dir, removed at the end.  Run it under the shared lock:  flock /tmp/slipway-bench.lock tests/bench/vault-rotate.sh
#
# Usage: tests/bench/vault-rotate.sh [BUILD_DIR]      (env: BENCH_VALUES=10000 BENCH_ROUNDS=3)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
values=${BENCH_VALUES:-10000}
rounds=${BENCH_ROUNDS:-3}
py=/usr/bin/python3
[[ "$values" =~ ^[1-9][0-9]*$ ]] || { echo "vault-rotate.sh: BENCH_VALUES must be a positive number." >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "vault-rotate.sh: BENCH_ROUNDS must be a positive number." >&2; exit 2; }

. "$top/tests/bench/bench-daemon.sh"
bench_binaries vault-rotate.sh
bench_daemon_setup vault-rotate
trap bench_daemon_cleanup EXIT
bench_daemon_start
cli project create bench >/dev/null
cli component create bench/web --image busybox:1 --endpoint http:8080 >/dev/null

$py - "$build/appliance/cli/slipway" "$state" "$values" "$rounds" <<'PYEOF'
import http.client, json, statistics, subprocess, sys, threading, time

slipway, state, n, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
url = open(f"{state}/api.url").read().strip().removeprefix("http://")
host, port = url.rstrip("/").split(":")
token = open(f"{state}/admin.token").read().strip()
errors = []

def put(i):
        target = "projects/bench" + ("/components/web" if i % 2 else "")
        env = "development" if i % 4 < 2 else "production"
        body = json.dumps({"value": f"{i:08d}" + "v" * 56, "secret": i % 4 == 0})
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        c.request("PUT", f"/api/v1/{target}/environments/{env}/configs/KEY_{i}", body=body,
                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
                errors.append(i)

def worker(k):
        for i in range(k, n, 4):
                put(i)

t0 = time.monotonic()
threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
for t in threads:
        t.start()
for t in threads:
        t.join()
if errors:
        sys.exit(f"vault-rotate.sh: {len(errors)} of {n} config sets failed")
print(f"{n} values set in {time.monotonic() - t0:.1f} s")

walls, daemons = [], []
for _ in range(rounds):
        t = time.monotonic()
        p = subprocess.run([slipway, "--state-dir", state, "--json", "vault", "rotate"], capture_output=True,
                           text=True, timeout=600)
        wall = time.monotonic() - t
        if p.returncode != 0:
                sys.exit(f"vault-rotate.sh: slipway vault rotate failed: {p.stderr}")
        out = json.loads(p.stdout)
        if out["rewrapped"] != n:
                sys.exit(f"vault-rotate.sh: {out['rewrapped']} of {n} values re-encrypted")
        walls.append(wall)
        daemons.append(out["duration_us"] / 1e6)
        print(f"rotate to key version {out['key_version']}: {wall * 1000:.0f} ms wall, "
              f"{out['duration_us'] / 1000:.0f} ms in slipwayd (WAL truncated: {out['wal_truncated']})")
print(f"slipway vault rotate of {n} values: median {statistics.median(walls) * 1000:.0f} ms wall, "
      f"{statistics.median(daemons) * 1000:.0f} ms in slipwayd")
PYEOF
