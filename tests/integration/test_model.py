"""Issue 5's model through the real CLI and daemon: projects with ordered environments (subnets, bridges,
ingress ports), components (endpoints, health checks, resources; defaults from the image's ExposedPorts),
releases, url and logs, and the bad input each command must refuse cleanly."""
import ipaddress
import json

import pytest

from conftest import assert_clean_error
from deploy_util import api_request


def envs_of(daemon, project):
        return daemon.cli("env", "list", project)["environments"]


def test_project_create_list_show_delete(module_daemon):
        d = module_daemon
        out = d.cli("project", "create", "shop")
        assert out["name"] == "shop"
        envs = out["environments"]
        assert [e["name"] for e in envs] == ["development", "production"]
        assert [e["position"] for e in envs] == [0, 1]
        # Each environment has its own /24 of 10.213.0.0/16, its own bridge and ingress port.
        nets = [ipaddress.ip_network(e["subnet"]) for e in envs]
        assert all(n.prefixlen == 24 and n.subnet_of(ipaddress.ip_network("10.213.0.0/16")) for n in nets)
        assert not nets[0].overlaps(nets[1])
        # Bridge names carry the state dir's id, so another state dir's same names never share a bridge.
        prefix = "swb" + (d.state_dir / "state-id").read_text().strip()
        assert len({e["bridge"] for e in envs}) == 2 and all(e["bridge"].startswith(prefix) for e in envs)
        assert all(len(e["bridge"]) <= 15 for e in envs)
        ports = [e["ingress_port"] for e in envs]
        assert len(set(ports)) == 2 and all(p >= 8080 for p in ports)

        listed = {p["name"]: p for p in d.cli("project", "list")["projects"]}
        assert [e["name"] for e in listed["shop"]["environments"]] == ["development", "production"]
        assert listed["shop"]["components"] == 0 and listed["shop"]["instances"] == 0
        human = d.cli("project", "list", json=False).stdout
        assert human.splitlines()[0].split() == ["NAME", "ENVIRONMENTS", "COMPONENTS", "INSTANCES", "PUSH-TO",
                                              "SCAN-FAIL-ON"]
        assert any(l.split()[:2] == ["shop", "development,production"] for l in human.splitlines())
        assert d.cli("status")["projects"] >= 1

        assert d.cli("project", "delete", "shop")["deleted"] == "shop"
        assert "shop" not in {p["name"] for p in d.cli("project", "list")["projects"]}
        # Its subnets and ports are free again: the next project gets them back.
        again = d.cli("project", "create", "shop2")["environments"]
        assert {e["subnet"] for e in again} == {e["subnet"] for e in envs}
        assert {e["ingress_port"] for e in again} == set(ports)
        d.cli("project", "delete", "shop2")


def test_custom_env_order_and_env_create_after(module_daemon):
        d = module_daemon
        d.cli("project", "create", "blog", "--envs", "dev,qa,prod")
        assert [e["name"] for e in envs_of(d, "blog")] == ["dev", "qa", "prod"]
        created = d.cli("env", "create", "blog", "staging", "--after", "qa")
        assert created["name"] == "staging" and created["project"] == "blog"
        d.cli("env", "create", "blog", "hotfix")
        d.cli("env", "create", "blog", "sandbox", "--after", "dev")
        envs = envs_of(d, "blog")
        assert [e["name"] for e in envs] == ["dev", "sandbox", "qa", "staging", "prod", "hotfix"]
        assert [e["position"] for e in envs] == list(range(6))
        nets = [ipaddress.ip_network(e["subnet"]) for e in envs]
        assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
        assert len({e["ingress_port"] for e in envs}) == 6
        human = d.cli("env", "list", "blog", json=False).stdout.splitlines()
        assert human[0].split() == ["NAME", "SUBNET", "INGRESS", "BRIDGE", "DOMAIN", "EGRESS", "PROTECTED"]
        assert [l.split()[0] for l in human[1:]] == ["dev", "sandbox", "qa", "staging", "prod", "hotfix"]
        # no domain, no egress, not protected by default
        assert all(l.split()[4:] == ["-", "off", "no"] for l in human[1:])
        # Columns are aligned: every row starts its SUBNET where the header does.
        col = human[0].index("SUBNET")
        assert all(l[col - 1] == " " and l[col] != " " for l in human[1:])
        d.cli("project", "delete", "blog")


@pytest.mark.parametrize("args,words", [
        (("project", "create", "My_Shop"), ["project", "My_Shop"]),
        (("project", "create", "-shop"), []),
        (("project", "create", "a" * 64), ["63"]),
        (("project", "create", "ok1", "--envs", "dev,Prod"), ["environment", "Prod"]),
        (("project", "create", "ok2", "--envs", "dev,dev"), ["dev", "twice"]),
        (("project", "create", "ok3", "--envs", "dev,,prod"), ["empty"]),
        (("env", "list", "nosuch"), ["nosuch"]),
        (("env", "create", "nosuch", "qa"), ["nosuch"]),
        (("component", "list", "nosuch"), ["nosuch"]),
        (("component", "show", "nosuch/web"), ["nosuch"]),
        (("component", "show", "noslash"), ["PROJECT/NAME"]),
        (("project", "delete", "nosuch"), ["nosuch"]),
        (("project", "create"), []),
        (("project", "frobnicate"), ["frobnicate"]),
        (("component", "create", "p/c", "--lines", "3"), ["--lines"]),
])
def test_bad_input_is_refused_cleanly(module_daemon, args, words):
        before = module_daemon.cli("project", "list")
        p = module_daemon.cli(*args, json=False, check=False)
        assert_clean_error(p, *words)
        assert module_daemon.cli("project", "list") == before, "a refused command changed something"


def test_duplicates_and_unknown_names(module_daemon):
        d = module_daemon
        d.cli("project", "create", "dup")
        assert_clean_error(d.cli("project", "create", "dup", json=False, check=False), "already exists")
        assert_clean_error(d.cli("env", "create", "dup", "production", json=False, check=False), "production")
        assert_clean_error(d.cli("env", "create", "dup", "qa", "--after", "nope", json=False, check=False),
                           "nope", "development")
        assert_clean_error(d.cli("env", "create", "dup", "Q A", json=False, check=False), "environment")
        assert [e["name"] for e in envs_of(d, "dup")] == ["development", "production"]
        assert_clean_error(d.cli("component", "show", "dup/nope", json=False, check=False), "nope")
        assert_clean_error(d.cli("releases", "dup/nope", json=False, check=False), "nope")
        assert_clean_error(d.cli("url", "dup/nope", "development", json=False, check=False), "nope")
        d.cli("project", "delete", "dup")


def test_component_defaults_from_image_and_explicit_spec(daemon, images):
        d = daemon
        d.cli("image", "import", images / "busybox.oci.tar")  # busybox:1, exposes 8080/tcp
        d.cli("project", "create", "shop")

        web = d.cli("component", "create", "shop/web", "--image", "busybox:1")
        assert web["image"] == "busybox:1"
        spec = web["spec"]
        assert [(e["port"], e["visibility"], e["base_path"]) for e in spec["endpoints"]] == [(8080, "public", "/")]
        # Nothing declared: readiness and liveness are a TCP connect to the first endpoint.
        assert spec["health"]["readiness"]["kind"] == "tcp" and spec["health"]["readiness"]["port"] == 8080
        assert spec["health"]["liveness"]["kind"] == "tcp"
        assert spec["health"]["deploy_timeout_ms"] > 0
        assert spec["resources"]["memory_bytes"] == 0 and spec["resources"]["cpus_milli"] == 0

        api = d.cli("component", "create", "shop/api", "--image", "busybox:1", "--endpoint", "api:9000:project:/v1",
                    "--endpoint", "admin:9001", "--health", "http:/healthz", "--memory", "256M", "--cpus", "1.5")
        eps = api["spec"]["endpoints"]
        assert [(e["name"], e["port"], e["visibility"], e["base_path"]) for e in eps] == [
                ("api", 9000, "project", "/v1"), ("admin", 9001, "public", "/")]
        ready = api["spec"]["health"]["readiness"]
        assert (ready["kind"], ready["path"], ready["port"]) == ("http", "/healthz", 9000)
        assert api["spec"]["resources"]["memory_bytes"] == 256 * 1024 * 1024
        assert api["spec"]["resources"]["cpus_milli"] == 1500

        # Every health setting from the command line: a different liveness check and timings for both.
        tuned = d.cli("component", "create", "shop/tuned", "--image", "busybox:1", "--health", "http:/ready",
                      "--liveness", "tcp", "--health-interval", "500ms", "--health-timeout", "0.3s",
                      "--health-failures", "5", "--deploy-timeout", "1m", "--pids", "64")["spec"]
        ready, live = tuned["health"]["readiness"], tuned["health"]["liveness"]
        assert (ready["kind"], ready["path"], live["kind"]) == ("http", "/ready", "tcp")
        assert ready["interval_ms"] == live["interval_ms"] == 500
        assert ready["timeout_ms"] == live["timeout_ms"] == 300
        assert ready["failure_threshold"] == live["failure_threshold"] == 5
        assert tuned["health"]["deploy_timeout_ms"] == 60000 and tuned["resources"]["pids"] == 64

        # An image that is not stored is fine when the endpoints are given; health none needs no endpoint.
        worker = d.cli("component", "create", "shop/worker", "--image", "later:2", "--health", "none",
                       "--endpoint", "metrics:9100:project")
        assert worker["spec"]["health"]["readiness"]["kind"] == "none"

        listed = d.cli("component", "list", "shop")["components"]
        assert [c["name"] for c in listed] == ["api", "tuned", "web", "worker"]
        human = d.cli("component", "list", "shop", json=False).stdout.splitlines()
        assert human[0].split() == ["NAME", "IMAGE", "ENDPOINTS", "HEALTH"]
        assert human[3].split()[:2] == ["web", "busybox:1"]

        show = d.cli("component", "show", "shop/api")
        assert [e["name"] for e in show["environments"]] == ["development", "production"]
        assert all(e["live"] is None and e["releases"] == [] for e in show["environments"])
        text = d.cli("component", "show", "shop/api", json=False).stdout
        assert "api:9000:project:/v1" in text and "http GET :9000/healthz" in text and "cpus 1.500" in text

        url = d.cli("url", "shop/web", "production")
        prod = [e for e in envs_of(d, "shop") if e["name"] == "production"][0]
        assert [u["url"] for u in url["urls"]] == [f"http://127.0.0.1:{prod['ingress_port']}/shop/web/"]
        assert d.cli("url", "shop/web", "production", json=False).stdout.strip() == url["urls"][0]["url"]
        assert_clean_error(d.cli("url", "shop/worker", "production", json=False, check=False), "public")
        # Without ?env: every environment in promotion order (what the console's Deploy view asks once); a
        # component without a public endpoint has no URLs there instead of a 404.
        every = api_request(d, "GET", "/api/v1/projects/shop/components/web/url")
        assert [e["environment"] for e in every["environments"]] == ["development", "production"]
        assert [e["live"] for e in every["environments"]] == [False, False]
        assert every["environments"][1]["urls"] == url["urls"]
        assert every["environments"][1]["ingress_port"] == prod["ingress_port"]
        worker = api_request(d, "GET", "/api/v1/projects/shop/components/worker/url")
        assert [e["urls"] for e in worker["environments"]] == [[], []]
        assert d.cli("releases", "shop/web")["releases"] == []
        assert d.cli("releases", "shop/web", "development")["environment"] == "development"
        assert_clean_error(d.cli("releases", "shop/web", "nope", json=False, check=False), "nope")
        assert_clean_error(d.cli("logs", "shop/web", "development", json=False, check=False), "no instance")

        assert d.cli("project", "list")["projects"][0]["components"] == 4
        d.cli("project", "delete", "shop")
        assert d.cli("project", "list")["projects"] == []


@pytest.mark.parametrize("extra,words", [
        (["--endpoint", "http"], ["port"]),
        (["--endpoint", "http:0"], ["port"]),
        (["--endpoint", "http:70000"], ["port"]),
        (["--endpoint", "http:80:world"], ["visibility"]),
        (["--endpoint", "Web:80"], ["web"]),
        (["--endpoint", "a:80", "--endpoint", "b:80"], ["port 80"]),
        (["--endpoint", "a:80", "--endpoint", "a:81"], ["a"]),
        (["--endpoint", "a:80", "--health", "grpc"], ["grpc"]),
        (["--endpoint", "a:80", "--health", "http:healthz"], ["path"]),
        (["--health", "tcp"], ["endpoint"]),
        (["--endpoint", "a:80", "--memory", "lots"], ["memory"]),
        (["--endpoint", "a:80", "--cpus", "-1"], ["cpus"]),
        (["--endpoint", "a:80", "--cpus", "0"], ["cpus"]),
        (["--endpoint", "a:80", "--liveness", "udp"], ["udp"]),
        (["--endpoint", "a:80", "--health-interval", "0"], ["--health-interval"]),
        (["--endpoint", "a:80", "--health-interval", "fast"], ["--health-interval"]),
        (["--endpoint", "a:80", "--health-interval", "50ms"], ["interval", "100 ms"]),
        (["--endpoint", "a:80", "--health-timeout", "2h"], ["--health-timeout"]),
        (["--endpoint", "a:80", "--health-failures", "0"], ["--health-failures"]),
        (["--endpoint", "a:80", "--health-failures", "101"], ["failure threshold"]),
        (["--endpoint", "a:80", "--deploy-timeout", "500ms"], ["deploy timeout"]),
        (["--endpoint", "a:80", "--pids", "-1"], ["--pids"]),
])
def test_component_bad_specs(module_daemon, extra, words):
        d = module_daemon
        if "bad" not in {p["name"] for p in d.cli("project", "list")["projects"]}:
                d.cli("project", "create", "bad")
        p = d.cli("component", "create", "bad/c", "--image", "nothing:1", *extra, json=False, check=False)
        assert_clean_error(p, *words)
        assert d.cli("component", "list", "bad")["components"] == []


def test_component_unknown_image_without_endpoints_and_duplicates(module_daemon):
        d = module_daemon
        d.cli("project", "create", "img")
        assert_clean_error(d.cli("component", "create", "img/web", "--image", "nothing:1", json=False, check=False),
                           "nothing:1")
        assert_clean_error(d.cli("component", "create", "img/web", json=False, check=False), "--image")
        assert_clean_error(d.cli("component", "create", "img/Web", "--image", "x:1", "--endpoint", "a:1",
                                 json=False, check=False), "component")
        d.cli("component", "create", "img/web", "--image", "x:1", "--endpoint", "a:1")
        assert_clean_error(d.cli("component", "create", "img/web", "--image", "x:1", "--endpoint", "a:1",
                                 json=False, check=False), "already")
        assert_clean_error(d.cli("component", "create", "nosuch/web", "--image", "x:1", "--endpoint", "a:1",
                                 json=False, check=False), "nosuch")
        d.cli("project", "delete", "img")
