"""Environment settings a person gives (issue 5, "Networks" and "Ingress"): a domain makes each public
endpoint answer at COMPONENT.DOMAIN on the environment's ingress port, egress lets its containers reach
past the host, and the ingress port can be chosen.  Changes reach running components at once; bad values
and ports already held (by another environment or another program) are refused with one clear sentence and
change nothing.  Traffic: 127.0.0.1 and the bridges/namespaces this daemon or this test made."""

import http.client
import os
import socket
import subprocess

import pytest

from conftest import assert_clean_error
from deploy_util import (build_image, deploy, deploy_site, free_port_range, http_get, ingress_url, make_site,
                         netns_connect, outside_network, project_with_component, running_deploy_daemon,
                         wait_for)


def host_get(port, host, path="/"):
        """(status, body) of a GET to the ingress on 127.0.0.1:port with a Host header; 0 when refused."""
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
                c.request("GET", path, headers={"Host": host})
                r = c.getresponse()
                return r.status, r.read().decode(errors="replace")
        except OSError:
                return 0, ""
        finally:
                c.close()


def envs_of(d, project):
        return {e["name"]: e for e in d.cli("env", "list", project)["environments"]}


@pytest.fixture
def daemon(build_dir, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", ports=6) as d:
                yield d


def test_domain_routes_by_host_and_follows_changes(daemon, images, tmp_path):
        d = daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        build_image(d, make_site(tmp_path / "site", "hello by host"), "web:1")
        project_with_component(d, "shop/web", "web:1")
        # Upper case and a root dot are normalised; the setting shows in env list.
        doc = d.cli("env", "set", "shop", "development", "--domain", "Dev.Example.TEST.")
        assert doc["domain"] == "dev.example.test"
        assert envs_of(d, "shop")["development"]["domain"] == "dev.example.test"
        deploy(d, "shop/web", "development", "web:1")
        port = envs_of(d, "shop")["development"]["ingress_port"]

        assert host_get(port, f"web.dev.example.test:{port}") == (200, "hello by host\n")
        assert host_get(port, "WEB.dev.example.test")[0] == 200          # host names are case-insensitive
        assert host_get(port, "web.dev.example.test", "/cgi-bin/hello")[1] == "cgi hello by host\n"
        assert host_get(port, "other.dev.example.test")[0] == 404         # no such component
        assert http_get(ingress_url(d, "shop", "web", "development")) == (200, "hello by host\n")
        urls = d.cli("url", "shop/web", "development")["urls"]
        assert urls[0]["host_url"] == f"http://web.dev.example.test:{port}/"
        text = d.cli("url", "shop/web", "development", json=False).stdout
        assert f"http://web.dev.example.test:{port}/" in text

        # A new domain on the running component: the old host name stops, the new one answers, no redeploy.
        d.cli("env", "set", "shop", "development", "--domain", "dev2.example.test")
        assert host_get(port, "web.dev2.example.test") == (200, "hello by host\n")
        assert host_get(port, "web.dev.example.test")[0] == 404
        # A redeploy keeps the host route.
        deploy(d, "shop/web", "development", "web:1")
        assert host_get(port, "web.dev2.example.test") == (200, "hello by host\n")
        # Removing the domain removes the host route; path-based URLs keep working.
        d.cli("env", "set", "shop", "development", "--no-domain")
        assert host_get(port, "web.dev2.example.test")[0] == 404
        assert http_get(ingress_url(d, "shop", "web", "development")) == (200, "hello by host\n")
        assert "host_url" not in d.cli("url", "shop/web", "development")["urls"][0]

        # Moving the ingress port moves the listener of the running component.
        new_port = free_port_range(1)
        d.cli("env", "set", "shop", "development", "--ingress-port", new_port)
        assert wait_for(lambda: http_get(f"http://127.0.0.1:{new_port}/shop/web/")[0] == 200, 10)
        assert wait_for(lambda: http_get(f"http://127.0.0.1:{port}/shop/web/")[0] == 0, 10)

        # An environment created with settings; its domain may not be another environment's.
        created = d.cli("env", "create", "shop", "staging", "--after", "development", "--domain",
                        "staging.example.test", "--egress", "on")
        assert created["domain"] == "staging.example.test" and created["egress"] is True
        table = d.cli("env", "list", "shop", json=False).stdout
        assert "staging.example.test" in table and "DOMAIN" in table and "EGRESS" in table


def test_bad_settings_are_refused_and_change_nothing(daemon):
        d = daemon
        d.cli("project", "create", "shop")
        d.cli("project", "create", "blog")
        d.cli("env", "set", "blog", "production", "--domain", "blog.example.test")
        before = {p: envs_of(d, p) for p in ("shop", "blog")}
        taken = before["blog"]["production"]["ingress_port"]

        cases = [
                (("env", "set", "shop", "development", "--domain", "bad_domain.example"), ("domain",)),
                (("env", "set", "shop", "development", "--domain", "a..b"), ("domain", "empty label")),
                (("env", "set", "shop", "development", "--domain", "-x.example"), ("domain",)),
                (("env", "set", "shop", "development", "--domain", "x" * 64 + ".example"), ("63",)),
                (("env", "set", "shop", "development", "--domain", "blog.example.test"),
                 ("blog.example.test", "blog/production")),
                (("env", "set", "shop", "development", "--ingress-port", taken),
                 (str(taken), "blog/production")),
                (("env", "set", "shop", "development", "--ingress-port", "0"), ("--ingress-port",)),
                (("env", "set", "shop", "development", "--ingress-port", "70000"), ("--ingress-port",)),
                (("env", "set", "shop", "development", "--egress", "maybe"), ("--egress",)),
                (("env", "set", "shop", "development"), ("nothing to change",)),
                (("env", "set", "shop", "development", "--domain", "a.test", "--no-domain"), ("not both",)),
                (("env", "set", "shop", "nope", "--egress", "on"), ("no environment", "nope")),
                (("env", "set", "nope", "development", "--egress", "on"), ("no project", "nope")),
                (("env", "create", "shop", "qa", "--ingress-port", taken), (str(taken), "blog/production")),
                (("env", "create", "shop", "qa", "--domain", "blog.example.test"), ("blog.example.test",)),
        ]
        for args, words in cases:
                assert_clean_error(d.cli(*args, json=False, check=False), *words)

        # A port another program listens on (here: this test) is refused, at create and at set.
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        try:
                for args in (("env", "set", "shop", "development", "--ingress-port", busy),
                             ("env", "create", "shop", "qa", "--ingress-port", busy)):
                        assert_clean_error(d.cli(*args, json=False, check=False), str(busy), "in use")
                # The daemon's own API port is such a port too.
                assert_clean_error(d.cli("env", "set", "shop", "development", "--ingress-port", d.port,
                                         json=False, check=False), "in use")
        finally:
                holder.close()

        assert {p: envs_of(d, p) for p in ("shop", "blog")} == before


def test_auto_assigned_port_skips_a_port_in_use_on_the_host(daemon, images, tmp_path):
        # The port the next environment would get automatically is held by another program (this test):
        # it used to be handed out all the same, and the deploy then failed with "Address already in use".
        d = daemon
        d.cli("project", "create", "first")
        first = envs_of(d, "first")
        nxt = max(e["ingress_port"] for e in first.values()) + 1
        holder = socket.socket()
        holder.bind(("0.0.0.0", nxt))
        holder.listen(1)
        try:
                rc, rel, err = deploy_site(d, images, make_site(tmp_path / "site", "busy port"), "shop/web",
                                           "web:1")
                ports = {n: e["ingress_port"] for n, e in envs_of(d, "shop").items()}
                assert nxt not in ports.values(), ports
                assert ports["development"] == nxt + 1, ports
                assert http_get(ingress_url(d, "shop", "web", "development")) == (200, "busy port\n")
                # The holder still has its port: nothing of Slipway's shares it.
                c = socket.create_connection(("127.0.0.1", nxt), timeout=5)
                peer, _ = holder.accept()
                peer.close()
                c.close()
        finally:
                holder.close()


def test_endpoints_of_one_component_need_their_own_ports(daemon, images):
        d = daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        d.cli("project", "create", "shop")
        p = d.cli("component", "create", "shop/api", "--image", "busybox:1", "--endpoint", "http:8080",
                  "--endpoint", "admin:8080:project", json=False, check=False)
        assert_clean_error(p, "8080", "http", "admin")
        assert d.cli("component", "list", "shop")["components"] == []
        # Another component on the same port is fine: each has its own service address.
        d.cli("component", "create", "shop/a", "--image", "busybox:1", "--endpoint", "http:8080")
        d.cli("component", "create", "shop/b", "--image", "busybox:1", "--endpoint", "http:8080")
        svc = {c: d.cli("component", "show", f"shop/{c}") for c in ("a", "b")}
        assert [e["port"] for e in svc["a"]["spec"]["endpoints"]] == \
                [e["port"] for e in svc["b"]["spec"]["endpoints"]] == [8080]


def test_egress_is_off_by_default_and_follows_the_setting(daemon, images, tmp_path):
        d = daemon
        _, doc, _ = deploy_site(d, images, make_site(tmp_path / "site", "egress"), "shop/web", "web:1")
        ns = doc["instances"][0]["netns"]

        with outside_network("egr", 10 + (os.getpid() + 97) % 200) as outside:
                target = outside.address
                assert wait_for(lambda: subprocess.run(
                        ["ip", "netns", "exec", outside.netns, "ss", "-ltn"], capture_output=True, text=True
                ).stdout.count(":8080") > 0, 5)

                assert not netns_connect(ns, target, 8080)                       # default: no egress
                d.cli("env", "set", "shop", "development", "--egress", "on")
                assert wait_for(lambda: netns_connect(ns, target, 8080), 10)     # running instance, no redeploy
                assert not netns_connect(ns, outside.gateway, d.port)            # still not the host
                d.cli("env", "set", "shop", "development", "--egress", "off")
                assert wait_for(lambda: not netns_connect(ns, target, 8080), 10)


def test_every_public_endpoint_answers_at_its_url(daemon, images, tmp_path):
        """A component with two public endpoints and one project-only endpoint: each public one answers at
        the URL `slipway url` prints for it (path- and host-based), the project-only one is not exposed."""
        d = daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        ctx = tmp_path / "two"
        for sub, text in (("www", "main site"), ("admin", "admin site"), ("internal", "internal")):
                (ctx / sub).mkdir(parents=True)
                (ctx / sub / "index.html").write_text(text + "\n")
        (ctx / "www" / "healthz").write_text("ok\n")
        (ctx / "Dockerfile").write_text(
                "FROM busybox:1\nCOPY www /www\nCOPY admin /admin\nCOPY internal /internal\n"
                'CMD ["sh", "-c", "httpd -p 8081 -h /admin; httpd -p 9000 -h /internal; '
                'exec httpd -f -p 8080 -h /www"]\n')
        build_image(d, ctx, "two:1")
        d.cli("project", "create", "shop")
        d.cli("env", "set", "shop", "development", "--domain", "dev.example.test")
        d.cli("component", "create", "shop/app", "--image", "two:1", "--endpoint", "web:8080",
              "--endpoint", "admin:8081:public", "--endpoint", "internal:9000:project", "--health", "http:/healthz")
        deploy(d, "shop/app", "development", "two:1")
        port = envs_of(d, "shop")["development"]["ingress_port"]

        urls = {u["endpoint"]: u for u in d.cli("url", "shop/app", "development")["urls"]}
        assert set(urls) == {"web", "admin"}
        assert urls["web"]["url"] == f"http://127.0.0.1:{port}/shop/app/"
        assert urls["admin"]["url"] == f"http://127.0.0.1:{port}/shop/app/_/admin/"
        assert http_get(urls["web"]["url"]) == (200, "main site\n")
        assert http_get(urls["admin"]["url"]) == (200, "admin site\n")
        assert urls["admin"]["host_url"] == f"http://app.dev.example.test:{port}/_/admin/"
        assert host_get(port, "app.dev.example.test") == (200, "main site\n")
        assert host_get(port, "app.dev.example.test", "/_/admin/") == (200, "admin site\n")
        # The project-only endpoint is reachable on the service address, never through the ingress.
        assert http_get(f"http://127.0.0.1:{port}/shop/app/_/internal/")[0] == 404
