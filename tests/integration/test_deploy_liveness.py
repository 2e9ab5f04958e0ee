"""Liveness failures end to end: a component whose /healthz disappears a few seconds after each start goes live,
then fails its liveness check; the supervisor restarts the instance (deploy log, restart count, a new process
answering on the component's URL) while the release stays live, and repeated failures are restarted with a
growing back-off.  (A crash → restart is tested in test_deploy.py.)"""

import os
import signal
import time

import pytest

from deploy_util import (api_request, build_image, deploy, http_get, ingress_url, instance_pid, make_site,
                         pid_alive, release_doc, running_deploy_daemon, wait_for)

pytestmark = pytest.mark.slow

# Each start: a fresh random token in index.html, /healthz for ALIVE_S seconds, then no more /healthz.
ALIVE_S = 3
ENTRYPOINT = ("mkdir -p /www; cat /proc/sys/kernel/random/uuid >/www/index.html; echo ok >/www/healthz; "
              f"echo app started; (sleep {ALIVE_S}; rm -f /www/healthz) & exec httpd -f -p 8080 -h /www")
READINESS = {"kind": "http", "path": "/healthz", "interval_ms": 200, "timeout_ms": 500, "failure_threshold": 3}
LIVENESS = {"kind": "http", "path": "/healthz", "interval_ms": 400, "timeout_ms": 500, "failure_threshold": 2}


class Watch:
        """Follows the instance's nspawn pid (instance.json) and notes when each one died and the next began."""

        def __init__(self, d, instance_id):
                self.d, self.id = d, instance_id
                self.pid = instance_pid(d.state_dir, instance_id)
                self.gaps = []  # seconds from a pid's death to its successor's start, per restart

        def next_restart(self, timeout):
                deadline = time.monotonic() + timeout
                died = None
                while time.monotonic() < deadline:
                        if died is None and not pid_alive(self.pid):
                                died = time.monotonic()
                        if died is not None:
                                try:
                                        pid = instance_pid(self.d.state_dir, self.id)
                                except (OSError, ValueError, KeyError):
                                        pid = None
                                if pid and pid != self.pid and pid_alive(pid):
                                        self.gaps.append(time.monotonic() - died)
                                        self.pid = pid
                                        return True
                        time.sleep(0.1)
                return False


@pytest.fixture(scope="module")
def live(build_dir, images, tmp_path_factory):
        root = tmp_path_factory.mktemp("liveness")
        with running_deploy_daemon(build_dir, root / "state", images) as d:
                build_image(d, make_site(root / "ctx", "unused", cmd=["sh", "-c", ENTRYPOINT]), "flaky:1")
                d.cli("project", "create", "live")
                # The CLI's --health sets the kind only; interval and thresholds go through the API it uses.
                api_request(d, "POST", "/api/v1/projects/live/components",
                            {"name": "web", "image": "flaky:1",
                             "spec": {"health": {"readiness": READINESS, "liveness": LIVENESS}}})
                show = d.cli("component", "show", "live/web")
                assert show["spec"]["health"]["liveness"]["failure_threshold"] == 2, show
                _, rel, _ = deploy(d, "live/web", "development", "flaky:1")
                yield d, rel


def test_liveness_failure_restarts_instance(live):
        d, rel = live
        url = ingress_url(d, "live", "web", "development")
        status, first_token = http_get(url)
        assert status == 200 and first_token.strip(), (status, first_token)
        inst = rel["instances"][0]
        w = Watch(d, inst["id"])

        # /healthz goes away ALIVE_S s after the start: two failed probes later the instance is restarted.
        assert w.next_restart(ALIVE_S + 15), f"not restarted:\n{release_doc(d, 'live', 'web', rel['id'])['log']}"
        # The supervisor records the restart right after starting the new process.
        def recorded():
                doc = release_doc(d, "live", "web", rel["id"])
                return doc if any(f"instance {inst['id']} restarted" in l for l in doc["log"]) else None
        doc = wait_for(recorded, 5) or release_doc(d, "live", "web", rel["id"])
        log = doc["log"]
        assert any(l.startswith("liveness probe to ") and "failed (1 of 2)" in l for l in log), log
        assert any("failed (2 of 2)" in l for l in log), log
        assert any(f"instance {inst['id']} failed its liveness check; restarting it" in l for l in log), log
        assert any(f"instance {inst['id']} restarted" in l for l in log), log
        # One reason per restart: a liveness kill is not also reported as the instance being "gone".
        assert not any(f"instance {inst['id']} is gone" in l for l in log), log
        # Same instance (address, routes) restarted in place; the release stays live.
        assert doc["status"] == "live", doc
        [i] = doc["instances"]
        assert i["id"] == inst["id"] and i["state"] == "ready" and i["restarts"] >= 1, doc["instances"]
        assert [r["status"] for r in d.cli("releases", "live/web", "development")["releases"]] == ["live"]

        # The restarted process serves on the component's URL (a new start writes a new token).
        def serves_new():
                s, body = http_get(url)
                return s == 200 and body.strip() and body != first_token
        assert wait_for(serves_new, 10), http_get(url)
        assert http_get(url + "healthz") == (200, "ok\n")


def test_repeated_liveness_failures_back_off(live):
        d, rel = live
        inst = rel["instances"][0]
        doc = release_doc(d, "live", "web", rel["id"])
        done = doc["instances"][0]["restarts"]
        w = Watch(d, inst["id"])
        # Back-off 1 s, 2 s, 4 s, … by the restart count: observe restarts until one waited for >= 4 s.
        while done < 3:
                assert w.next_restart(ALIVE_S + 25), \
                        f"restart {done + 1} did not happen:\n{release_doc(d, 'live', 'web', rel['id'])['log']}"
                done += 1
        print("restart gaps (s):", w.gaps)
        assert len(w.gaps) >= 2, w.gaps
        # Loose: the supervisor ticks once a second, so each gap is its back-off plus up to a tick.
        assert w.gaps[-1] > w.gaps[0] and w.gaps[-1] >= 3.0, f"no growing back-off: gaps {w.gaps}"
        doc = release_doc(d, "live", "web", rel["id"])
        assert doc["status"] == "live" and doc["instances"][0]["restarts"] >= 3, doc
        assert sum("failed its liveness check" in l for l in doc["log"]) >= 3, doc["log"]


def test_slow_start_after_crash_is_not_killed_by_liveness(build_dir, images, tmp_path):
        """An app that needs a few seconds to listen (longer than the liveness check's failure_threshold ×
        interval) crashes: its restart must get the time its first start got, not be killed by liveness
        probes before it could answer and restarted for ever."""
        slow_s = 4
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                cmd = f"echo app starting; sleep {slow_s}; exec httpd -f -p 8080 -h /www"
                build_image(d, make_site(tmp_path / "ctx", "slow app", cmd=["sh", "-c", cmd]), "slow:1")
                d.cli("project", "create", "slow")
                api_request(d, "POST", "/api/v1/projects/slow/components",
                            {"name": "web", "image": "slow:1",
                             "spec": {"health": {"readiness": READINESS | {"failure_threshold": 100},
                                                 "liveness": LIVENESS}}})
                _, rel, _ = deploy(d, "slow/web", "development", "slow:1")
                url = ingress_url(d, "slow", "web", "development")
                assert http_get(url) == (200, "slow app\n")
                inst = rel["instances"][0]
                nspawn = instance_pid(d.state_dir, inst["id"])
                payload = int(open(f"/proc/{nspawn}/task/{nspawn}/children").read().split()[0])

                os.kill(payload, signal.SIGKILL)  # the app crashes
                assert wait_for(lambda: not pid_alive(nspawn), 10)
                assert wait_for(lambda: http_get(url) == (200, "slow app\n"), slow_s + 20), \
                        f"never served again:\n{release_doc(d, 'slow', 'web', rel['id'])['log']}"
                time.sleep(2)  # a few more supervisor ticks: it stays up
                doc = release_doc(d, "slow", "web", rel["id"])
                assert doc["status"] == "live"
                # One restart for the crash; none for liveness while it was starting.
                assert [i["restarts"] for i in doc["instances"]] == [1], doc["log"]
                assert not any("failed its liveness check" in l for l in doc["log"]), doc["log"]
                assert http_get(url) == (200, "slow app\n")
