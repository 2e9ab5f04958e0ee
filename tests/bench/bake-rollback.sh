#!/bin/bash
# Benchmark: an automatic rollback by the bake window — the time from the first failing request to the old
# instance serving again.  A component with a bake window runs a good release (busybox httpd, a CGI answering
# 200); N times a bad release (the same CGI answering 500, /healthz fine so it passes readiness) is deployed
# while a client (threads on keep-alive connections, each request's send and answer time logged) loads the
# ingress.  Per run: first 5xx answer → first 200 of a request sent after it (the routes are back on the
# standby instance), how many requests failed, and how long `slipway deploy` took to exit 1.  Prints each run
# and the p50/max.  Everything runs on a temporary state dir and is removed at the end.
#
# Usage: tests/bench/bake-rollback.sh [BUILD_DIR]      (env: BENCH_RUNS=7, BENCH_CLIENTS=4)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
runs=${BENCH_RUNS:-7}
clients=${BENCH_CLIENTS:-4}
py=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "bake-rollback.sh: run as root (containers, netns, nftables)." >&2; exit 2; }
[ -x "$build/appliance/engine/slipwayd" ] || { echo "bake-rollback.sh: build first (meson setup build && ninja -C build)." >&2; exit 1; }

. "$top/tests/bench/bench-daemon.sh"
bench_daemon_up bake-rollback

# site DIR REF STATUS: busybox httpd with /healthz and a CGI /cgi-bin/app answering STATUS.
site() {
        mkdir -p "$1/www/cgi-bin"
        echo ok >"$1/www/healthz"
        printf '%s\n' '#!/bin/sh' \
                "printf 'HTTP/1.1 $3 X\\r\\nContent-Type: text/plain\\r\\nContent-Length: 4\\r\\n\\r\\n'" \
                "echo $3" >"$1/www/cgi-bin/app"
        chmod 755 "$1/www/cgi-bin/app"
        printf '%s\n' 'FROM busybox:1' 'COPY www /www' \
                "CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]" 'EXPOSE 8080' \
                >"$1/Dockerfile"
        cli image build "$1" -t "$2" >/dev/null
}
site "$work/good" bench:good 200
site "$work/bad" bench:bad 500
cli project create bench >/dev/null
# The bake window through the API's spec (as 'component create --bake 30s' sets it).
$py - "$state" <<'EOF'
import json, sys, urllib.request
state = sys.argv[1]
url = open(f"{state}/api.url").read().strip()
token = open(f"{state}/admin.token").read().strip()
body = {"name": "web", "image": "bench:good",
        "spec": {"health": {"readiness": {"kind": "http", "path": "/healthz", "interval_ms": 200}},
                 "bake_ms": 30000, "bake_max_5xx_percent": 5}}
req = urllib.request.Request(url + "/api/v1/projects/bench/components", data=json.dumps(body).encode(),
                             method="POST", headers={"Authorization": f"Bearer {token}",
                                                     "Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
EOF
cli deploy bench/web development --image bench:good >/dev/null
port=$(cli --json env list bench | $py -c 'import json,sys; print([e for e in json.load(sys.stdin)["environments"] if e["name"] == "development"][0]["ingress_port"])')
target="127.0.0.1:$port"
path=/bench/web/cgi-bin/app

for i in $(seq 1 "$runs"); do
        # The client runs until the deploy is over, then says what it saw.
        $py - "$target" "$path" "$clients" "$work/run$i.log" <<'EOF' &
import http.client, os, sys, threading, time
host, path, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
stop = time.monotonic() + 120
lock = threading.Lock()
rows = []
def client():
        conn = None
        while time.monotonic() < stop:
                t0 = time.monotonic()
                try:
                        if conn is None:
                                conn = http.client.HTTPConnection(host, timeout=5)
                        conn.request("GET", path)
                        r = conn.getresponse()
                        r.read()
                        status = r.status
                except Exception:
                        status = 0
                        conn = None
                with lock:
                        rows.append((t0, time.monotonic(), status))
                if os.path.exists(out + ".stop"):
                        break
threads = [threading.Thread(target=client) for _ in range(n)]
for t in threads:
        t.start()
for t in threads:
        t.join()
with open(out, "w") as f:
        for r in sorted(rows):
                f.write("%.6f %.6f %d\n" % r)
EOF
        client=$!
        sleep 1
        t0=$(date +%s.%N)
        if cli deploy bench/web development --image bench:bad >"$work/deploy$i.out" 2>&1; then
                echo "bake-rollback.sh: run $i: the bad release was not rolled back:" >&2
                cat "$work/deploy$i.out" >&2
                exit 1
        fi
        t1=$(date +%s.%N)
        echo "$($py -c "print(f'{$t1 - $t0:.2f}')")" >"$work/deploy$i.took"
        sleep 0.5
        touch "$work/run$i.log.stop"
        wait "$client"
done

$py - "$work" "$runs" <<'EOF'
import statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
gaps = []
for i in range(1, runs + 1):
        rows = [tuple(float(x) for x in l.split()) for l in open(f"{work}/run{i}.log")]
        fails = [r for r in rows if r[2] != 200]
        if not fails:
                sys.exit(f"bake-rollback.sh: run {i}: the client saw no failing request")
        first_fail = min(r[1] for r in fails)
        back = min((r[1] for r in rows if r[2] == 200 and r[0] > first_fail), default=None)
        if back is None:
                sys.exit(f"bake-rollback.sh: run {i}: the old instance never served again")
        gap = back - first_fail
        gaps.append(gap)
        took = open(f"{work}/deploy{i}.took").read().strip()
        print(f"run {i}: first failing request -> old instance serving {gap * 1000:.0f} ms, "
              f"{len(fails)} of {len(rows)} requests failed, slipway deploy exit 1 after {took} s")
gaps.sort()
print(f"p50 over {runs} runs: {statistics.median(gaps) * 1000:.0f} ms (max {gaps[-1] * 1000:.0f} ms; goal p50 < 1 s)")
EOF
