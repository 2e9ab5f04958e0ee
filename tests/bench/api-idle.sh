#!/bin/bash
# Benchmark: `slipway status` latency with no other connections, then with BENCH_IDLE (default 1000) idle
# TCP connections held open against the API (each one reopened as soon as slipwayd's gate closes it after
# its head deadline, so that many are open throughout).  BENCH_CALLS (default 200) sequential calls each,
# BENCH_PAUSE_MS (default 40) apart so that a run spans the gate's 5 s head deadline (the idle ones are
# closed and reopened during it); prints p50/p99/max of both and the ratio of the p99s.  A private slipwayd on a temporary state dir,
# removed at the end.  Run it under the shared lock:  flock /tmp/slipway-bench.lock tests/bench/api-idle.sh
#
# Usage: tests/bench/api-idle.sh [BUILD_DIR]      (env: BENCH_CALLS=200 BENCH_IDLE=1000 BENCH_PAUSE_MS=40)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
calls=${BENCH_CALLS:-200}
idle=${BENCH_IDLE:-1000}
pause=${BENCH_PAUSE_MS:-40}
py=/usr/bin/python3
[[ "$calls" =~ ^[1-9][0-9]*$ ]] || { echo "api-idle.sh: BENCH_CALLS must be a positive number." >&2; exit 2; }
[[ "$idle" =~ ^[0-9]+$ ]] || { echo "api-idle.sh: BENCH_IDLE must be a number." >&2; exit 2; }
[[ "$pause" =~ ^[0-9]+$ ]] || { echo "api-idle.sh: BENCH_PAUSE_MS must be a number." >&2; exit 2; }

. "$top/tests/bench/bench-daemon.sh"
bench_binaries api-idle.sh
bench_daemon_setup api-idle
trap bench_daemon_cleanup EXIT
bench_daemon_start
port=$(sed -E 's|.*:([0-9]+)/?$|\1|' "$state/api.url")

$py - "$build/appliance/cli/slipway" "$state" "$port" "$calls" "$idle" "$pause" <<'PYEOF'
import selectors, socket, subprocess, sys, threading, time

slipway, state, port, calls, idle = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pause = int(sys.argv[6]) / 1000

def measure():
        times = []
        for _ in range(calls):
                time.sleep(pause)
                t = time.monotonic()
                p = subprocess.run([slipway, "--state-dir", state, "status"], capture_output=True, timeout=120)
                times.append(time.monotonic() - t)
                if p.returncode != 0:
                        sys.exit(f"api-idle.sh: slipway status failed: {p.stderr.decode()}")
        times.sort()
        pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
        return pick(0.50), pick(0.99), times[-1]

class Holder:
        """n idle connections; each reopened when the server closes it."""
        def __init__(self, n):
                self.sel = selectors.DefaultSelector()
                self.stop = False
                self.reopened = 0
                for _ in range(n):
                        self.open()
                self.t = threading.Thread(target=self.run, daemon=True)
                self.t.start()

        def open(self):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.setblocking(False)
                self.sel.register(s, selectors.EVENT_READ)

        def run(self):
                while not self.stop:
                        for key, _ in self.sel.select(0.2):
                                s = key.fileobj
                                try:
                                        if s.recv(4096):
                                                continue
                                except OSError:
                                        pass
                                self.sel.unregister(s)
                                s.close()
                                self.reopened += 1
                                self.open()

        def open_now(self):
                return len(self.sel.get_map())

        def close(self):
                self.stop = True
                self.t.join()
                for key in list(self.sel.get_map().values()):
                        key.fileobj.close()

subprocess.run([slipway, "--state-dir", state, "status"], capture_output=True)  # warm
a = measure()
h = Holder(idle)
time.sleep(1)
b = measure()
held = h.open_now()
h.close()
ms = lambda x: f"{x * 1000:.1f} ms"
print(f"slipway status x{calls}, no other connections:     p50 {ms(a[0])}, p99 {ms(a[1])}, max {ms(a[2])}")
print(f"slipway status x{calls}, {idle} idle connections open: p50 {ms(b[0])}, p99 {ms(b[1])}, max {ms(b[2])} "
      f"({held} open at the end, {h.reopened} reopened after the gate closed them)")
print(f"p99 ratio (idle / none): {b[1] / a[1]:.2f}")
PYEOF
