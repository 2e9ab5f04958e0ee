"""Issue 14 ("working in current Chromium and Firefox"): the web console in headless Firefox (firefox-esr,
driven over WebDriver BiDi) against a real slipwayd: the login form typed into, the projects page, a project
created through its form, the project page, a git component made through its form and its Deploy view, a
value set in the configs dialog, the images and status pages.  Each view renders, the header names the
user, markup in a commit message, a config value and a rejected name shows as text, the log holds no script
error and no CSP violation (a deliberate one shows the check sees them), a screenshot of every page, and
Firefox asked for no address outside loopback.  No build runs: the Chromium suite covers the workflow."""

import json

import pytest

from conftest import output_dir
from deploy_util import running_deploy_daemon
from git_util import commit
from test_git_builds import site_files

ADMIN, ADMIN_PW = "fiona", "firefox password 789"
XSS_SCRIPT = "<script>window.__pwned=1</script>"
XSS_IMG = '"><img src=x onerror="window.__pwned=2">'
ENTER = "\ue007"
PAGES = ("login", "projects-empty", "project", "deploy-view", "configs", "projects", "overview", "approvals", "images",
         "status")

state = {}  # what the ordered tests below hand on


@pytest.fixture(scope="module")
def cd(build_dir, tmp_path_factory, images):
        state_dir = tmp_path_factory.mktemp("console-firefox") / "state"
        with running_deploy_daemon(build_dir, state_dir, images) as d:
                d.cli("user", "add", ADMIN, "--role", "admin", "--password-stdin", input=ADMIN_PW + "\n", json=False)
                yield d


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
        r = tmp_path_factory.mktemp("console-firefox-repo") / "site"
        state["sha"] = commit(r, site_files("firefox version one"), f"first {XSS_SCRIPT} {XSS_IMG}")
        return r


def pwned(ff):
        return ff.js("return window.__pwned || null")


def shot(ff, name):
        ff.screenshot(f"firefox-{name}")
        state.setdefault("shots", []).append(name)


def test_login_form(cd, firefox):
        ff = firefox
        ff.navigate(cd.url + "/")
        ff.wait(lambda: ff.location_hash() == "#/login", what="the login page")
        ff.wait_ready()
        shot(ff, "login")
        ff.type(".login input[name=name]", ADMIN)
        ff.type(".login input[name=password]", "wrong password" + ENTER)
        err = ff.wait(lambda: ff.js("const e = document.querySelector('.login .error:not(.hidden)');"
                                    "return e && e.innerText"), what="the login error")
        assert len(err) > 10 and "Traceback" not in err, err  # the API's sentence
        assert ff.location_hash() == "#/login"
        ff.type(".login input[name=password]", ADMIN_PW + ENTER)
        ff.wait(lambda: ff.location_hash() != "#/login", what="leaving the login page")
        ff.wait_ready()
        assert ff.text("#user .who") == ADMIN and ff.text("#user .role") == "admin"
        # The session cookie is HttpOnly: the page's script cannot read it.
        assert "session" not in ff.js("return document.cookie").lower()


def test_projects_page_and_create_project(cd, firefox):
        ff = firefox
        ff.hash("#/projects")
        assert "No project yet" in ff.text("main")
        shot(ff, "projects-empty")
        # A name the API refuses, holding markup: its sentence shows, the markup runs nowhere.
        ff.type("form.create-project input[name=name]", XSS_SCRIPT)
        ff.click("form.create-project button[type=submit]")
        err = ff.wait(lambda: ff.js("const e = document.querySelector('form.create-project .error:not(.hidden)');"
                                    "return e && e.innerText"), what="the API's error")
        assert "name" in err.lower(), err
        assert not pwned(ff) and ff.count("main script, main img") == 0
        ff.type("form.create-project input[name=name]", "shop")
        ff.click("form.create-project button[type=submit]")
        ff.wait(lambda: ff.location_hash() == "#/projects/shop", what="the project page")
        ff.wait_ready()
        assert ff.js("return [...document.querySelectorAll('.envs-order li strong')].map(e => e.textContent)") == [
                "development", "production"]
        assert ff.text("#user .who") == ADMIN
        shot(ff, "project")


def test_create_component_and_deploy_view(cd, firefox, repo):
        ff = firefox
        f = "form.create-component"
        ff.type(f"{f} input[name=name]", "web")
        ff.type(f"{f} input[name=git]", str(repo))
        ff.type(f"{f} input[name=endpoint]", "web:8080")
        ff.type(f"{f} input[name=configs]", "GREETING")
        ff.click(f"{f} button[type=submit]")
        ff.wait(lambda: ff.location_hash() == "#/projects/shop/components/web", what="the Deploy view")
        ff.wait_ready()
        assert ff.text(".build-area .branch") == "main"
        assert ff.text(".build-area .latest-commit .sha") == state["sha"][:7]
        assert ff.text(".build-area .latest-commit .subject") == f"first {XSS_SCRIPT} {XSS_IMG}"
        assert not pwned(ff) and ff.count(".build-area img, .build-area script") == 0
        assert ff.js("return [...document.querySelectorAll('.env-card')].map(e => e.dataset.env)") == [
                "development", "production"]
        assert ff.text(".webhook-url").startswith(cd.url + "/hooks/git/")
        shot(ff, "deploy-view")


def test_configs_dialog_value_is_text(cd, firefox):
        ff = firefox
        ff.click('.env-card[data-env="development"] .configs-btn')
        form = "dialog.dialog[open] .config-form"
        ff.wait(lambda: ff.count(form), what="the configs dialog")
        ff.type(f"{form} input[name=key]", "GREETING")
        ff.type(f"{form} [name=value]", XSS_SCRIPT + XSS_IMG)
        ff.click(f"{form} button[type=submit]")
        row = 'dialog.dialog[open] tr[data-key="GREETING"] .value'
        assert ff.text(row) == XSS_SCRIPT + XSS_IMG
        assert not pwned(ff) and ff.count("dialog.dialog[open] img, dialog.dialog[open] script") == 0
        shot(ff, "configs")
        ff.click("dialog.dialog[open] .dialog-actions button.primary")
        ff.wait(lambda: not ff.count("dialog.dialog[open]"), what="the dialog to close")
        vals = {v["key"]: v["value"] for v in cd.cli("config", "list", "shop/web", "development")["configs"]}
        assert vals["GREETING"] == XSS_SCRIPT + XSS_IMG  # what was typed is what was stored


def test_overview_approvals_images_and_status(cd, firefox, repo):
        ff = firefox
        ff.hash("#/projects")
        assert "shop" in ff.text("table.list")
        shot(ff, "projects")
        ff.hash("#/projects/shop")
        comps = ff.text("table.components")
        assert comps.startswith("Component") and "web" in comps and f"git {repo} (main)" in comps, comps
        assert "nothing live" in comps
        shot(ff, "overview")
        ff.hash("#/approvals")
        assert "Nothing waits for an approval." in ff.text(".page .card")
        shot(ff, "approvals")
        ff.hash("#/images")
        assert "busybox:1" in ff.text("table.images")
        shot(ff, "images")
        ff.hash("#/status")
        assert "running" in ff.text(".status")  # the proxy
        assert "free" in ff.text(".status .disk") and "not imported" in ff.text(".status .vulndb")
        assert ff.text("#user .who") == ADMIN
        shot(ff, "status")


def test_no_script_error_or_csp_violation(cd, firefox):
        ff = firefox
        ff.js("return 1")  # the events still on their way come in with this answer
        (output_dir() / "firefox-log.json").write_text(json.dumps(ff.log, indent=1))
        problems = ff.problems()
        assert not problems, problems
        assert not pwned(ff)
        # The check sees what it looks for: an inline script, which the console's CSP forbids, is blocked and
        # reported.
        ff.js("const s = document.createElement('script'); s.textContent = 'window.__pwned = 9';"
              "document.body.appendChild(s);")
        # Events come in with the answers to commands: the page is asked something until it is there.
        seen = ff.wait(lambda: ff.js("return 1") and ff.problems(), timeout=10,
                       what="Firefox to report the CSP violation")
        assert not pwned(ff)
        assert any("Content-Security-Policy" in e["text"] or "Content Security Policy" in e["text"] for e in seen), seen


def test_screenshots_and_no_outside_address(firefox):
        assert sorted(state.get("shots", [])) == sorted(PAGES)  # taken in this run, not left from an earlier one
        for name in PAGES:
                with open(output_dir() / f"firefox-{name}.png", "rb") as f:
                        assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
        # Every proxy setting points at the sinkhole and loopback is never proxied: what reached it is a
        # request Firefox meant for the outside.
        assert firefox.sinkhole.seen == [], sorted(set(firefox.sinkhole.seen))
