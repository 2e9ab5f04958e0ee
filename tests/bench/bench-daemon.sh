# Sourced by the benches: a private slipwayd on a temporary state dir, the busybox fixture image and busybox
# httpd images built on it (deploy.sh, idle-rss.sh, instance-start.sh; build.sh and image-store.sh use the
# daemon and the binaries' check).  Needs $top, $build and $py set; defines functions only.
# Invariant: bench_daemon_stop leaves no instance, route, bridge, nft table, claim, slipwayd or slipway-proxy of
# the state dir.

# bench_binaries NAME: sets $slipwayd and $slipway from $build, or exits telling NAME's user to build first.
bench_binaries() {
        local b
        slipwayd=$build/appliance/engine/slipwayd
        slipway=$build/appliance/cli/slipway
        for b in "$slipwayd" "$slipway"; do
                [ -x "$b" ] || { echo "$1: $b is missing; build first (meson setup build && ninja -C build) or set SLIPWAY_BUILD_DIR." >&2; exit 1; }
        done
}

# bench_daemon_setup NAME [DIR]: creates $work (mktemp under DIR, default /tmp, named from NAME) and $state;
# defines cli.
bench_daemon_setup() {
        work=$(mktemp -d "${2:-/tmp}/slipway-bench-$1.XXXXXX")
        state=$work/state
        daemon_pid=
}
cli() { "$build/appliance/cli/slipway" --state-dir "$state" "$@"; }

# slipwayd on a free API port and a random ingress base port (and --bake-default $bench_bake_default, 0
# unless set); returns once `slipway status` answers, and
# exits with slipwayd's log when it died before.
bench_daemon_start() {
        local base api
        base=$($py -c 'import random; print(random.randrange(30000, 39000))')
        api=127.0.0.1:$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        # No bake window unless a bench sets $bench_bake_default (slipwayd's own default would hold every
        # deploy's old instance for 30 s).
        "$build/appliance/engine/slipwayd" --state-dir "$state" --api "$api" --ingress-base-port "$base" \
                --bake-default "${bench_bake_default:-0}" >"$work/slipwayd.log" 2>&1 &
        daemon_pid=$!
        for _ in $(seq 300); do
                cli status >/dev/null 2>&1 && return 0
                kill -0 "$daemon_pid" 2>/dev/null ||
                        { echo "${0##*/}: slipwayd died:" >&2; cat "$work/slipwayd.log" >&2; exit 1; }
                sleep 0.1
        done
}

# Removes the bench project (instances, routes, bridges), then stops slipwayd and its slipway-proxy.
bench_daemon_stop() {
        local proxy
        [ -n "$daemon_pid" ] || return 0
        cli project delete bench --force >/dev/null 2>&1 || true
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
        daemon_pid=
        proxy=$(pgrep -f "slipway-proxy serve --state-dir $state\$" || true)
        if [ -n "$proxy" ]; then
                kill $proxy 2>/dev/null || true
                for _ in $(seq 50); do kill -0 $proxy 2>/dev/null || break; sleep 0.1; done
        fi
        # This state dir's own nft table and state-id claim (slipwayd keeps them across restarts).
        if [ -s "$state/state-id" ]; then
                nft delete table inet "slipway_$(cat "$state/state-id")" 2>/dev/null || true
                rm -f "/run/slipway/state-ids/$(cat "$state/state-id")"
        fi
}

# Stops slipwayd (bench_daemon_stop) and removes $work: the exit trap of a bench with nothing else to undo.
bench_daemon_cleanup() {
        bench_daemon_stop
        rm -rf "$work"
}

# The usual start of a bench: setup ($1 names $work), bench_daemon_cleanup on exit, slipwayd up with
# busybox:1 imported.
bench_daemon_up() {
        bench_daemon_setup "$1"
        trap bench_daemon_cleanup EXIT
        bench_daemon_start
        bench_import_busybox
}

# Imports busybox:1 from the test fixtures (tests/fixtures, cached like the tests cache them).
bench_import_busybox() {
        local images
        images=$($py -c "
import sys; sys.path.insert(0, '$top/tests/fixtures'); import slipway_images, os
out = os.environ.get('SLIPWAY_FIXTURE_CACHE', '/var/tmp/slipway-test-images') + '/v' + str(slipway_images.FIXTURE_VERSION)
slipway_images.make_all(out); print(out)")
        cli image import "$images/busybox.oci.tar" >/dev/null
}

# bench_httpd_image DIR REF TEXT: builds REF, busybox httpd on 8080 serving TEXT at / and "ok" at /healthz.
bench_httpd_image() {
        mkdir -p "$1/www"
        echo "$3" >"$1/www/index.html"
        echo ok >"$1/www/healthz"
        printf '%s\n' 'FROM busybox:1' 'COPY www /www' \
                "CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]" 'EXPOSE 8080' \
                >"$1/Dockerfile"
        cli image build "$1" -t "$2" >/dev/null
}
