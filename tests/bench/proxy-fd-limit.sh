#!/bin/bash
# Benchmark: normal clients' requests/s through slipway-proxy with no extra load, and while hostile
# clients hold it at its descriptor limit with half-sent request heads (issue 10, case 4; goal: ratio
# >= 0.8).  A one-worker nginx serves a 0-byte file behind a 2-worker slipway-proxy that runs with the
# machine's hard open-files limit; holder processes (Python) open as many connections as they can, send
# an unfinished head on each and keep what the proxy keeps (BENCH_TOPUP=1: re-open every second the ones
# the proxy closed, a connection flood of its own).  wrk (keep-alive) is the
# normal client.  Prints both figures, the ratio, the proxy's CPU share while held, and its limit lines.
#
# Usage: tests/bench/proxy-fd-limit.sh [BUILD_DIR]
#        env: BENCH_DURATION=10 BENCH_CONNS=50 BENCH_ROUNDS=3 BENCH_HOLDERS=2 BENCH_HOLD_EACH=12000
#             BENCH_TOPUP=0
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
proxy_bin=$build/runtime/proxy/slipway-proxy
duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNS:-50}
rounds=${BENCH_ROUNDS:-3}
holders=${BENCH_HOLDERS:-2}
hold_each=${BENCH_HOLD_EACH:-12000}
topup=${BENCH_TOPUP:-0}
py=/usr/bin/python3

for tool in wrk nginx; do
        command -v "$tool" >/dev/null || { echo "proxy-fd-limit.sh: $tool is not installed (packaging/install-deps)." >&2; exit 1; }
done
[ -x "$proxy_bin" ] || { echo "proxy-fd-limit.sh: $proxy_bin not found; build first." >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)

work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT

port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
        for _ in $(seq 200); do
                (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
                sleep 0.05
        done
        echo "proxy-fd-limit.sh: nothing listens on port $1" >&2
        exit 1
}
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

backend_port=$(port) proxy_port=$(port)
mkdir -p "$work/www" "$work/backend" "$work/proxy"
chmod 755 "$work"
: >"$work/www/0"
cat >"$work/backend/nginx.conf" <<EOC
daemon off;
worker_processes 1;
pid $work/backend/nginx.pid;
error_log $work/backend/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/backend;
    proxy_temp_path $work/backend;
    fastcgi_temp_path $work/backend;
    uwsgi_temp_path $work/backend;
    scgi_temp_path $work/backend;
    server { listen 127.0.0.1:$backend_port; location / { root $work/www; } }
}
EOC
nginx -c "$work/backend/nginx.conf" -p "$work/backend" &
pids+=($!)

"$proxy_bin" serve --state-dir "$work/proxy" --workers 2 >"$work/proxy.log" 2>&1 &
pids+=($!)
proxy_pid=$!
for _ in $(seq 200); do [ -S "$work/proxy/proxy.sock" ] && break; sleep 0.1; done
sleep 0.5
"$proxy_bin" route set --state-dir "$work/proxy" bench --listen 127.0.0.1:$proxy_port \
        --target 127.0.0.1:$backend_port >/dev/null
wait_port "$backend_port"
wait_port "$proxy_port"

# holder: as many half-sent heads as it may open, topped up every second; writes how many it holds
cat >"$work/holder.py" <<'PY'
import resource, selectors, socket, sys, time
port, n, out, topup = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
n = min(n, hard - 50)
head = b"GET /0 HTTP/1.1\r\nHost: bench\r\nX-Slow: "
sel = selectors.DefaultSelector()
held = set()

def top_up():
    while len(held) < n:
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            return
        held.add(s)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)

def step(timeout):
    for key, ev in sel.select(timeout):
        s = key.fileobj
        if ev & selectors.EVENT_WRITE:
            try:
                s.send(head)
                sel.modify(s, selectors.EVENT_READ)
            except OSError:
                drop(s)
                continue
        if ev & selectors.EVENT_READ:
            try:
                s.recv(4096)
                drop(s)  # an answer (503/408) or EOF: the proxy let go of it
            except BlockingIOError:
                pass
            except OSError:
                drop(s)

def drop(s):
    sel.unregister(s)
    s.close()
    held.discard(s)

last, first = 0, True
while True:
    if time.time() - last >= 1:
        if first or topup:
            top_up()
            first = False
        last = time.time()
        with open(out, "w") as f:  # established and still open
            f.write(f"{len(held)}\n")
    step(0.2)
PY

run_wrk() { # prints req/s, p99, errors (socket errors + non-2xx)
        local out
        out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$proxy_port/0" 2>&1)
        echo "$out" >>"$work/wrk.txt"
        awk '/^Requests\/sec/ {rps=$2} $1=="99%" {p99=$2}
             /Socket errors/ {gsub(",", ""); e += $4 + $6 + $8 + $10} /Non-2xx/ {e += $NF}
             END {print rps, p99, e + 0}' <<<"$out"
}

echo "== slipway-proxy at its descriptor limit ($(nproc) CPUs, $(date -u +%FT%TZ); open-files limit $nofile;"
echo "   wrk -t1 -c$conns ${duration}s x $rounds rounds keep-alive; $holders holder(s) x $hold_each half-sent heads, top-up $topup)"
base=() held=()
hpids=()
for r in $(seq "$rounds"); do
        read -r rps p99 errs < <(run_wrk)
        base+=("$rps")
        echo "round $r  no extra load:   $rps req/s  p99 $p99  errors $errs"

        hpids=()
        for h in $(seq "$holders"); do
                $py "$work/holder.py" "$proxy_port" "$hold_each" "$work/held.$h" "$topup" &
                hpids+=($!)
                pids+=($!)
        done
        sleep 6 # fill and settle at the limit
        t0=$(cpu_ticks "$proxy_pid")
        sleep 3
        t1=$(cpu_ticks "$proxy_pid")
        idle_cpu=$(( (t1 - t0) * 100 / $(getconf CLK_TCK) / 3 ))
        total=$(cat "$work"/held.* 2>/dev/null | awk '{n += $1} END {print n + 0}')
        fds=$(ls /proc/"$proxy_pid"/fd | wc -l)
        read -r rps p99 errs < <(run_wrk)
        held+=("$rps")
        echo "round $r  held at limit:   $rps req/s  p99 $p99  errors $errs   (holders keep $total sockets open," \
             "proxy fds $fds/$nofile, proxy CPU while held ${idle_cpu}%)"
        for p in "${hpids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
        rm -f "$work"/held.*
        sleep 3
done

$py - "${base[*]}" "${held[*]}" <<'PY'
import statistics, sys
b = [float(x) for x in sys.argv[1].split()]
h = [float(x) for x in sys.argv[2].split()]
mb, mh = statistics.median(b), statistics.median(h)
print(f"median req/s: no extra load {mb:.0f}, held at the descriptor limit {mh:.0f}, ratio {mh / mb:.2f} (goal >= 0.8)")
PY
echo "proxy log:"
sed 's/^/  /' "$work/proxy.log"
