"""User namespaces as a user sees them: inside a deployed instance root is uid 0, but its uid_map sends it to
an unprivileged host uid range of its own (another instance gets another range); on the host the payload runs
as that uid and what the app writes lands in its upper directory owned by it; the image's files still look
root-owned inside; eth0 is configured before the entrypoint runs; the instance serves on its URL and reaches
its own service by name.  With SLIPWAY_USERNS=0 the daemon falls back to no user namespace and says so in
its log, the deploy log and `slipway status`."""

from pathlib import Path

import pytest

from deploy_util import (deploy, deploy_daemon, deploy_site, free_port_range, http_get, ingress_url,
                         instance_pid, make_site, running_deploy_daemon, stop_all, wait_for)

pytestmark = pytest.mark.slow

# The entrypoint reports what it sees before it starts the server: the map, its ids, the network (fib_trie
# lists the addresses configured in the netns), who owns an image file; then it writes a file of its own.
ENTRY = ("echo MAP $(cat /proc/self/uid_map); echo ID $(id); echo NET $(cat /proc/net/fib_trie); "
         "echo OWNER $(ls -ln /www/index.html); echo made > /made-by-app; exec httpd -f -p 8080 -h /www")


def make_userns_site(dir, text, component):
        ctx = make_site(dir, text, cmd=["/bin/sh", "-c", ENTRY])
        # A CGI that fetches the component's own service by name, from inside the container.
        body = f"wget -q -O - http://{component}:8080/index.html"
        cgi = ctx / "www" / "cgi-bin" / "self"
        cgi.write_text("#!/bin/sh\n"
                       f"out=$({body})\n"
                       "printf 'Content-Type: text/plain\\r\\nContent-Length: %d\\r\\n\\r\\n%s\\n' "
                       "$((${#out} + 1)) \"$out\"\n")
        cgi.chmod(0o755)
        return ctx


def logs(d, target, env):
        p = d.cli("logs", target, env, json=False, check=False)
        assert p.returncode == 0, p.stderr
        return p.stdout


def host_map(log):
        """(inside, outside, count) of the first uid_map line the entrypoint printed."""
        line = next(l for l in log.splitlines() if l.startswith("MAP "))
        return tuple(int(x) for x in line.split()[1:4])


def payload_pid(d, instance_id):
        nspawn = instance_pid(d.state_dir, instance_id)
        return int(Path(f"/proc/{nspawn}/task/{nspawn}/children").read_text().split()[0])


def status_uids(pid):
        for l in Path(f"/proc/{pid}/status").read_text().splitlines():
                if l.startswith("Uid:"):
                        return [int(x) for x in l.split()[1:]]
        raise AssertionError("no Uid: line")


def test_instance_runs_in_own_user_namespace(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state") as d:
                _, rel, _ = deploy_site(d, images, make_userns_site(tmp_path / "v1", "hello userns", "uweb"),
                                        "uns/uweb", "uweb:1")
                inst = rel["instances"][0]
                url = ingress_url(d, "uns", "uweb", "development")

                log = wait_for(lambda: (l := logs(d, "uns/uweb", "development")) and "OWNER" in l and l, 10)
                assert log, logs(d, "uns/uweb", "development")
                inside, outside, count = host_map(log)
                assert (inside, count) == (0, 65536) and outside >= 65536, log
                assert "ID uid=0(root) gid=0(root)" in log, log
                # The image's files are root's inside although nothing was chowned on the host.
                owner = next(l for l in log.splitlines() if l.startswith("OWNER")).split()
                assert owner[3:5] == ["0", "0"], owner
                # eth0 had its address before the entrypoint ran.
                net = next(l for l in log.splitlines() if l.startswith("NET"))
                assert inst["address"] in net, (inst["address"], net)
                said = "user namespace: root is host uid %d" % outside
                assert any(said in l for l in rel["log"]), rel["log"]
                assert d.cli("status")["user_namespaces"] == {"enabled": True, "reason": None}
                assert "Instances run in their own user namespace" in d.log()

                # On the host: the payload runs as the mapped uid; the app's file in its upper is its own.
                assert status_uids(payload_pid(d, inst["id"])) == [outside] * 4
                made = d.state_dir / "instances" / str(inst["id"]) / "upper" / "made-by-app"
                st = made.stat()
                assert (st.st_uid, st.st_gid) == (outside, outside)
                # Nothing of the image was copied up to fix its ownership.
                assert not (made.parent / "www" / "index.html").exists()

                # It serves on its URL and reaches its own service by name from inside.
                assert http_get(url) == (200, "hello userns\n")
                assert http_get(url + "cgi-bin/self") == (200, "hello userns\n")

                # Another instance (production) gets a range of its own.
                _, prod, _ = deploy(d, "uns/uweb", "production", "uweb:1")
                plog = wait_for(lambda: (l := logs(d, "uns/uweb", "production")) and "MAP" in l and l, 10)
                other = host_map(plog)[1]
                assert other >= 65536 and abs(other - outside) >= 65536, (outside, other)
                assert status_uids(payload_pid(d, prod["instances"][0]["id"]))[0] == other


def test_userns_turned_off_falls_back(build_dir, images, tmp_path):
        d = deploy_daemon(build_dir, tmp_path / "state", free_port_range())
        # The wrapper deploy_daemon wrote: run this daemon with user namespaces turned off.
        w = Path(d.build.slipwayd)
        w.write_text(w.read_text().replace("exec ", "SLIPWAY_USERNS=0 exec ", 1))
        d.start()
        try:
                _, rel, _ = deploy_site(d, images, make_userns_site(tmp_path / "v1", "hello plain", "pweb"),
                                        "plain/pweb", "pweb:1")
                assert http_get(ingress_url(d, "plain", "pweb", "development")) == (200, "hello plain\n")
                log = wait_for(lambda: (l := logs(d, "plain/pweb", "development")) and "MAP" in l and l, 10)
                assert host_map(log) == (0, 0, 4294967295), log
                assert any("no user namespace: turned off with SLIPWAY_USERNS=0" in l for l in rel["log"]), \
                        rel["log"]
                assert "Instances run without a user namespace" in d.log()
                st = d.cli("status")["user_namespaces"]
                assert st["enabled"] is False and "SLIPWAY_USERNS=0" in st["reason"], st
                assert "without a user namespace (turned off with SLIPWAY_USERNS=0)" in \
                        d.cli("status", json=False).stdout
                assert status_uids(payload_pid(d, rel["instances"][0]["id"]))[0] == 0
        finally:
                stop_all(d)
                d.stop()
