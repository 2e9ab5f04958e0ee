"""Reconciliation as an operator sees it: with slipwayd checking the host every second
(--reconcile-interval 1), a live release whose environment bridge was deleted, whose proxy was killed
with -9 or lost a route, or whose nft table was deleted or flushed answers again on its URL within a few
seconds and the daemon log says what was repaired; while the bridge cannot be re-created (a veth the test
puts in its place) `slipway status` says degraded with the reason, and ok again once the obstacle is gone.
Only what this test's daemon made (its bridge, its proxy, its nft table) and the test's own veth are
touched; traffic goes to 127.0.0.1 only."""

import json
import os
import secrets
import signal
import socket
import subprocess
import time

import pytest

from deploy_util import (deploy_site, http_get, ingress_url, make_site, pid_alive, running_deploy_daemon,
                         stop_all, wait_for)

pytestmark = pytest.mark.slow

INTERVAL = 1          # --reconcile-interval under test
REPAIR_TIMEOUT = 15   # a few intervals, plus a proxy start


@pytest.fixture(scope="module")
def live(build_dir, images, tmp_path_factory):
        """A daemon with rc/web live in development: (daemon, url, bridge, nft table)."""
        root = tmp_path_factory.mktemp("reconcile")
        with running_deploy_daemon(build_dir, root / "state",
                                   extra_args=("--reconcile-interval", str(INTERVAL))) as d:
                deploy_site(d, images, make_site(root / "v1", "hello reconcile"), "rc/web", "web:1")
                url = ingress_url(d, "rc", "web", "development")
                assert http_get(url) == (200, "hello reconcile\n")
                envs = {e["name"]: e for e in d.cli("env", "list", "rc")["environments"]}
                bridge = envs["development"]["bridge"]
                table = d.cli("status")["health"]["nft_table"]
                assert bridge and table
                yield d, url, bridge, table
                # What a project delete removes stays removed: the check re-creates only what is wanted.
                stop_all(d)
                time.sleep(3 * INTERVAL)
                assert link_kind(bridge) is None, f"{bridge} came back after the project was deleted"
                assert "Reconcile:" not in d.log()[d.log().rfind("Stopped "):], d.log()[-2000:]


def serving(url):
        return http_get(url, timeout=2) == (200, "hello reconcile\n")


def log_since(d, mark):
        return d.log()[mark:]


def link_kind(name):
        """The link's kind ("bridge", "veth", …), "" for none of those, None when there is no such link."""
        p = subprocess.run(["ip", "-d", "-j", "link", "show", name], capture_output=True, text=True)
        if p.returncode != 0:
                return None
        info = json.loads(p.stdout)[0].get("linkinfo", {})
        return info.get("info_kind", "")


def proxy_call(d, req):
        """One request on the proxy's control socket (what slipwayd and slipway-proxy's CLI send)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(str(d.state_dir / "proxy.sock"))
                s.sendall((json.dumps(req) + "\n").encode())
                buf = b""
                while not buf.endswith(b"\n"):
                        chunk = s.recv(65536)
                        if not chunk:
                                break
                        buf += chunk
        return json.loads(buf)


def route_names(d):
        reply = proxy_call(d, {"cmd": "route-list"})
        assert reply["ok"], reply
        return sorted(r["name"] for r in reply["routes"])


def nft_rules(table):
        """Number of rules in inet TABLE, None when it does not exist."""
        p = subprocess.run(["nft", "-j", "list", "table", "inet", table], capture_output=True, text=True)
        if p.returncode != 0:
                return None
        return sum(1 for o in json.loads(p.stdout)["nftables"] if "rule" in o)


def status_health(d):
        return d.cli("status")["health"]


def test_deleted_bridge_is_recreated(live):
        d, url, bridge, _ = live
        mark = len(d.log())
        assert link_kind(bridge) == "bridge"
        subprocess.run(["ip", "link", "delete", bridge], check=True)
        assert wait_for(lambda: serving(url), REPAIR_TIMEOUT), log_since(d, mark)
        assert link_kind(bridge) == "bridge"
        assert wait_for(lambda: "put it back on bridge" in log_since(d, mark), REPAIR_TIMEOUT)
        log = log_since(d, mark)
        assert f"bridge {bridge} of rc/development was missing" in log, log
        assert "put it back on bridge" in log, log  # the instance's veth joined the new bridge
        assert status_health(d)["status"] == "ok"


def test_killed_proxy_is_restarted_with_all_routes(live):
        d, url, _, _ = live
        before = route_names(d)
        assert before, "no routes to compare"
        old = d.proxy_pids()
        assert len(old) == 1, old
        mark = len(d.log())
        os.kill(old[0], signal.SIGKILL)
        assert wait_for(lambda: not pid_alive(old[0]), 5)
        assert wait_for(lambda: serving(url), REPAIR_TIMEOUT), log_since(d, mark)
        new = d.proxy_pids()
        assert new and old[0] not in new
        assert route_names(d) == before
        assert wait_for(lambda: "slipway-proxy did not answer; started" in log_since(d, mark), REPAIR_TIMEOUT), \
                log_since(d, mark)


def test_route_removed_from_proxy_is_reapplied(live):
        d, url, _, _ = live
        before = route_names(d)
        ingress = [n for n in before if n.startswith("ing-")]
        assert ingress, before
        mark = len(d.log())
        assert proxy_call(d, {"cmd": "route-rm", "name": ingress[0]})["ok"]
        assert wait_for(lambda: serving(url), REPAIR_TIMEOUT), log_since(d, mark)
        assert route_names(d) == before
        assert wait_for(lambda: "were missing from slipway-proxy; re-applied them" in log_since(d, mark),
                        REPAIR_TIMEOUT), log_since(d, mark)
        assert ingress[0] in log_since(d, mark)


@pytest.mark.parametrize("how", ["delete", "flush"])
def test_nft_table_is_reapplied(live, how):
        d, url, _, table = live
        rules = nft_rules(table)
        assert rules, f"table inet {table} has no rules before the test"
        mark = len(d.log())
        subprocess.run(["nft", how, "table", "inet", table], check=True)
        assert nft_rules(table) in (None, 0)
        want = f"the nft table {table} {'was missing' if how == 'delete' else 'had no rules'}; re-applied"
        # The pass logs once it is through, a moment after the table is back.
        assert wait_for(lambda: want in log_since(d, mark), REPAIR_TIMEOUT), log_since(d, mark)
        assert nft_rules(table) == rules
        assert serving(url)


def test_unrepairable_bridge_is_reported_degraded_until_fixed(live):
        d, url, bridge, _ = live
        peer = "swt" + secrets.token_hex(4)
        mark = len(d.log())
        # A veth of the bridge's name: the daemon must not delete a link it did not make, so it cannot
        # re-create its bridge.  The bridge may come back between the two commands; then try again.
        for _ in range(20):
                subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
                if subprocess.run(["ip", "link", "add", bridge, "type", "veth", "peer", "name", peer],
                                  capture_output=True).returncode == 0:
                        break
        assert link_kind(bridge) == "veth"
        try:
                h = wait_for(lambda: (lambda x: x if x["status"] == "degraded" else None)(status_health(d)),
                             REPAIR_TIMEOUT)
                assert h, f"status never said degraded:\n{log_since(d, mark)}"
                assert bridge in h["reason"] and "cannot be repaired" in h["reason"], h
                human = d.cli("status", json=False).stdout
                assert f"Health:     degraded: " in human and bridge in human, human
                assert not serving(url)
                log = log_since(d, mark)
                assert log.count("Degraded:") == 1, log  # logged once, not every interval
        finally:
                subprocess.run(["ip", "link", "delete", bridge], capture_output=True)  # the test's own veth
        assert wait_for(lambda: status_health(d)["status"] == "ok", REPAIR_TIMEOUT), log_since(d, mark)
        assert wait_for(lambda: serving(url), REPAIR_TIMEOUT), log_since(d, mark)
        human = d.cli("status", json=False).stdout
        assert "Health:     ok" in human, human
        assert "No longer degraded" in log_since(d, mark)
