#!/bin/bash
# Benchmark: the console's Deploy view of a component with 50 builds and 4 environments (each with a live
# release) on a private slipwayd: time to the page's `load` event and to the view's data on screen in
# headless Chromium over loopback (cold cache, then warm; median of BENCH_LOADS), the bytes of every console
# asset (goal < 150 KB uncompressed) and what a cold load transferred, and the API p50/p99 of the Deploy
# view's requests with BENCH_CLIENTS (20) simultaneous clients.  Run it under the shared lock:
#   flock /tmp/slipway-bench.lock tests/bench/console.sh
#
# Usage: tests/bench/console.sh [BUILD_DIR]      (env: BENCH_BUILDS=50 BENCH_LOADS=10 BENCH_CLIENTS=20 BENCH_ROUNDS=20)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
builds=${BENCH_BUILDS:-50}
loads=${BENCH_LOADS:-10}
clients=${BENCH_CLIENTS:-20}
rounds=${BENCH_ROUNDS:-20}
py=/usr/bin/python3
for v in "$builds" "$loads" "$clients" "$rounds"; do
        [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "console.sh: BENCH_* must be positive numbers." >&2; exit 2; }
done
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
        { echo "console.sh: chromium and chromium-driver are missing; run packaging/install-deps." >&2; exit 1; }

. "$top/tests/bench/bench-daemon.sh"
bench_binaries console.sh
bench_daemon_up console
url=$(cat "$state/api.url")
token=$(cat "$state/admin.token")
password="bench console password"
printf '%s\n' "$password" | cli user add bench --role admin --password-stdin >/dev/null

# A repository with $builds commits, each built once; the last one live in all 4 environments.
repo=$work/repo
mkdir -p "$repo/www"
git -C "$repo" init -q -b main
printf '%s\n' 'FROM busybox:1' 'COPY www /www' \
        "CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]" 'EXPOSE 8080' >"$repo/Dockerfile"
cli project create bench --envs development,testing,staging,production >/dev/null
cli component create bench/web --git "$repo" --endpoint web:8080 >/dev/null
cli component update bench/web --builds-keep "$builds" >/dev/null
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.test GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.test
for i in $(seq "$builds"); do
        echo "version $i" >"$repo/www/index.html"
        git -C "$repo" add -A && git -C "$repo" commit -qm "version $i"
        cli build bench/web --commit "$(git -C "$repo" rev-parse HEAD)" >/dev/null
done
echo "console.sh: waiting for $builds builds..." >&2
$py - "$url" "$token" "$builds" <<'PYEOF'
import json, sys, time, urllib.request
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 1800
while True:
        req = urllib.request.Request(url + "/api/v1/projects/bench/components/web/builds",
                                     headers={"Authorization": "Bearer " + token})
        bs = json.load(urllib.request.urlopen(req))["builds"]
        if len(bs) >= n and all(b["status"] in ("succeeded", "failed", "cancelled") for b in bs):
                break
        if time.monotonic() > deadline:
                sys.exit("console.sh: the builds did not finish")
        time.sleep(1)
PYEOF
last=$(cli --json builds bench/web | $py -c 'import json,sys; print(json.load(sys.stdin)["builds"][0]["id"])')
cli deploy bench/web development --build "$last" >/dev/null
cli promote bench/web development testing >/dev/null
cli promote bench/web testing staging >/dev/null
cli promote bench/web staging production >/dev/null

$py - "$url" "$token" "$password" "$loads" "$clients" "$rounds" <<'PYEOF'
import concurrent.futures, json, re, shutil, statistics, sys, tempfile, time, urllib.request
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

url, token, password = sys.argv[1], sys.argv[2], sys.argv[3]
loads, clients, rounds = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
view = url + "/#/projects/bench/components/web"

def get(path, headers=None):
        with urllib.request.urlopen(urllib.request.Request(url + path, headers=headers or {})) as r:
                return r.read()

# Every console asset: index.html and what it names.
html = get("/").decode()
assets = re.findall(r'"/console/([^"]+)"', html)
total = len(html.encode()) + sum(len(get("/console/" + a)) for a in assets)

profile = tempfile.mkdtemp(prefix="slipway-bench-chromium-")
opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--no-first-run", "--window-size=1280,1000", f"--user-data-dir={profile}"):
        opts.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
        # Log in through the API page itself (the cookie is HttpOnly: the browser must get it).
        d.get(url + "/")
        d.execute_async_script("""const done = arguments[arguments.length - 1];
                fetch('/api/v1/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
                      body: JSON.stringify({name: 'bench', password: arguments[0]})}).then(r => done(r.status));""",
                               password)
        d.execute_cdp_cmd("Network.enable", {})
        def one(cold):
                if cold:
                        d.execute_cdp_cmd("Network.clearBrowserCache", {})
                d.get("about:blank")
                d.get(view)
                t0 = time.monotonic()
                while time.monotonic() - t0 < 30:
                        if d.execute_script("return document.body && document.body.dataset.ready === '1' "
                                            "&& document.querySelectorAll('.builds tbody tr').length > 0"):
                                break
                        time.sleep(0.005)
                return d.execute_script("""const n = performance.getEntriesByType('navigation')[0];
                        const res = performance.getEntriesByType('resource');
                        const ready = performance.now();
                        return [n.loadEventEnd, ready,
                                n.transferSize + res.filter(r => r.name.includes('/console/')).reduce((a, r) => a + r.transferSize, 0),
                                document.querySelectorAll('.builds tbody tr').length, document.querySelectorAll('.env-card').length];""")
        first = one(True)
        cold = [one(True) for _ in range(loads)]
        warm = [one(False) for _ in range(loads)]
        timeline = d.execute_script("""return performance.getEntriesByType('resource')
                .filter(r => r.name.includes('/api/v1/'))
                .map(r => [r.name.replace(location.origin + '/api/v1/', ''), r.startTime, r.responseEnd]);""")
finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
assert first[3] == 50 or first[3] >= 1, first
med = lambda xs, i: statistics.median(x[i] for x in xs)
print(f"Deploy view ({first[3]} builds shown, {first[4]} environment cards):")
print(f"  load event   cold {med(cold, 0):6.1f} ms   warm {med(warm, 0):6.1f} ms   (median of {loads}; goal < 300 ms)")
print(f"  data shown   cold {med(cold, 1):6.1f} ms   warm {med(warm, 1):6.1f} ms")
print(f"  console assets {total} bytes uncompressed ({len(assets) + 1} files; goal < 150 KB); "
      f"a cold load transferred {int(med(cold, 2))} bytes of them")
print("  the last warm load's API requests (start → end, ms since navigation):")
for name, start, end in timeline:
        print(f"    {start:6.1f} → {end:6.1f}  {name}")

# The Deploy view's API requests, BENCH_CLIENTS at a time.
auth = {"Authorization": "Bearer " + token}
c = "/api/v1/projects/bench/components/web"
paths = [c, "/api/v1/projects/bench", c + "/builds", c + "/commits?limit=20", c + "/webhook",
         "/api/v1/approvals", c + "/url"]
def client(_):
        times = {}
        for _ in range(rounds):
                for p in paths:
                        t = time.monotonic()
                        get(p, auth)
                        times.setdefault(p, []).append((time.monotonic() - t) * 1000)
        return times
t0 = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        results = list(ex.map(client, range(clients)))
wall = time.monotonic() - t0
allt = sorted(x for r in results for v in r.values() for x in v)
pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
print(f"API, {clients} clients x {rounds} rounds of the view's {len(paths)} requests ({len(allt)} requests, "
      f"{len(allt) / wall:.0f}/s):")
print(f"  all          p50 {pct(allt, .5):6.1f} ms   p99 {pct(allt, .99):6.1f} ms")
for p in paths:
        xs = sorted(x for r in results for x in r[p])
        print(f"  {p[len('/api/v1/'):]:<55} p50 {pct(xs, .5):6.1f} ms   p99 {pct(xs, .99):6.1f} ms")
PYEOF
