#!/bin/bash
# Benchmark: the git pipeline on a private slipwayd (bench-daemon.sh).  A local repository holds a busybox httpd
# component (Dockerfile FROM busybox:1); the bench prints, as medians of BENCH_RUNS runs:
#   webhook → build started   a GitHub-signed push delivery POSTed to /hooks/git/<id> until the build runs
#   second request            `POST …/builds {"commit": SHA}` for a commit already built (goal < 50 ms)
#   commit → live             a new commit, `slipway build --deploy --follow` until it is live in development,
#                             against `slipway image build` of the same tree alone (goal: ratio ≤ 2)
# Usage: tests/bench/git-pipeline.sh [BUILD_DIR]      (env: BENCH_RUNS=5)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLIPWAY_BUILD_DIR:-$top/build}}
runs=${BENCH_RUNS:-5}
py=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "git-pipeline.sh: run as root (containers, netns, nftables)." >&2; exit 2; }
[ -x "$build/appliance/engine/slipwayd" ] || { echo "git-pipeline.sh: build first (meson setup build && ninja -C build)." >&2; exit 1; }

. "$top/tests/bench/bench-daemon.sh"
bench_daemon_up git-pipeline

repo=$work/repo
gitc() { git -C "$repo" -c user.name=Bench -c user.email=bench@slipway.invalid "$@"; }
mkdir -p "$repo/www"
echo ok >"$repo/www/healthz"
# A RUN step, as real builds have: it runs in a container like any build's, after the COPY (so never cached).
printf '%s\n' 'FROM busybox:1' 'COPY www /www' \
        "RUN i=0; while [ \$i -lt 200000 ]; do i=\$((i+1)); done; echo \$i >/www/count" \
        "CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]" 'EXPOSE 8080' >"$repo/Dockerfile"
new_commit() {
        echo "version $1" >"$repo/www/index.html"
        gitc add -A
        gitc commit -q -m "version $1"
        gitc rev-parse HEAD
}
git -C "$repo" init -q -b main
new_commit 0 >/dev/null

cli project create bench >/dev/null
cli component create bench/web --git "$repo" --endpoint web:8080 --health http:/healthz >/dev/null
cli autobuild bench/web on >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
now() { date +%s.%N; }

# commit → live, and the image build of the same tree alone (a fresh tag; the build cache serves both alike)
live=() alone=()
for i in $(seq 1 "$runs"); do
        new_commit "$i" >/dev/null
        t0=$(now)
        cli build bench/web --deploy --follow >/dev/null
        t1=$(now)
        # Different content, so that the build cache serves neither run the COPY of www.
        echo "version $i alone" >"$repo/www/index.html"
        t2=$(now)
        cli image build "$repo" -t "alone:$i" >/dev/null
        t3=$(now)
        gitc checkout -q -- www/index.html
        live+=("$(awk "BEGIN { print $t1 - $t0 }")")
        alone+=("$(awk "BEGIN { print $t3 - $t2 }")")
done
live_med=$(printf '%s\n' "${live[@]}" | median)
alone_med=$(printf '%s\n' "${alone[@]}" | median)

# the second request for a built commit, and webhook → build started, straight over HTTP
read -r second hook < <($py - "$state" "$repo" "$runs" <<'EOF'
import hashlib, hmac, json, statistics, subprocess, sys, time, urllib.request
state, repo, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = open(f"{state}/api.url").read().strip()
token = open(f"{state}/admin.token").read().strip()
def call(method, path, body=None, headers=None, auth=True):
    h = {"Content-Type": "application/json", **(headers or {})}
    if auth:
        h["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")
sha = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
second = []
for _ in range(max(runs, 5) * 4):
    t0 = time.monotonic()
    b = call("POST", "/api/v1/projects/bench/components/web/builds", {"commit": sha})
    second.append(time.monotonic() - t0)
    assert b.get("existing"), b
hook = call("GET", "/api/v1/projects/bench/components/web/webhook")
hook_path = hook["url"][hook["url"].index("/hooks/"):]
started = []
for i in range(runs):
    subprocess.run(["git", "-C", repo, "-c", "user.name=Bench", "-c", "user.email=bench@slipway.invalid",
                    "commit", "-q", "--allow-empty", "-m", f"hook {i}"], check=True)
    after = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    body = json.dumps({"ref": "refs/heads/main", "before": sha, "after": after, "deleted": False,
                       "repository": {"clone_url": repo, "full_name": "bench/web"},
                       "head_commit": {"id": after, "message": f"hook {i}",
                                       "author": {"name": "Bench", "email": "bench@slipway.invalid"}}}).encode()
    sig = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    t0 = time.monotonic()
    r = call("POST", hook_path, body, {"X-GitHub-Event": "push", "X-GitHub-Delivery": f"bench-{time.time()}-{i}",
                                       "X-Hub-Signature-256": sig}, auth=False)
    build = r["build"]
    while call("GET", f"/api/v1/builds/{build}")["status"] == "queued":
        time.sleep(0.002)
    started.append(time.monotonic() - t0)
    while call("GET", f"/api/v1/builds/{build}")["status"] == "running":
        time.sleep(0.05)
    sha = after
print(f"{statistics.median(second) * 1000:.1f} {statistics.median(started) * 1000:.1f}")
EOF
)

echo "git-pipeline: commit → live median ${live_med} s; image build alone median ${alone_med} s;" \
        "ratio $(awk "BEGIN { printf \"%.2f\", $live_med / $alone_med }") (goal ≤ 2)"
echo "git-pipeline: second request for a built commit median ${second} ms (goal < 50 ms)"
echo "git-pipeline: webhook received → build started median ${hook} ms"
