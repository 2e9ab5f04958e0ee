"""Issue 14, "every page works from a fresh start of the quickstart": packaging/quickstart as a new user runs
it, then its console in headless Chromium with the admin password the quickstart printed: the projects list
has the demo, the demo's Deploy view shows the build and development live at the URL that answers, the
build console shows the finished build's log and SBOM, and the images, approvals and status pages render —
with no script error or CSP violation on any of them."""

import re
import urllib.request

import pytest

from conftest import STARTED_STATE_DIRS, Daemon, free_port, free_port_range, wait_port
from test_image_quickstart import _quickstart, stop_quickstart_daemon


@pytest.fixture(scope="module")
def qs(build_dir, tmp_path_factory):
        state = tmp_path_factory.mktemp("quickstart-console") / "var"
        STARTED_STATE_DIRS.append(state)  # the quickstart starts slipwayd itself: clean up what it owns
        port = free_port()
        d = Daemon(build_dir, state, port)
        pid = None
        try:
                p = _quickstart(build_dir, state, port, free_port_range())
                assert p.returncode == 0, f"quickstart failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
                assert wait_port(port, 5)
                pid = d.cli("status")["daemon"]["pid"]
                m = re.search(r"^Console: (http://\S+/)  \(user admin, password (\S+)\)$", p.stdout, re.M)
                assert m, p.stdout[-3000:]
                yield d, m.group(1), m.group(2)
        finally:
                stop_quickstart_daemon(d, pid)


def test_quickstart_console_pages(qs, browser):
        d, url, password = qs
        b = browser
        b.go(url)
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/login", what="the login page")
        b.one("input[name=name]").send_keys("admin")
        b.one("input[name=password]").send_keys(password + "\n")
        b.wait(lambda: b.driver.execute_script("return location.hash") != "#/login", what="leaving the login page")
        b.wait_ready()
        assert b.text("#user .who") == "admin" and b.text("#user .role") == "admin"

        b.hash(url, "#/projects")
        assert "demo" in b.text("table.list")
        b.hash(url, "#/projects/demo")
        assert "web" in b.text(".page")
        b.hash(url, "#/projects/demo/components/web")
        card = '.env-card[data-env="development"]'
        b.wait(lambda: b.text(f"{card} .live .badge") == "live", what="development live")
        live = b.one(f"{card} .urls a").get_attribute("href")
        with urllib.request.urlopen(live, timeout=10) as r:
                assert b"Hello from Slipway" in r.read()
        build = d.cli("builds", "demo/web")["builds"][0]
        assert b.text(f"{card} .commit code") == build["short_commit"]
        assert b.css(".build-area .latest-commit .sha") and b.css(".webhook-url")
        rows = b.css(".builds tbody tr")
        assert len(rows) == 1 and "succeeded" in rows[0].text and "manual" in rows[0].text
        b.screenshot("quickstart-deploy-view")

        b.hash(url, f"#/projects/demo/components/web/builds/{build['id']}")
        b.wait(lambda: "step 9/9: deploy" in (b.text(".log") or ""), what="the finished build's log")
        assert b.text(".build-head .badge") == "succeeded"
        assert b.css("button.sbom")
        b.screenshot("quickstart-build")

        b.hash(url, "#/images")
        assert "demo/web:" in b.text("table.images") and "busybox:latest" in b.text("table.images")
        b.hash(url, "#/approvals")
        assert "Nothing waits for an approval." in b.text(".page .card")
        b.hash(url, "#/status")
        assert b.text("dl.status .disk") != "—"
        b.collect()
        errors = b.errors(allowed_status=(401,))  # GET /session before the login: 401, as it should
        assert not errors, errors
