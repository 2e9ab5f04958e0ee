#!/bin/bash
# Benchmark: slipway-proxy against nginx 1.22 and HAProxy 2.6 as reverse proxies, all with one
# worker/thread, in front of the same nginx backend serving 0 B and 1 KiB static files.  Runs wrk
# (keep-alive) for a few connection counts, alternating the proxies each round, and prints the medians
# of requests/s and p99 latency with their ratios to nginx; then memory per idle keep-alive client
# connection with 10 000 connections held open.  Everything listens on 127.0.0.1 high ports and is
# started with temporary configs; nothing is installed or run as a system service.
#
# Usage: tests/bench/proxy.sh [BUILD_DIR]      (env: BENCH_DURATION=5 BENCH_ROUNDS=3 BENCH_CONNS="10 50 200"
#                                                     BENCH_IDLE=10000 BENCH_SKIP_IDLE=)
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
proxy_bin=$build/runtime/proxy/slipway-proxy
duration=${BENCH_DURATION:-5}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-"10 50 200"}
idle=${BENCH_IDLE:-10000}
py=/usr/bin/python3

for tool in wrk nginx haproxy; do
        command -v "$tool" >/dev/null || { echo "proxy.sh: $tool is not installed (packaging/install-deps)." >&2; exit 1; }
done
[ -x "$proxy_bin" ] || { echo "proxy.sh: $proxy_bin not found; build first (meson setup build && ninja -C build)." >&2; exit 1; }

# 10 000 idle connections need ~10 000 fds in the client and in each proxy; the hard limit here may be
# lower than we would like (containers), so take what we may and size the proxies to it.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)
haproxy_maxconn=$(( (nofile - 200) / 2 ))

work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT
[ -n "${BENCH_KEEP:-}" ] && trap - EXIT

port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
        for _ in $(seq 200); do
                (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
                sleep 0.05
        done
        echo "proxy.sh: nothing listens on port $1" >&2
        exit 1
}

backend_port=$(port) nginx_port=$(port) haproxy_port=$(port) slipway_port=$(port)

# nginx_run NAME PORT HTTP LOCATION: an nginx with one worker and no access log, its config, pid, logs and
# temp files in $work/NAME, listening on 127.0.0.1:PORT; HTTP goes into its http block, LOCATION into
# "location /".  Its pid is appended to pids.
nginx_run() {
        local dir=$work/$1
        cat >"$dir/nginx.conf" <<EOC
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
worker_rlimit_nofile $((nofile - 100));
events { worker_connections 30000; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fastcgi_temp_path $dir;
    uwsgi_temp_path $dir;
    scgi_temp_path $dir;
$3
    server {
        listen 127.0.0.1:$2;
        location / {
$4
        }
    }
}
EOC
        nginx -c "$dir/nginx.conf" -p "$dir" &
        pids+=($!)
}

# --- backend: nginx, static files, one worker --------------------------------------------------------
mkdir -p "$work/www" "$work/backend" "$work/nginx" "$work/slipway"
chmod 755 "$work" # nginx workers run as an unprivileged user and must read the files
: >"$work/www/0"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/www/1k"
nginx_run backend "$backend_port" "" "            root $work/www;"

# --- nginx as reverse proxy: one worker, upstream keepalive --------------------------------------------
nginx_run nginx "$nginx_port" \
        "    keepalive_timeout 300s;
    upstream backend { server 127.0.0.1:$backend_port; keepalive 256; keepalive_requests 1000000; }" \
        '            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;'
nginx_pid=${pids[-1]}

# --- HAProxy: one thread, keep-alive both sides ---------------------------------------------------------
cat >"$work/haproxy.cfg" <<EOC
global
    nbthread 1
    maxconn $haproxy_maxconn
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    option http-keep-alive
    option forwardfor
    http-reuse always
frontend fe
    bind 127.0.0.1:$haproxy_port
    default_backend be
backend be
    server s1 127.0.0.1:$backend_port
EOC
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
haproxy_pid=$!

# --- slipway-proxy: one worker --------------------------------------------------------------------------
"$proxy_bin" serve --state-dir "$work/slipway" --workers 1 >"$work/slipway.log" 2>&1 &
pids+=($!)
slipway_pid=$!
for _ in $(seq 100); do [ -S "$work/slipway/proxy.sock" ] && break; sleep 0.05; done
"$proxy_bin" route set --state-dir "$work/slipway" bench --listen 127.0.0.1:$slipway_port \
        --target 127.0.0.1:$backend_port >/dev/null

for p in $backend_port $nginx_port $haproxy_port $slipway_port; do wait_port "$p"; done

cpu_ticks() { # utime+stime (clock ticks) of a pid and its children (nginx workers)
        local total=0 p
        for p in "$1" $(pgrep -P "$1" || true); do
                total=$((total + $(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)))
        done
        echo "$total"
}
backend_pid=${pids[0]}
declare -A target_pid=([direct]=$backend_pid [nginx]=$nginx_pid [haproxy]=$haproxy_pid [slipway]=$slipway_pid)
declare -A target_port=([direct]=$backend_port [nginx]=$nginx_port [haproxy]=$haproxy_port
                        [slipway]=$slipway_port)
order=(direct nginx haproxy slipway)

# --- memory per idle keep-alive client connection, measured first, on fresh processes --------------------
measure_idle() {
rss_of() { # sum of VmRSS (kB) of a pid and its children
        local total=0 p
        for p in "$1" $(pgrep -P "$1" || true); do
                total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)))
        done
        echo "$total"
}
echo
echo "== memory per idle keep-alive client connection ($idle connections, each after one request)"
for t in nginx haproxy slipway; do
        pid_var=${t}_pid
        pid=${!pid_var}
        before=$(rss_of "$pid")
        fifo=$work/idle.$t
        mkfifo "$fifo"
        $py - "${target_port[$t]}" "$idle" "$fifo" <<'PY' &
import socket, sys, time, os
port, n, fifo = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
req = b"GET /0 HTTP/1.1\r\nHost: bench\r\n\r\n"
ok = 0
try:
    while len(socks) < n:
        batch = []
        for _ in range(min(500, n - len(socks))):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(req)
            batch.append(s)
        for s in batch:
            data = b""
            while b"\r\n\r\n" not in data:
                piece = s.recv(4096)
                if not piece:
                    raise EOFError
                data += piece
            ok += 1
        socks += batch
except (OSError, EOFError):
    pass  # the proxy's (or our) connection limit: report what is held
with open(fifo, "w") as f:
    f.write(f"{ok}\n")
time.sleep(3600)
PY
        client=$!
        held=$(head -n1 "$fifo")
        sleep 1
        after=$(rss_of "$pid")
        kill "$client" 2>/dev/null || true
        wait "$client" 2>/dev/null || true
        per=$($py -c "print(f'{($after - $before) * 1024 / max($held, 1):.0f}')")
        printf "%-8s held %6s  RSS %7s kB -> %7s kB   %6s bytes/connection\n" "$t" "$held" "$before" "$after" "$per"
        sleep 1
done
}

[ -z "${BENCH_SKIP_IDLE:-}" ] && measure_idle
echo
echo "== slipway-proxy benchmark ($(nproc) CPUs, $(date -u +%FT%TZ); wrk -t1 keep-alive, ${duration}s x $rounds rounds)"
echo "   note: the machine may be shared with other work; compare ratios within one run."
results=$work/results.txt
: >"$results"
for r in $(seq "$rounds"); do
        for body in 0 1k; do
                for c in $conns; do
                        # alternate the order each round so no proxy always runs first
                        if [ $((r % 2)) -eq 0 ]; then list=(slipway haproxy nginx direct); else list=("${order[@]}"); fi
                        for t in "${list[@]}"; do
                                t0=$(cpu_ticks "${target_pid[$t]}")
                                out=$(wrk -t1 -c"$c" -d"${duration}s" --latency \
                                      "http://127.0.0.1:${target_port[$t]}/$body" 2>&1)
                                t1=$(cpu_ticks "${target_pid[$t]}")
                                rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
                                nreq=$(awk '/requests in/ {print $1}' <<<"$out")
                                # CPU time the proxy (for "direct": the backend) spent per request, in µs;
                                # steadier than req/s on a shared machine
                                cpu=$(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / (nreq > 0 ? nreq : 1) ))
                                p99=$(awk '$1=="99%" {print $2}' <<<"$out")
                                # socket errors (connect, read, write, timeout) plus non-2xx responses
                                errs=$(awk '/Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10}
                                            /Non-2xx/ {n += $NF} END {print n + 0}' <<<"$out")
                                [ "$errs" -eq 0 ] || { echo "--- $t $body c=$c:"; echo "$out"; } >>"$work/wrk-errors.txt"
                                echo "$t $body $c $rps $p99 $errs $cpu" >>"$results"
                        done
                done
        done
done

$py - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def ms(v):
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[:-len(unit)]) * f
    return float(v)
data = {}
for t, body, c, rps, p99, errs, cpu in rows:
    d = data.setdefault((body, int(c)), {}).setdefault(t, {"rps": [], "p99": [], "cpu": [], "errs": 0})
    d["rps"].append(float(rps)); d["p99"].append(ms(p99)); d["errs"] += int(errs); d["cpu"].append(int(cpu))
print(f"{'body':>4} {'conns':>5}  {'target':<8} {'req/s':>10} {'p99 ms':>8}   {'req/s vs nginx':>14} {'p99 vs nginx':>12} {'cpu us/req':>10}  errors")
for (body, c) in sorted(data, key=lambda k: (k[0], k[1])):
    row = data[(body, c)]
    ng = row.get("nginx")
    for t in ("direct", "nginx", "haproxy", "slipway"):
        if t not in row:
            continue
        rps = statistics.median(row[t]["rps"]); p99 = statistics.median(row[t]["p99"])
        rr = rps / statistics.median(ng["rps"]) if ng else float("nan")
        pr = p99 / statistics.median(ng["p99"]) if ng else float("nan")
        cpu = statistics.median(row[t]["cpu"])
        print(f"{body:>4} {c:>5}  {t:<8} {rps:>10.0f} {p99:>8.2f}   {rr:>14.2f} {pr:>12.2f} {cpu:>10.1f}  {row[t]['errs']}")
PY

if [ -f "$work/wrk-errors.txt" ]; then
        echo "wrk reported errors:"
        grep -E "^---|Socket errors|Non-2xx" "$work/wrk-errors.txt"
fi

