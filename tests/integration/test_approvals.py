"""Issue 14: protected environments and promotion approvals, with a real daemon and real deploys.  A
developer's `promote` into a protected production deploys nothing: it becomes a request (`approvals list`
shows it; asking again returns the same one); an admin's `approvals approve` runs exactly the digest that was
requested, even after the source environment moved on; `approvals reject --reason` leaves production as it was
and keeps the reason; an admin's own promotion and any promotion into an unprotected environment go ahead at
once; a developer may list but not decide (403) nor protect an environment; a request is decided once (409);
missing configurables are refused when asked and again at approval (the request then fails, saying why)."""

import json
import subprocess

import pytest

from conftest import assert_clean_error
from deploy_util import DEPLOY_TIMEOUT, build_image, deploy, http_get, ingress_url, make_site, running_deploy_daemon

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(build_dir, images, tmp_path_factory):
        """One daemon with web:1 and web:2 (busybox httpd serving "hello v1" / "hello v2") and a developer, dev,
        whose API token is d.dev_token."""
        root = tmp_path_factory.mktemp("approvals")
        with running_deploy_daemon(build_dir, root / "state", images) as d:
                build_image(d, make_site(root / "v1", "hello v1"), "web:1")
                build_image(d, make_site(root / "v2", "hello v2"), "web:2")
                d.cli("user", "add", "dev", "--role", "developer")
                d.dev_token = d.cli("token", "create", "dev-laptop", "--user", "dev")["token"]
                yield d


def as_dev(d, *args, json_out=False, check=False):
        """`slipway --url URL --token DEV_TOKEN ARGS` as the developer runs it from a laptop."""
        p = subprocess.run([str(d.build.slipway), "--url", d.url, "--token", d.dev_token]
                           + (["--json"] if json_out else []) + [str(a) for a in args],
                           capture_output=True, text=True, timeout=DEPLOY_TIMEOUT)
        if check:
                assert p.returncode == 0, f"slipway {' '.join(map(str, args))} (as dev): {p.stderr}"
                return json.loads(p.stdout) if json_out else p
        return p


def admin(d, *args):
        """An admin's command without --json: the CompletedProcess (not checked)."""
        return d.cli(*args, json=False, check=False, timeout=DEPLOY_TIMEOUT)


def releases(d, target, envname):
        return d.cli("releases", target, envname)["releases"]


def approvals(d, *opts):
        return d.cli("approvals", "list", *opts)["approvals"]


def setup_protected(d, project, image="web:1"):
        """A project whose production is protected, its component web live in development with image."""
        d.cli("project", "create", project)
        d.cli("component", "create", f"{project}/web", "--image", image, "--health", "http:/healthz")
        d.cli("env", "set", project, "production", "--protected", "on")
        _, rel, _ = deploy(d, f"{project}/web", "development", image)
        return rel


def request_id(proc, target, envname="production"):
        """The request id a held promotion printed (asserting the sentence and exit 0)."""
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout.strip()
        head = f"Promotion of {target} to {envname} waits for an admin's approval: request "
        assert out.startswith(head), out
        rid = int(out[len(head):].split(" ", 1)[0])
        assert out == f"{head}{rid} (slipway approvals approve {rid}).", out
        return rid


def test_developer_promotion_waits_and_the_admin_approves_the_requested_digest(env):
        d = env
        dev_rel = setup_protected(d, "ap")
        envs = {e["name"]: e for e in d.cli("env", "list", "ap")["environments"]}
        assert envs["production"]["protected"] is True and envs["development"]["protected"] is False
        table = d.cli("env", "list", "ap", json=False).stdout
        assert "PROTECTED" in table and "yes" in table

        rid = request_id(as_dev(d, "promote", "ap/web", "development", "production"), "ap/web")
        # Nothing deployed to production; the request is listed, for the developer too.
        assert releases(d, "ap/web", "production") == []
        prod = ingress_url(d, "ap", "web", "production")
        assert http_get(prod)[0] != 200
        listed = [a for a in as_dev(d, "approvals", "list", json_out=True, check=True)["approvals"] if a["id"] == rid]
        assert len(listed) == 1
        a = listed[0]
        assert a["status"] == "pending" and a["project"] == "ap" and a["component"] == "web"
        assert a["from"] == "development" and a["to"] == "production" and a["requested_by"] == "dev"
        assert a["image_digest"] == dev_rel["image_digest"] and a["source_release_id"] == dev_rel["id"]
        text = as_dev(d, "approvals", "list", check=True).stdout
        assert str(rid) in text and "ap/web" in text and "dev" in text

        # Asking again returns the same request, not a second one.
        again = as_dev(d, "promote", "ap/web", "development", json_out=False)
        assert again.returncode == 0 and f"already waits for an admin's approval: request {rid} " in again.stdout
        assert [x["id"] for x in approvals(d) if x["project"] == "ap"] == [rid]

        # A developer may not decide.
        assert_clean_error(as_dev(d, "approvals", "approve", rid), "admin")
        assert_clean_error(as_dev(d, "approvals", "reject", rid), "admin")
        assert releases(d, "ap/web", "production") == []

        # Development moves on to v2; the approval still runs the digest that was requested (v1).
        _, dev_rel2, _ = deploy(d, "ap/web", "development", "web:2")
        assert dev_rel2["image_digest"] != dev_rel["image_digest"]
        p = admin(d, "approvals", "approve", rid)
        assert p.returncode == 0, p.stderr
        assert f"Approved request {rid}" in p.stdout
        live = [r for r in releases(d, "ap/web", "production") if r["status"] == "live"]
        assert len(live) == 1
        assert live[0]["image_digest"] == dev_rel["image_digest"] and live[0]["origin"] == "promote"
        assert live[0]["source_release_id"] == dev_rel["id"]
        assert http_get(prod) == (200, "hello v1\n")

        done = [x for x in approvals(d, "--all") if x["id"] == rid][0]
        assert done["status"] == "approved" and done["decided_by"] == "admin"
        assert done["release_id"] == live[0]["id"] and done["release_status"] == "live"
        assert not [x for x in approvals(d) if x["id"] == rid]  # no longer pending

        # Decided once: approving or rejecting it again is refused with a sentence (409), nothing changes.
        assert_clean_error(admin(d, "approvals", "approve", rid), "already", "approved")
        assert_clean_error(admin(d, "approvals", "reject", rid), "already")
        assert [r["id"] for r in releases(d, "ap/web", "production")] == [live[0]["id"]]
        assert_clean_error(admin(d, "approvals", "approve", "999999"), "999999")
        assert_clean_error(admin(d, "approvals", "approve", "x"), "number")


def test_a_rejection_leaves_production_untouched(env):
        d = env
        setup_protected(d, "rj")
        # production already serves v1 (an admin's promotion is not held)
        p = admin(d, "promote", "rj/web", "development")
        assert p.returncode == 0, p.stderr
        before = releases(d, "rj/web", "production")
        prod = ingress_url(d, "rj", "web", "production")
        assert http_get(prod) == (200, "hello v1\n")

        deploy(d, "rj/web", "development", "web:2")
        rid = request_id(as_dev(d, "promote", "rj/web", "development"), "rj/web")
        p = admin(d, "approvals", "reject", rid, "--reason", "wait for the QA sign-off")
        assert p.returncode == 0, p.stderr
        assert f"Rejected request {rid}" in p.stdout
        assert releases(d, "rj/web", "production") == before
        assert http_get(prod) == (200, "hello v1\n")
        done = [x for x in approvals(d, "--all") if x["id"] == rid][0]
        assert done["status"] == "rejected" and done["reason"] == "wait for the QA sign-off"
        assert done["decided_by"] == "admin" and done["release_id"] is None
        assert "wait for the QA sign-off" in d.cli("approvals", "list", "--all", json=False).stdout
        assert_clean_error(admin(d, "approvals", "approve", rid), "already", "rejected")
        assert releases(d, "rj/web", "production") == before
        # Once rejected, the same promotion may be asked for anew.
        rid2 = request_id(as_dev(d, "promote", "rj/web", "development"), "rj/web")
        assert rid2 != rid


def test_an_admins_promotion_and_an_unprotected_env_are_never_held(env):
        d = env
        dev_rel = setup_protected(d, "own")
        p = admin(d, "--json", "promote", "own/web", "development")
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["status"] == "live" and doc["image_digest"] == dev_rel["image_digest"]
        assert not [x for x in approvals(d, "--all") if x["project"] == "own"]

        # Unprotected (the default, or protection lifted): a developer's promotion goes live at once.
        d.cli("project", "create", "open")
        d.cli("component", "create", "open/web", "--image", "web:2", "--health", "http:/healthz")
        deploy(d, "open/web", "development", "web:2")
        p = as_dev(d, "--json", "promote", "open/web", "development")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["status"] == "live"
        assert http_get(ingress_url(d, "open", "web", "production")) == (200, "hello v2\n")
        d.cli("env", "set", "own", "production", "--protected", "off")
        deploy(d, "own/web", "development", "web:2")
        p = as_dev(d, "--json", "promote", "own/web", "development")
        assert p.returncode == 0, p.stderr
        assert http_get(ingress_url(d, "own", "web", "production")) == (200, "hello v2\n")
        assert not [x for x in approvals(d, "--all") if x["project"] in ("own", "open")]

        # Only an admin protects an environment or lifts it.
        assert_clean_error(as_dev(d, "env", "set", "open", "production", "--protected", "on"), "admin")
        assert d.cli("env", "list", "open")["environments"][1]["protected"] is False
        assert_clean_error(admin(d, "env", "set", "open", "production", "--protected", "maybe"), "--protected")


def test_missing_configurables_are_refused_when_asked_and_at_approval(env):
        d = env
        d.cli("project", "create", "cfg")
        d.cli("component", "create", "cfg/web", "--image", "web:1", "--health", "http:/healthz", "--config",
              "API_KEY:secret")
        d.cli("env", "set", "cfg", "production", "--protected", "on")
        d.cli("config", "set", "cfg/web", "development", "API_KEY=dev-key", "--secret")
        deploy(d, "cfg/web", "development", "web:1")
        # Refused as a promotion is, and nothing recorded.
        assert_clean_error(as_dev(d, "promote", "cfg/web", "development"), "API_KEY", "production")
        assert not [x for x in approvals(d, "--all") if x["project"] == "cfg"]

        d.cli("config", "set", "cfg/web", "production", "API_KEY=prod-key", "--secret")
        rid = request_id(as_dev(d, "promote", "cfg/web", "development"), "cfg/web")
        # The value goes before the admin decides: the approval is refused, the request fails saying why.
        d.cli("config", "unset", "cfg/web", "production", "API_KEY")
        assert_clean_error(admin(d, "approvals", "approve", rid), "API_KEY", "failed")
        assert releases(d, "cfg/web", "production") == []
        done = [x for x in approvals(d, "--all") if x["id"] == rid][0]
        assert done["status"] == "failed" and "API_KEY" in done["reason"] and done["release_id"] is None
        assert_clean_error(admin(d, "approvals", "approve", rid), "already", "failed")
