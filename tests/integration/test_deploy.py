"""Deploys as a user sees them: `slipway deploy` brings a busybox httpd image live behind the environment's
ingress; a redeploy swaps to the new version and stops the old instance; a version whose readiness check
fails, or whose entrypoint does not exist, fails with the reason while the old one keeps serving;
development cannot reach production's service address; and a slipwayd killed with -9 leaves everything
serving, and its successor adopts the instance without restarting it."""

import json
import os
import signal
import time

import pytest

from deploy_util import (build_image, deploy, deploy_site, http_get, ingress_url, instance_pid, make_site,
                         netns_http_get, netns_probe, pid_alive, project_with_component, release_doc,
                         running_deploy_daemon, wait_for)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(build_dir, images, tmp_path_factory):
        """One daemon for the module with the images web:1, web:2, web:nohealth (no /healthz), web:badcmd."""
        root = tmp_path_factory.mktemp("deploy")
        with running_deploy_daemon(build_dir, root / "state", images) as d:
                build_image(d, make_site(root / "v1", "hello v1"), "web:1")
                build_image(d, make_site(root / "v2", "hello v2"), "web:2")
                build_image(d, make_site(root / "nohealth", "no health", healthz=False), "web:nohealth")
                build_image(d, make_site(root / "bad", "bad", cmd=["/no/such/program"]), "web:badcmd")
                yield d


def releases(d, target, envname):
        return d.cli("releases", target, envname)["releases"]


def test_deploy_redeploy_and_old_instance_stopped(env):
        d = env
        project_with_component(d, "shop/web", "web:1")

        _, first, _ = deploy(d, "shop/web", "development", "web:1")
        url = ingress_url(d, "shop", "web", "development")
        assert http_get(url) == (200, "hello v1\n")
        assert http_get(url + "cgi-bin/hello") == (200, "cgi hello v1\n")
        old = first["instances"][0]
        assert old["state"] == "ready"
        old_pid = instance_pid(d.state_dir, old["id"])
        assert pid_alive(old_pid)

        _, second, _ = deploy(d, "shop/web", "development", "web:2")
        assert http_get(url) == (200, "hello v2\n")
        rels = {r["id"]: r for r in releases(d, "shop/web", "development")}
        assert rels[first["id"]]["status"] == "superseded"
        assert rels[second["id"]]["status"] == "live"
        assert wait_for(lambda: not pid_alive(old_pid), 15), "the old instance still runs after the swap"
        # Production was never deployed to: nothing answers there.
        assert http_get(ingress_url(d, "shop", "web", "production"))[0] in (0, 404, 502, 503)


def test_failed_readiness_keeps_old_release(env):
        d = env
        project_with_component(d, "ready/web", "web:1")
        _, good, _ = deploy(d, "ready/web", "development", "web:1")
        url = ingress_url(d, "ready", "web", "development")

        t0 = time.monotonic()
        rc, bad, err = deploy(d, "ready/web", "development", "web:nohealth", check=False)
        assert rc == 1 and bad and bad["status"] == "failed", (rc, bad, err)
        assert time.monotonic() - t0 < 120
        assert "readiness" in bad["reason"] and "404" in bad["reason"], bad["reason"]
        assert any("readiness http probe" in l for l in bad["log"]), bad["log"]
        # The old one still serves, and is still the live release.
        assert http_get(url) == (200, "hello v1\n")
        rels = {r["id"]: r for r in releases(d, "ready/web", "development")}
        assert rels[good["id"]]["status"] == "live"
        # The failed instance is stopped but its logs stay.
        inst = bad["instances"][0]
        assert inst["state"] == "failed"
        assert (d.state_dir / "instances" / str(inst["id"]) / "stdout.log").exists()


def test_missing_entrypoint_fails_with_exit_code(env):
        d = env
        d.cli("project", "create", "broken")
        d.cli("component", "create", "broken/web", "--image", "web:badcmd")
        p = d.cli("deploy", "broken/web", "development", "--image", "web:badcmd", json=False, check=False,
                  timeout=180)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert p.stderr.startswith("Error: "), p.stderr
        assert "exited with status" in p.stderr, p.stderr
        doc = d.cli("releases", "broken/web", "development")["releases"][0]
        assert doc["status"] == "failed"
        assert "exited with status" in doc["reason"]


def test_crashed_instance_is_restarted(env):
        d = env
        project_with_component(d, "crash/web", "web:1")
        _, rel, _ = deploy(d, "crash/web", "development", "web:1")
        url = ingress_url(d, "crash", "web", "development")
        inst = rel["instances"][0]
        nspawn = instance_pid(d.state_dir, inst["id"])
        payload = int(open(f"/proc/{nspawn}/task/{nspawn}/children").read().split()[0])

        os.kill(payload, signal.SIGKILL)  # the app crashes; nspawn exits with it
        assert wait_for(lambda: not pid_alive(nspawn), 10)
        assert wait_for(lambda: http_get(url) == (200, "hello v1\n"), 30), "not restarted"
        doc = release_doc(d, "crash", "web", rel["id"])
        assert doc["status"] == "live"
        assert [(i["id"], i["state"], i["restarts"]) for i in doc["instances"]] == [(inst["id"], "ready", 1)]
        assert instance_pid(d.state_dir, inst["id"]) != nspawn
        assert any("restarted" in l for l in doc["log"]), doc["log"]


def test_environments_are_isolated(env):
        d = env
        project_with_component(d, "iso/web", "web:1")
        _, dev, _ = deploy(d, "iso/web", "development", "web:1")
        _, prod, _ = deploy(d, "iso/web", "production", "web:2")
        show = d.cli("component", "show", "iso/web")
        print(json.dumps(show))
        envs = {e["name"]: e for e in show["environments"]}
        dev_svc = envs["development"]["service_address"]
        prod_svc = envs["production"]["service_address"]
        dev_ns = dev["instances"][0]["netns"]
        prod_addr = prod["instances"][0]["address"]

        # Inside development: its own service address answers (the proxy) — the positive control that the
        # probes below run in that netns and can connect — production's does not.
        assert netns_probe(dev_ns, dev_svc, 8080) == "open"
        assert netns_http_get(dev_ns, dev_svc, 8080) == "hello v1\n"
        # Containers find components by name: /etc/hosts maps "web" to the environment's service address.
        dev_dir = d.state_dir / "instances" / str(dev["instances"][0]["id"])
        hosts = (dev_dir / "hosts").read_text().split("\n")
        assert any(l.split()[:2] == [dev_svc, "web"] for l in hosts if l.strip()), hosts
        # Refused by the isolation rules (a reset, what the table answers containers), not some other failure.
        assert netns_probe(dev_ns, prod_svc, 8080) == "refused"
        assert netns_probe(dev_ns, prod_addr, 8080) == "refused"
        # Nor the host's API port through the environment's own gateway (.1) or production's.
        api_port = int(d.api.rsplit(":", 1)[1])
        for svc in (dev_svc, prod_svc):
                gateway = svc.rsplit(".", 1)[0] + ".1"
                assert netns_probe(dev_ns, gateway, api_port) == "refused", gateway
        # The same probe from the same netns still connects where it may (the control, after the checks).
        assert netns_probe(dev_ns, dev_svc, 8080) == "open"
        # Both are served on their own ingress.
        assert http_get(ingress_url(d, "iso", "web", "development")) == (200, "hello v1\n")
        assert http_get(ingress_url(d, "iso", "web", "production")) == (200, "hello v2\n")


def test_kill9_then_restart_adopts(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state") as d:
                _, rel, _ = deploy_site(d, images, make_site(tmp_path / "v1", "hello v1"), "adopt/web", "web:1")
                url = ingress_url(d, "adopt", "web", "development")
                inst = rel["instances"][0]
                pid = instance_pid(d.state_dir, inst["id"])

                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                # The data plane does not need slipwayd.
                for _ in range(5):
                        assert http_get(url) == (200, "hello v1\n")

                d.start()
                assert wait_for(lambda: "Adopted instance %d" % inst["id"] in d.log(), 15), d.log()[-2000:]
                time.sleep(2)  # a few supervisor ticks
                rel2 = d.cli("releases", "adopt/web", "development")["releases"]
                assert [r["status"] for r in rel2] == ["live"]
                assert instance_pid(d.state_dir, inst["id"]) == pid and pid_alive(pid), \
                        "instance was restarted"
                assert http_get(url) == (200, "hello v1\n")
                # No duplicate: exactly one nspawn runs this instance's bundle.
                bundle = str(d.state_dir / "instances" / str(inst["id"]) / "bundle")
                n = 0
                for p in os.listdir("/proc"):
                        if p.isdigit():
                                try:
                                        if bundle.encode() in open(f"/proc/{p}/cmdline", "rb").read():
                                                n += 1
                                except OSError:
                                        pass
                assert n == 1
                st = d.cli("status")
                assert st["proxy"]["running"] is True
                # The restarted daemon found the proxy running and started no second one.
                assert d.log().count("slipway-proxy serve --state-dir") == 1, d.log()

                # Killed in the middle of a deploy: the restarted daemon fails it cleanly (its new instance
                # stopped) and the live release keeps serving.
                build_image(d, make_site(tmp_path / "slow", "never ready", healthz=False), "web:slow")
                pending = d.cli("deploy", "adopt/web", "development", "--image", "web:slow", "--no-wait")
                def started():
                        r = release_doc(d, "adopt", "web", pending["id"])
                        return r if r["status"] == "deploying" and r.get("instances") else None
                doc = wait_for(started, 30)
                assert doc, release_doc(d, "adopt", "web", pending["id"])
                new_id = doc["instances"][0]["id"]
                state_file = d.state_dir / "instances" / str(new_id) / "instance.json"
                new_pid = wait_for(lambda: state_file.exists() and instance_pid(d.state_dir, new_id), 10)
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                d.start()
                # The restarted daemon serves its API first, then recovers (stopping the half-deployed
                # instance takes its stop grace): the release turns failed shortly after.
                t0 = time.monotonic()
                wait_for(lambda: release_doc(d, "adopt", "web", pending["id"])["status"] != "deploying", 20)
                print(f"release failed {time.monotonic() - t0:.2f}s after the restart")
                doc = release_doc(d, "adopt", "web", pending["id"])
                assert doc["status"] == "failed" and "stopped during the deploy" in doc["reason"], doc
                assert [i["state"] for i in doc["instances"]] == ["failed"]
                assert not new_pid or wait_for(lambda: not pid_alive(new_pid), 15)
                assert http_get(url) == (200, "hello v1\n")
                assert [r["status"] for r in d.cli("releases", "adopt/web", "development")["releases"]] == \
                        ["failed", "live"]


def test_deploy_bad_input(env):
        from conftest import assert_clean_error
        d = env
        d.cli("project", "create", "bad")
        d.cli("component", "create", "bad/web", "--image", "web:1")
        cases = [
                (("deploy", "nope/web", "development", "--image", "web:1"), ("project", "nope")),
                (("deploy", "bad/nope", "development", "--image", "web:1"), ("component", "nope")),
                (("deploy", "bad/web", "staging", "--image", "web:1"), ("environment", "staging")),
                (("deploy", "bad/web", "development", "--image", "missing:9"), ("missing:9",)),
                (("deploy", "bad/web", "Dev!", "--image", "web:1"), ("environment",)),
        ]
        for args, words in cases:
                assert_clean_error(d.cli(*args, json=False, check=False), *words)
        usage = (("deploy", "bad-web", "development"), ("deploy", "bad/web"), ("deploy", "bad/web", "x", "y"))
        for args in usage:
                p = d.cli(*args, json=False, check=False)
                assert p.returncode == 2 and p.stderr.startswith("Error: "), (args, p.stderr)
        # Nothing was recorded for the refused requests.
        assert d.cli("releases", "bad/web")["releases"] == []


def test_quickstart_demo_page_shows_the_instance_address(env, tmp_path):
        """The quickstart's own demo (packaging/demo) in a deployed instance: its where-page names the
        instance's address (busybox httpd sets no SERVER_ADDR, so it printed "address:  ?")."""
        d = env
        from pathlib import Path
        demo = Path(__file__).resolve().parents[2] / "packaging" / "demo"
        p = d.cli("image", "build", str(demo), "-t", "demo-web:1", "--build-arg", "BASE=busybox:1", json=False,
                  check=False)
        assert p.returncode == 0, f"building packaging/demo failed:\n{p.stdout}\n{p.stderr}"
        d.cli("project", "create", "qsdemo")
        d.cli("component", "create", "qsdemo/web", "--image", "demo-web:1", "--health", "http:/")
        _, rel, _ = deploy(d, "qsdemo/web", "development", "demo-web:1")
        address = rel["instances"][0]["address"]
        status, body = http_get(ingress_url(d, "qsdemo", "web", "development") + "cgi-bin/where")
        assert status == 200, (status, body)
        lines = dict(l.split(":", 1) for l in body.splitlines() if ":" in l)
        assert lines["address"].split() == [address], body
