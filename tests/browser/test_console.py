"""Issue 14: the web console in a real browser (headless Chromium) against a real slipwayd with a git test
repository: log in, create a project and a git component, Deploy Manually and watch the build's log grow,
the development card goes live and its URL answers, Promote to production through the dialog that asks for
the missing configurables, Rollback, a secret that appears in no page and no response the page received,
text that looks like markup rendered as text, the security headers, no script error or CSP violation on any
page, viewers without edit controls, and a screenshot of every page."""

import http.server as httpserver
import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import output_dir
from deploy_util import http_get, running_deploy_daemon
from git_util import commit
from test_git_builds import site_files

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
ASSETS_MAX = 150 * 1024
BUILD_TIMEOUT = 240
ADMIN, ADMIN_PW = "alice", "correct horse battery staple"
VIEWER, VIEWER_PW = "vera", "viewer password 123"
DEVELOPER, DEVELOPER_PW = "dave", "developer password 456"
SECRET = "s3cr3t-V4LUE-never-shown-8d1f"
XSS_SCRIPT = "<script>window.__pwned=1</script>"
XSS_IMG = '"><img src=x onerror="window.__pwned=2">'
# The build prints this many lines a second apart, so the log visibly grows while it runs, in colour.
SLOW_RUN = ("RUN for i in 1 2 3 4 5 6; do printf '\\033[32mprogress %s\\033[0m\\n' $i; sleep 1; done; "
            "echo '<script>window.__pwned=3</script>'")

state = {}  # what the ordered tests below hand on


def http(d, path, method="GET", headers=None, data=None):
        req = urllib.request.Request(d.url + path, method=method, headers=headers or {}, data=data)
        try:
                with urllib.request.urlopen(req, timeout=10) as r:
                        return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
                return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def cd(build_dir, tmp_path_factory, images):
        state_dir = tmp_path_factory.mktemp("console") / "state"
        with running_deploy_daemon(build_dir, state_dir, images, ports=8) as d:
                d.cli("user", "add", ADMIN, "--role", "admin", "--password-stdin", input=ADMIN_PW + "\n", json=False)
                d.cli("user", "add", VIEWER, "--role", "viewer", "--password-stdin", input=VIEWER_PW + "\n", json=False)
                d.cli("user", "add", DEVELOPER, "--role", "developer", "--password-stdin", input=DEVELOPER_PW + "\n",
                      json=False)
                yield d


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
        r = tmp_path_factory.mktemp("console-repo") / "site"
        state["sha1"] = commit(r, site_files("console version one", dockerfile_extra=SLOW_RUN),
                               f"first {XSS_SCRIPT} {XSS_IMG}")
        return r


def pwned(b):
        return b.driver.execute_script("return window.__pwned || null")


def login(b, cd, name, pw):
        b.go(cd.url + "/")
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/login", what="the login page")
        b.one("input[name=name]").send_keys(name)
        b.one("input[name=password]").send_keys(pw + Keys.ENTER)
        b.wait(lambda: b.driver.execute_script("return location.hash") != "#/login", what="leaving the login page")
        b.wait_ready()


def test_security_headers_and_caching(cd):
        st, hd, body = http(cd, "/")
        assert st == 200 and hd["Content-Type"].startswith("text/html")
        assert hd["Content-Security-Policy"] == CSP
        assert hd["X-Content-Type-Options"] == "nosniff" and hd["Referrer-Policy"] == "no-referrer"
        assert hd["Cache-Control"] == "no-cache" and hd["ETag"]
        # No inline script or style anywhere: the CSP would block it.
        html = body.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "style=" not in html and "<style" not in html
        st, hd304, _ = http(cd, "/", headers={"If-None-Match": hd["ETag"]})
        assert st == 304 and hd304["Content-Security-Policy"] == CSP
        # index.html names content-hashed assets, cached for a year; the plain name is revalidated.
        assets = re.findall(r'"/console/([a-z0-9-]+\.[0-9a-f]{12}\.(?:js|css))"', html)
        assert any(a.startswith("app.") and a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
        total = len(body)
        for a in assets:
                st, ahd, data = http(cd, f"/console/{a}")
                assert st == 200 and "immutable" in ahd["Cache-Control"] and "max-age=31536000" in ahd["Cache-Control"]
                assert ahd["Content-Security-Policy"] == CSP and ahd["X-Content-Type-Options"] == "nosniff"
                assert ahd["Content-Type"].startswith("text/javascript" if a.endswith(".js") else "text/css")
                total += len(data)
        assert total < ASSETS_MAX, f"console assets are {total} bytes"
        st, phd, _ = http(cd, "/console/app.js")
        assert st == 200 and phd["Cache-Control"] == "no-cache"
        assert http(cd, "/console/nope.js")[0] == 404
        # Only reads of the console pass without credentials.
        assert http(cd, "/console/app.js", method="POST", data=b"x")[0] == 401
        assert http(cd, "/api/v1/projects")[0] == 401


def test_login(cd, browser):
        b = browser
        b.go(cd.url + "/")
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/login", what="the login page")
        b.screenshot("login")
        b.one("input[name=name]").send_keys(ADMIN)
        b.one("input[name=password]").send_keys("wrong password" + Keys.ENTER)
        err = b.wait(lambda: b.one(".login .error:not(.hidden)").text, what="the login error")
        assert len(err) > 10 and "Traceback" not in err  # the API's sentence
        b.one("input[name=password]").send_keys(Keys.CONTROL, "a")
        b.one("input[name=password]").send_keys(ADMIN_PW + Keys.ENTER)
        b.wait(lambda: b.driver.execute_script("return location.hash") != "#/login", what="leaving the login page")
        b.wait_ready()
        assert b.text("#user .who") == ADMIN and b.text("#user .role") == "admin"
        b.collect()
        assert not b.errors(allowed_status=(401,)), b.errors(allowed_status=(401,))


def test_create_project_and_git_component(cd, browser, repo):
        b = browser
        b.hash(cd.url, "#/projects")
        f = b.one("form.create-project")
        f.find_element(By.NAME, "name").send_keys("-bad name-")
        f.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        err = b.wait(lambda: b.one("form.create-project .error:not(.hidden)").text, what="the API's error")
        assert "name" in err.lower()  # the API's own validation sentence
        f.find_element(By.NAME, "name").send_keys(Keys.CONTROL, "a")
        f.find_element(By.NAME, "name").send_keys("shop")
        f.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/projects/shop", what="the project page")
        b.wait_ready()
        assert [e.text.split()[0] for e in b.css(".envs-order li")] == ["development", "production"]
        b.screenshot("project")

        f = b.one("form.create-component")
        f.find_element(By.NAME, "name").send_keys("web")
        f.find_element(By.NAME, "git").send_keys(str(repo))
        f.find_element(By.NAME, "endpoint").send_keys("web:8080")
        f.find_element(By.NAME, "health").send_keys("http:/healthz")
        f.find_element(By.NAME, "configs").send_keys("GREETING, API_KEY:secret")
        f.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/projects/shop/components/web",
               what="the Deploy view")
        b.wait_ready()
        # The Build Area: branch and latest commit, the commit message as text, not markup.
        assert b.text(".build-area .branch") == "main"
        b.wait(lambda: b.css(".build-area .latest-commit .sha"), what="the latest commit")
        assert b.text(".build-area .latest-commit .sha") == state["sha1"][:7]
        assert b.text(".build-area .latest-commit .subject") == f"first {XSS_SCRIPT} {XSS_IMG}"
        assert "Ada Tester" in b.text(".build-area .latest-commit .author")
        assert b.text(".webhook-url").startswith(cd.url + "/hooks/git/")
        assert not pwned(b) and not b.css(".build-area img")
        b.screenshot("deploy-view-new")


def configs_dialog(b, env):
        b.one(f'.env-card[data-env="{env}"] .configs-btn').click()
        return b.one("dialog.dialog[open] .configs .config-form")


def add_config(b, key, value, secret=False):
        f = b.one("dialog.dialog[open] .config-form")
        f.find_element(By.NAME, "key").send_keys(key)
        f.find_element(By.NAME, "value").send_keys(value)
        box = f.find_element(By.NAME, "secret")
        if box.is_selected() != secret:  # a declared secret configurable ticks it by itself
                box.click()
        f.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        b.wait(lambda: b.css(f'dialog.dialog[open] tr[data-key="{key}"]'), what=f"{key} in the list")


def test_configs_and_secrets(cd, browser):
        b = browser
        configs_dialog(b, "development")
        add_config(b, "GREETING", XSS_SCRIPT + XSS_IMG)
        add_config(b, "API_KEY", SECRET, secret=True)
        row = b.one('dialog.dialog[open] tr[data-key="GREETING"] .value')
        assert row.text == XSS_SCRIPT + XSS_IMG and not pwned(b)
        assert not b.css("dialog.dialog[open] img")
        secret_row = b.one('dialog.dialog[open] tr[data-key="API_KEY"]').text
        assert "secret · set · v1" in secret_row and SECRET not in secret_row
        # Edit a secret: the form never shows the value, and the version moves on.
        b.one('dialog.dialog[open] tr[data-key="API_KEY"] .edit').click()
        f = b.one("dialog.dialog[open] .config-form")
        assert f.find_element(By.NAME, "value").get_attribute("value") == ""
        f.find_element(By.NAME, "value").send_keys(SECRET)
        f.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        b.wait(lambda: "v2" in b.one('dialog.dialog[open] tr[data-key="API_KEY"]').text, what="version 2")
        b.screenshot("configs")
        b.one("dialog.dialog[open] .dialog-actions button.primary").click()
        b.wait(lambda: not b.css("dialog.dialog[open]"), what="the dialog to close")


def test_deploy_manually_and_watch_the_log(cd, browser):
        b = browser
        b.one(".deploy-manually").click()
        b.wait(lambda: "/builds/" in b.driver.execute_script("return location.hash"), what="the build console")
        b.wait_ready()
        state["build"] = int(b.driver.execute_script("return location.hash").rsplit("/", 1)[1])
        # The log grows while the build runs (streamed, not reloaded).
        sizes = []
        deadline = time.monotonic() + BUILD_TIMEOUT
        while time.monotonic() < deadline:
                status = b.text(".build-head .badge")
                sizes.append((status, len(b.one("#build-log").text)))
                if status in ("succeeded", "failed", "cancelled"):
                        break
                time.sleep(0.5)
        running = [n for s, n in sizes if s == "running"]
        assert status == "succeeded", b.text(".build-head")
        assert len(set(running)) >= 3, f"the log did not grow while running: {sizes}"
        # Colours as spans, a log line with markup as text.
        green = b.css("#build-log .ansi-fg-2")
        assert green and green[0].text.startswith("progress")
        assert "<script>window.__pwned=3</script>" in b.one("#build-log").text and not pwned(b)
        names = [e.get_attribute("data-step") for e in b.css(".steps .step")]
        assert names[:2] == ["fetch", "checkout"] and "deploy" in names
        b.wait(lambda: b.css(".build-extra .sbom"), what="the SBOM link")
        b.screenshot("build-console")


def test_development_goes_live_and_answers(cd, browser):
        b = browser
        b.hash(cd.url, "#/projects/shop/components/web")
        card = '.env-card[data-env="development"]'
        b.wait(lambda: b.css(f"{card} .live .badge") and b.text(f"{card} .live .badge") == "live", timeout=60,
               what="development live")
        b.wait(lambda: b.css(f"{card} .urls a"), what="its URL")
        url = b.one(f"{card} .urls a").get_attribute("href")
        assert http_get(url)[1].strip() == "console version one"
        assert b.text(f"{card} .commit code") == state["sha1"][:7]
        hist = b.css(".builds tbody tr")
        assert hist and "succeeded" in hist[0].text and "manual" in hist[0].text
        b.screenshot("deploy-view-live")


def test_promote_asks_for_missing_configurables(cd, browser):
        b = browser
        b.one('.env-card[data-env="development"] .promote').click()
        dlg = b.one("dialog.dialog[open] .promote")
        asked = sorted(e.get_attribute("name") for e in b.css("dialog.dialog[open] input.missing-config"))
        assert asked == ["API_KEY", "GREETING"]
        assert b.one('dialog.dialog[open] input[name="API_KEY"]').get_attribute("type") == "password"
        b.screenshot("promote-dialog")
        b.one('dialog.dialog[open] input[name="GREETING"]').send_keys("hello production")
        b.one('dialog.dialog[open] input[name="API_KEY"]').send_keys(SECRET)
        b.one("dialog.dialog[open] .dialog-actions button.primary").click()
        b.wait(lambda: not b.css("dialog.dialog[open]"), timeout=30, what="the promotion to be accepted")
        card = '.env-card[data-env="production"]'
        b.wait(lambda: b.css(f"{card} .live .badge") and b.text(f"{card} .live .badge") == "live", timeout=90,
               what="production live")
        dev = b.text('.env-card[data-env="development"] .digest')
        assert b.text(f"{card} .digest") == dev  # the same image
        b.wait(lambda: b.css(f"{card} .urls a"), what="production's URL")
        assert http_get(b.one(f"{card} .urls a").get_attribute("href"))[1].strip() == "console version one"
        vals = {v["key"]: v for v in cd.cli("config", "list", "shop/web", "production")["configs"]}
        assert vals["GREETING"]["value"] == "hello production" and vals["API_KEY"]["secret"]


def test_second_commit_then_rollback(cd, browser, repo):
        b = browser
        state["sha2"] = commit(repo, site_files("console version two"), "second version")
        b.one(".fetch-commits").click()
        b.wait(lambda: b.text(".build-area .latest-commit .sha") == state["sha2"][:7], what="the new commit")
        b.one(".deploy-manually").click()
        b.wait(lambda: "/builds/" in b.driver.execute_script("return location.hash"), what="the build console")
        b.wait(lambda: b.text(".build-head .badge") == "succeeded", timeout=BUILD_TIMEOUT, what="the second build")
        b.hash(cd.url, "#/projects/shop/components/web")
        card = '.env-card[data-env="development"]'
        b.wait(lambda: b.text(f"{card} .commit code") == state["sha2"][:7] and b.text(f"{card} .live .badge") == "live",
               timeout=90, what="version two live")
        url = b.one(f"{card} .urls a").get_attribute("href")
        assert http_get(url)[1].strip() == "console version two"
        state["release_two"] = [e for e in cd.cli("component", "show", "shop/web")["environments"]
                                if e["name"] == "development"][0]["live"]["id"]
        b.one(f"{card} details.releases summary").click()
        rb = b.one(f"{card} details.releases .rollback")
        rb.click()  # asks once more
        assert rb.text == "Roll back?"
        rb.click()
        b.wait(lambda: b.css(f"{card} .commit code") and b.text(f"{card} .commit code") == state["sha1"][:7]
               and b.text(f"{card} .live .badge") == "live", timeout=90, what="the rollback")
        b.wait(lambda: http_get(url)[1].strip() == "console version one", what="version one answering again")
        assert "rollback" in b.text(f"{card} .live")
        b.screenshot("deploy-view-rolled-back")


def test_other_pages_and_phone_width(cd, browser):
        b = browser
        for name, frag, sel in (("projects", "#/projects", "table.list"), ("images", "#/images", "table.images"),
                                ("status", "#/status", ".status"), ("overview", "#/projects/shop", "table.components")):
                b.hash(cd.url, frag)
                b.one(sel)
                b.screenshot(name)
        b.hash(cd.url, "#/status")
        assert "running" in b.text(".status")  # the proxy
        assert "free" in b.text(".status .disk") and "not imported" in b.text(".status .vulndb")
        b.hash(cd.url, "#/projects/shop")
        assert "live" in b.text("table.components")
        b.driver.set_window_size(390, 844)
        try:
                for name, frag in (("phone-deploy-view", "#/projects/shop/components/web"),
                                   ("phone-build", f"#/projects/shop/components/web/builds/{state['build']}")):
                        b.hash(cd.url, frag)
                        time.sleep(0.3)
                        over = b.driver.execute_script(
                                "return document.documentElement.scrollWidth - window.innerWidth")
                        assert over <= 1, f"{name}: {over} px wider than a phone's screen"
                        b.screenshot(name)
        finally:
                b.driver.set_window_size(1280, 1000)


def test_secret_is_in_no_page_and_no_response(cd, browser):
        b = browser
        for frag in ("#/projects/shop/components/web", f"#/projects/shop/components/web/builds/{state['build']}"):
                b.hash(cd.url, frag)
                assert SECRET not in b.driver.page_source
        b.hash(cd.url, "#/projects/shop/components/web")
        configs_dialog(b, "production")
        b.wait(lambda: b.css('dialog.dialog[open] tr[data-key="API_KEY"]'), what="the values")
        assert SECRET not in b.driver.page_source
        b.one("dialog.dialog[open] .dialog-actions button.primary").click()
        b.collect()
        api_seen = [n for n in b.network if "/api/v1/" in n[0]]
        assert len(api_seen) > 20  # the check saw the console's traffic
        leaked = [url for url, status, mime, body in b.network if SECRET in body]
        assert not leaked, f"the secret came back in {leaked}"
        # The daemon's own view agrees: never a secret's value.
        for env in ("development", "production"):
                assert SECRET not in json.dumps(cd.cli("config", "list", "shop/web", env))


def test_no_script_error_or_csp_violation(cd, browser):
        b = browser
        b.collect()
        errors = b.errors(allowed_status=(400, 401, 409))
        assert not errors, errors
        assert not pwned(b)


def test_cross_site_form_post_is_refused(cd, browser):
        """A page of another origin posts a form to the API while the admin's session is open: refused."""
        b = browser
        target = cd.url + "/api/v1/projects"
        page = (f'<!doctype html><form id="f" method="POST" action="{target}" enctype="text/plain">'
                '<input name=\'{"name":"evil","x":"\' value=\'"}\'></form><script>f.submit()</script>').encode()

        class Evil(httpserver.BaseHTTPRequestHandler):
                def do_GET(self):
                        self.send_response(200)
                        self.send_header("Content-Type", "text/html")
                        self.send_header("Content-Length", str(len(page)))
                        self.end_headers()
                        self.wfile.write(page)

                def log_message(self, *a):
                        pass

        srv = httpserver.HTTPServer(("127.0.0.1", 0), Evil)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
                b.driver.get(f"http://127.0.0.1:{srv.server_port}/")
                b.wait(lambda: b.driver.current_url.startswith(target), what="the form's post")
                time.sleep(0.5)
                assert "evil" not in [p["name"] for p in cd.cli("project", "list")["projects"]]
                assert "CSRF" in b.driver.page_source or "csrf" in b.driver.page_source.lower()
        finally:
                srv.shutdown()
                srv.server_close()
        b.go(cd.url + "/#/projects")  # the session itself still works
        assert b.text("#user .who") == ADMIN


def test_developer_deploys_but_does_not_administer(cd, browser):
        b = browser
        b.one("#user .logout").click()
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/login", what="the login page")
        login(b, cd, DEVELOPER, DEVELOPER_PW)
        assert b.text("#user .role") == "developer"
        b.hash(cd.url, "#/projects")
        assert not b.css("form.create-project")
        b.hash(cd.url, "#/projects/shop")
        assert not b.css("form.create-component")
        b.hash(cd.url, "#/projects/shop/components/web")
        assert b.css(".deploy-manually") and b.css(".promote") and not b.css(".webhook")
        assert all(e.is_enabled() for e in b.css(".toggles input"))
        b.screenshot("developer-deploy-view")


def relogin(b, cd, name, pw):
        b.one("#user .logout").click()
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/login", what="the login page")
        login(b, cd, name, pw)
        assert b.text("#user .who") == name


def request_promotion(b):
        """The developer's Promote from development into the protected production: a request, not a release."""
        btn = b.one('.env-card[data-env="development"] .promote')
        assert btn.text == "Request to Promote to production"
        btn.click()
        assert "protected" in b.text("dialog.dialog[open] .ask-approval")
        assert not b.css("dialog.dialog[open] input.missing-config")  # production has its values already
        b.one("dialog.dialog[open] .dialog-actions button.primary").click()
        b.wait(lambda: not b.css("dialog.dialog[open]"), timeout=30, what="the request to be recorded")
        b.wait(lambda: b.css('.env-card[data-env="production"] .pending-approval'), what="the pending request")
        return int(b.one('.env-card[data-env="production"] .pending-approval').get_attribute("data-approval"))


def test_developer_promotion_into_protected_env_waits_for_approval(cd, browser):
        """Production protected: the developer's promotion (of version two, rolled forward in development)
        becomes a request that the card and the approvals page show; production keeps what it runs."""
        b = browser
        cd.cli("env", "set", "shop", "production", "--protected", "on", json=False)
        b.hash(cd.url, "#/projects/shop")
        b.hash(cd.url, "#/projects/shop/components/web")
        assert "protected" in b.text('.env-card[data-env="production"] h3')
        dev = '.env-card[data-env="development"]'
        b.one(f"{dev} details.releases summary").click()
        rows = [r for r in b.css(f"{dev} details.releases tbody tr") if r.find_elements(By.CSS_SELECTOR, ".rollback")]
        two = next(r for r in rows if b.driver.execute_script(
                "return arguments[0].dataset.release", r) == str(state["release_two"]))
        rb = two.find_element(By.CSS_SELECTOR, ".rollback")
        rb.click()
        rb.click()
        b.wait(lambda: b.text(f"{dev} .commit code") == state["sha2"][:7] and b.text(f"{dev} .live .badge") == "live",
               timeout=90, what="version two live in development again")
        prod_before = b.text('.env-card[data-env="production"] .digest')
        state["approval1"] = request_promotion(b)
        assert "waits for an admin's approval" in b.text('.env-card[data-env="production"] .pending-approval')
        assert b.text('.env-card[data-env="production"] .digest') == prod_before
        b.screenshot("promotion-request")
        b.hash(cd.url, "#/approvals")
        row = f'tr[data-approval="{state["approval1"]}"]'
        assert "pending" in b.text(row) and DEVELOPER in b.text(row)
        assert not b.css(f"{row} .approve") and not b.css(f"{row} .reject")  # only an admin decides
        pending = cd.cli("approvals", "list")["approvals"]
        assert [a["id"] for a in pending] == [state["approval1"]] and pending[0]["to"] == "production"


def test_admin_rejects_then_approves_in_the_console(cd, browser):
        b = browser
        relogin(b, cd, ADMIN, ADMIN_PW)
        b.hash(cd.url, "#/approvals")
        row = f'tr[data-approval="{state["approval1"]}"]'
        b.one(f"{row} .reject").click()
        b.one("dialog.dialog[open] textarea.reject-reason").send_keys("not before the release notes <b>x</b>")
        b.one("dialog.dialog[open] .dialog-actions button.primary").click()
        b.wait(lambda: not b.css(row), what="the rejected request to leave the pending list")
        b.hash(cd.url, "#/approvals?all=1")
        assert "rejected" in b.text(row) and "not before the release notes <b>x</b>" in b.text(row)
        # The developer asks again; the admin approves: production runs exactly the image requested.
        relogin(b, cd, DEVELOPER, DEVELOPER_PW)
        b.hash(cd.url, "#/projects/shop/components/web")
        state["approval2"] = request_promotion(b)
        assert state["approval2"] != state["approval1"]
        requested = cd.cli("approvals", "list")["approvals"][0]["image_digest"]
        relogin(b, cd, ADMIN, ADMIN_PW)
        b.hash(cd.url, "#/approvals")
        row = f'tr[data-approval="{state["approval2"]}"]'
        b.screenshot("approvals")
        approve = b.one(f"{row} .approve")
        approve.click()
        assert approve.text == "Approve and deploy?"
        approve.click()
        b.wait(lambda: not b.css(row), timeout=30, what="the approved request to leave the pending list")
        b.hash(cd.url, "#/projects/shop/components/web")
        card = '.env-card[data-env="production"]'
        b.wait(lambda: b.text(f"{card} .commit code") == state["sha2"][:7] and b.text(f"{card} .live .badge") == "live",
               timeout=90, what="version two live in production")
        assert not b.css(f"{card} .pending-approval")
        live = [e for e in cd.cli("component", "show", "shop/web")["environments"] if e["name"] == "production"][0]
        assert live["live"]["image_digest"] == requested
        assert http_get(b.one(f"{card} .urls a").get_attribute("href"))[1].strip() == "console version two"
        done = {a["id"]: a for a in cd.cli("approvals", "list", "--all")["approvals"]}
        assert done[state["approval2"]]["status"] == "approved" and done[state["approval2"]]["decided_by"] == ADMIN
        assert done[state["approval1"]]["status"] == "rejected"


def test_viewer_sees_no_edit_control(cd, browser):
        b = browser
        b.one("#user .logout").click()
        b.wait(lambda: b.driver.execute_script("return location.hash") == "#/login", what="the login page")
        login(b, cd, VIEWER, VIEWER_PW)
        assert b.text("#user .role") == "viewer"
        b.hash(cd.url, "#/projects")
        assert not b.css("form.create-project")
        b.hash(cd.url, "#/projects/shop")
        assert not b.css("form.create-component") and not b.css("form.create-env")
        b.hash(cd.url, "#/projects/shop/components/web")
        assert not b.css(".deploy-manually") and not b.css(".promote") and not b.css(".rollback")
        assert all(not e.is_enabled() for e in b.css(".toggles input"))
        b.hash(cd.url, "#/approvals?all=1")
        assert b.css(f'tr[data-approval="{state["approval2"]}"]') and not b.css(".approve") and not b.css(".reject")
        b.hash(cd.url, "#/projects/shop/components/web")
        b.one('.env-card[data-env="development"] .configs-btn').click()
        b.wait(lambda: b.css('dialog.dialog[open] tr[data-key="GREETING"]'), what="the values")
        assert not b.css("dialog.dialog[open] .edit") and not b.css("dialog.dialog[open] .config-form")
        b.screenshot("viewer-deploy-view")
        b.one("dialog.dialog[open] .dialog-actions button.primary").click()
        # The API refuses the viewer's writes whatever the page shows.
        status = b.driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                import(document.querySelector('link[href*="/console/api."]').href).then(async (api) => {
                        try { await api.api("POST", "projects/shop/components/web/builds", {deploy: true}); done(200); }
                        catch (e) { done(e.status); }
                });""")
        assert status == 403
