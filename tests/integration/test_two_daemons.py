"""Two Slipways on one host (issue 9, item 5): a second slipwayd with its own state dir, API port and ingress
base port goes through project create → deploy → simulated reboot → `project delete --force` with the SAME
project and environment names as a first one that serves a deployed component all the while.  The first
answers every request throughout, and afterwards its development instance still cannot reach its
production service address nor the host's API port.  Each daemon has its own nft table, bridge names with
its own id and its own subnets and ingress ports; a pool address that has no bridge is unreachable rather
than sent out through the default route.  Traffic goes only to 127.0.0.1 and to addresses Slipway
assigned."""

import ipaddress
import subprocess
import threading
import time

import pytest

from deploy_util import (build_image, deploy, deploy_daemon, free_port_range, http_get, ingress_url,
                         make_site, netns_probe, simulate_reboot, stop_all, wait_for)

pytestmark = pytest.mark.slow

POOL = ipaddress.ip_network("10.213.0.0/16")


class Poller(threading.Thread):
        """GETs url back to back until stopped; counts answers and keeps every failure."""

        def __init__(self, url, body):
                super().__init__(daemon=True)
                self.url, self.body = url, body
                self.stop_event = threading.Event()
                self.ok = 0
                self.failures = []

        def run(self):
                while not self.stop_event.is_set():
                        got = http_get(self.url, timeout=5)
                        if got == (200, self.body):
                                self.ok += 1
                        else:
                                self.failures.append((time.strftime("%H:%M:%S"), got))
                        time.sleep(0.02)

        def stop(self):
                self.stop_event.set()
                self.join(30)


def state_id(d):
        return (d.state_dir / "state-id").read_text().strip()


def nft_table(d):
        p = subprocess.run(["nft", "list", "table", "inet", f"slipway_{state_id(d)}"], capture_output=True,
                           text=True)
        return p.stdout if p.returncode == 0 else None


def environments(d, project):
        return {e["name"]: e for e in d.cli("env", "list", project)["environments"]}


def link_exists(name):
        return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


def isolation_holds(d, project):
        """From the development instance: its own service address answers (the control), production's service
        address and the host's API port (through both gateways) are refused by the rules."""
        show = d.cli("component", "show", f"{project}/web")
        envs = {e["name"]: e for e in show["environments"]}
        dev_svc = envs["development"]["service_address"]
        prod_svc = envs["production"]["service_address"]
        dev_ns = envs["development"]["instance"]["netns"]
        api_port = int(d.api.rsplit(":", 1)[1])
        assert netns_probe(dev_ns, dev_svc, 8080) == "open"
        assert netns_probe(dev_ns, prod_svc, 8080) == "refused"
        for svc in (dev_svc, prod_svc):
                gateway = svc.rsplit(".", 1)[0] + ".1"
                assert netns_probe(dev_ns, gateway, api_port) == "refused", gateway
        assert netns_probe(dev_ns, dev_svc, 8080) == "open"


def test_second_daemon_leaves_the_first_alone(build_dir, images, tmp_path):
        first = deploy_daemon(build_dir, tmp_path / "first" / "state", free_port_range()).start()
        second = None
        poller = None
        try:
                first.cli("image", "import", images / "busybox.oci.tar")
                build_image(first, make_site(tmp_path / "site-first", "first"), "web:1")
                first.cli("project", "create", "demo")
                first.cli("component", "create", "demo/web", "--image", "web:1", "--health", "http:/healthz")
                deploy(first, "demo/web", "development", "web:1")
                deploy(first, "demo/web", "production", "web:1")
                url = ingress_url(first, "demo", "web", "development")
                assert http_get(url) == (200, "first\n")
                isolation_holds(first, "demo")

                poller = Poller(url, "first\n")
                poller.start()

                second = deploy_daemon(build_dir, tmp_path / "second" / "state", free_port_range()).start()
                second.cli("image", "import", images / "busybox.oci.tar")
                build_image(second, make_site(tmp_path / "site-second", "second"), "web:1")
                second.cli("project", "create", "demo")
                second.cli("component", "create", "demo/web", "--image", "web:1", "--health", "http:/healthz")
                deploy(second, "demo/web", "development", "web:1")
                url2 = ingress_url(second, "demo", "web", "development")
                assert http_get(url2) == (200, "second\n")

                # Each owns its own: id, table, bridge names with that id, subnets, ingress ports.
                ida, idb = state_id(first), state_id(second)
                assert ida != idb
                ea, eb = environments(first, "demo"), environments(second, "demo")
                assert all(e["bridge"].startswith("swb" + ida) for e in ea.values()), ea
                assert all(e["bridge"].startswith("swb" + idb) for e in eb.values()), eb
                nets_a = [ipaddress.ip_network(e["subnet"]) for e in ea.values()]
                nets_b = [ipaddress.ip_network(e["subnet"]) for e in eb.values()]
                assert not any(x.overlaps(y) for x in nets_a for y in nets_b), (nets_a, nets_b)
                assert not {e["ingress_port"] for e in ea.values()} & {e["ingress_port"] for e in eb.values()}
                ta, tb = nft_table(first), nft_table(second)
                assert ta and tb, "each daemon has its own table"
                assert ea["development"]["bridge"] in ta and ea["development"]["bridge"] not in tb
                assert eb["development"]["bridge"] in tb and eb["development"]["bridge"] not in ta

                # A pool address with no bridge is unreachable: never out through the default route.
                routed = subprocess.run(["ip", "-4", "route", "show", "root", str(POOL)], capture_output=True,
                                        text=True).stdout
                in_use = [ipaddress.ip_network(l.split()[0]) for l in routed.splitlines()
                          if l.split() and l.split()[0] != "unreachable" and "/" in l.split()[0]]
                free = next(n for n in POOL.subnets(new_prefix=24) if not any(n.overlaps(u) for u in in_use))
                probe = str(free.network_address + 77)
                got = subprocess.run(["ip", "route", "get", probe], capture_output=True, text=True)
                assert got.returncode != 0 and "No route to host" in got.stderr, (probe, got.stdout, got.stderr)
                listed = subprocess.run(["ip", "route", "show", "type", "unreachable"], capture_output=True,
                                        text=True).stdout
                assert str(POOL) in listed, listed

                # The second one's simulated reboot and delete --force remove only what is its own.
                simulate_reboot(second)
                assert tb and nft_table(second) is None
                assert nft_table(first) is not None, "the first daemon's table went with the second's reboot"
                second.start()
                assert wait_for(lambda: http_get(url2, timeout=2) == (200, "second\n"), 30), second.log()[-3000:]
                second.cli("project", "delete", "demo", "--force")
                assert not any(link_exists(e["bridge"]) for e in eb.values())
                assert all(link_exists(e["bridge"]) for e in ea.values() if e["name"] == "development")
                assert http_get(url) == (200, "first\n")
                assert str(POOL) in subprocess.run(["ip", "route", "show", "type", "unreachable"],
                                                   capture_output=True, text=True).stdout, \
                        "the unreachable route went while the first daemon still holds a share"

                time.sleep(1)
                poller.stop()
                assert poller.ok > 50, poller.ok
                assert poller.failures == [], poller.failures[:10]
                poller = None

                # The first one's isolation still holds, and its table still lists its bridges.
                isolation_holds(first, "demo")
                ta = nft_table(first)
                assert ta and ea["development"]["bridge"] in ta and ea["production"]["bridge"] in ta
        finally:
                if poller:
                        poller.stop()
                if second:
                        stop_all(second)
                        second.stop()
                stop_all(first)
                first.stop()
