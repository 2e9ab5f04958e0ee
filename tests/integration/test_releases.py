"""Releases as a user drives them, with a real daemon and real containers: `component update` changes only the
next deploy; `deploy` without --image redeploys the live image; `promote` runs the exact digest live in the
earlier environment and refuses (nothing live, backwards, unknown or no next environment, a configurable
missing in the target, which keeps serving its old release); `rollback` brings an earlier image back and
refuses what it cannot do; a deploy with missing configurables names every one and creates nothing; and
keep_releases prunes old releases so `image gc` can free an image only they used.  With values: a value
changes nothing until a deploy, a deploy without --image applies it, a rollback restores the earlier value
(not the current one) and a promotion takes the target's values, all checked from inside the container."""

import json
import urllib.error
import urllib.request

import pytest

from conftest import assert_clean_error
from deploy_util import (DEPLOY_TIMEOUT, build_image, deploy, http_get, ingress_url, make_site, release_doc,
                         running_deploy_daemon, wait_for)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(build_dir, images, tmp_path_factory):
        """One daemon for the module with web:1 and web:2 (busybox httpd serving "hello v1" / "hello v2")."""
        root = tmp_path_factory.mktemp("releases")
        with running_deploy_daemon(build_dir, root / "state", images) as d:
                build_image(d, make_site(root / "v1", "hello v1"), "web:1")
                build_image(d, make_site(root / "v2", "hello v2"), "web:2")
                build_image(d, make_greeter(root / "greeter"), "greeter:1")
                d.root = root
                yield d


def make_greeter(dir):
        """make_site() plus /cgi-bin/greeting: the GREETING the app sees and the file /etc/app/motd."""
        ctx = make_site(dir, "greeter")
        cgi = ctx / "www" / "cgi-bin" / "greeting"
        cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                       'echo "greeting=$GREETING motd=$(cat /etc/app/motd 2>/dev/null)"\n')
        cgi.chmod(0o755)
        return ctx


def releases(d, target, envname=None):
        args = ("releases", target) + ((envname,) if envname else ())
        return d.cli(*args)["releases"]


def run(d, *args):
        """A release command without --json: the CompletedProcess (not checked)."""
        return d.cli(*args, json=False, check=False, timeout=DEPLOY_TIMEOUT)


def create(d, target, image="web:1", *extra):
        d.cli("project", "create", target.split("/", 1)[0])
        d.cli("component", "create", target, "--image", image, "--health", "http:/healthz", *extra)


def api_post(d, path, body):
        """(status, JSON reply) of a POST with the admin token, whatever the status."""
        req = urllib.request.Request(d.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {d.token}",
                                              "Content-Type": "application/json"})
        try:
                with urllib.request.urlopen(req, timeout=30) as r:
                        return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")


def digests(d):
        """Image digest of each tag."""
        return {ref: i["digest"] for i in d.images() for ref in i["refs"]}


def test_component_update_changes_the_next_deploy_only(env):
        d = env
        create(d, "upd/web")
        _, first, _ = deploy(d, "upd/web", "development", "web:1")
        dev = ingress_url(d, "upd", "web", "development")
        assert http_get(dev) == (200, "hello v1\n")

        out = d.cli("component", "update", "upd/web", "--image", "web:2", "--bake", "0", "--keep-releases", "7",
                    "--bake-max-5xx", "20", "--config", "GREETING:optional")
        assert out["image"] == "docker.io/library/web:2" or out["image"].endswith("web:2")
        spec = out["spec"]
        assert spec["bake_ms"] == 0 and spec["keep_releases"] == 7 and spec["bake_max_5xx_percent"] == 20
        assert spec["configs"] == [{"name": "GREETING", "secret": False, "optional": True, "file": None}]
        # What was not given keeps its value.
        assert spec["health"]["readiness"]["kind"] == "http" and spec["health"]["readiness"]["path"] == "/healthz"
        # Nothing changed for what runs: no new release, the same instance answers.
        assert http_get(dev) == (200, "hello v1\n")
        assert [r["id"] for r in releases(d, "upd/web")] == [first["id"]]
        show = d.cli("component", "show", "upd/web", json=False).stdout
        assert "GREETING (plain, optional, env)" in show
        assert "Bake:       off; rolls back above 20% 5xx answers" in show
        assert "the last 7 releases per environment" in show

        # The next deploys take it: production (nothing live there) gets the new image ...
        p = run(d, "--json", "deploy", "upd/web", "production")
        assert p.returncode == 0, p.stderr
        assert http_get(ingress_url(d, "upd", "web", "production")) == (200, "hello v2\n")
        # ... and a deploy without --image where something is live redeploys the live image ("save and deploy").
        p = run(d, "--json", "deploy", "upd/web", "development")
        assert p.returncode == 0, p.stderr
        again = json.loads(p.stdout)
        assert again["status"] == "live" and again["image_digest"] == first["image_digest"]
        assert http_get(dev) == (200, "hello v1\n")

        # --no-config drops one; an unknown one is refused with nothing changed.
        assert d.cli("component", "update", "upd/web", "--no-config", "GREETING")["spec"]["configs"] == []
        assert_clean_error(d.cli("component", "update", "upd/web", "--no-config", "NOPE", json=False, check=False),
                           "NOPE")
        assert_clean_error(d.cli("component", "update", "upd/web", "--config", "1BAD", json=False, check=False),
                           "1BAD")
        assert_clean_error(d.cli("component", "update", "upd/web", "--bake", "soon", json=False, check=False),
                           "--bake")
        assert_clean_error(d.cli("component", "update", "upd/web", "--keep-releases", "0", json=False,
                                 check=False), "--keep-releases")
        assert d.cli("component", "show", "upd/web")["spec"]["keep_releases"] == 7


def test_deploy_refuses_missing_configurables_and_creates_nothing(env):
        d = env
        create(d, "cfg/web", "web:1", "--config", "DB_URL", "--config", "API_KEY:secret", "--config",
               "CERT:file=/etc/app/cert.pem", "--config", "DEBUG:optional")
        p = run(d, "deploy", "cfg/web", "development", "--image", "web:1")
        err = assert_clean_error(p, "DB_URL", "API_KEY", "CERT", "slipway config set cfg/web development DB_URL=VALUE",
                                 "API_KEY=VALUE --secret", "CERT=VALUE --file /etc/app/cert.pem")
        assert "DEBUG" not in err
        assert releases(d, "cfg/web") == []
        # The API answers 409 with the names, and still creates nothing.
        status, doc = api_post(d, "/api/v1/projects/cfg/components/web/deploy", {"env": "development"})
        assert status == 409 and doc["missing"] == ["DB_URL", "API_KEY", "CERT"], doc
        assert releases(d, "cfg/web") == []
        assert http_get(ingress_url(d, "cfg", "web", "development"))[0] != 200


def test_promote_runs_the_same_digest_and_refuses_cleanly(env):
        d = env
        create(d, "prom/web")
        # Nothing live in development yet.
        assert_clean_error(run(d, "promote", "prom/web", "development"), "nothing", "live", "development")
        assert releases(d, "prom/web") == []

        _, dev_rel, _ = deploy(d, "prom/web", "development", "web:1")
        p = run(d, "--json", "promote", "prom/web", "development")  # default: the next environment
        assert p.returncode == 0, p.stderr
        prod_rel = json.loads(p.stdout)
        assert prod_rel["status"] == "live" and prod_rel["environment"] == "production"
        rels = {r["id"]: r for r in releases(d, "prom/web")}
        assert rels[prod_rel["id"]]["image_digest"] == rels[dev_rel["id"]]["image_digest"]
        assert rels[prod_rel["id"]]["origin"] == "promote"
        assert rels[prod_rel["id"]]["source_release_id"] == dev_rel["id"]
        assert rels[prod_rel["id"]]["source_environment"] == "development"
        prod = ingress_url(d, "prom", "web", "production")
        assert http_get(prod) == (200, "hello v1\n")
        text = d.cli("releases", "prom/web", "production", json=False).stdout
        assert f"promote from development#{dev_rel['id']}" in text

        # Refusals, each one sentence, nothing created.
        before = [r["id"] for r in releases(d, "prom/web")]
        assert_clean_error(run(d, "promote", "prom/web", "production", "development"), "forward")
        assert_clean_error(run(d, "promote", "prom/web", "development", "staging"), "staging")
        assert_clean_error(run(d, "promote", "prom/web", "production"), "last environment")
        assert_clean_error(run(d, "promote", "prom/web", "development", "development"), "forward")
        assert [r["id"] for r in releases(d, "prom/web")] == before

        # v2 in development, then the component needs values production does not have: promotion refused,
        # naming both, and production keeps serving v1.
        deploy(d, "prom/web", "development", "web:2")
        d.cli("component", "update", "prom/web", "--config", "API_KEY:secret", "--config", "CERT:file=/etc/c.pem")
        before = [r["id"] for r in releases(d, "prom/web")]
        p = run(d, "promote", "prom/web", "development", "production")
        assert_clean_error(p, "API_KEY", "CERT", "production",
                           "slipway config set prom/web production API_KEY=VALUE --secret")
        assert [r["id"] for r in releases(d, "prom/web")] == before
        assert http_get(prod) == (200, "hello v1\n")
        assert d.cli("component", "show", "prom/web")["environments"][1]["live"]["id"] == prod_rel["id"]


def test_rollback_restores_the_earlier_image(env):
        d = env
        create(d, "rb/web")
        url = ingress_url(d, "rb", "web", "development")
        # Nothing live: no rollback without --to.
        assert_clean_error(run(d, "rollback", "rb/web", "development"), "nothing", "live")
        _, r1, _ = deploy(d, "rb/web", "development", "web:1")
        # One release only: nothing before it.
        assert_clean_error(run(d, "rollback", "rb/web", "development"), "before", str(r1["id"]))
        _, r2, _ = deploy(d, "rb/web", "development", "web:2")
        assert http_get(url) == (200, "hello v2\n")

        p = run(d, "--json", "rollback", "rb/web", "development")
        assert p.returncode == 0, p.stderr
        r3 = json.loads(p.stdout)
        assert r3["status"] == "live" and r3["origin"] == "rollback" and r3["source_release_id"] == r1["id"]
        assert r3["image_digest"] == r1["image_digest"]
        assert http_get(url) == (200, "hello v1\n")
        rels = {r["id"]: r for r in releases(d, "rb/web", "development")}
        assert rels[r2["id"]]["status"] == "superseded" and rels[r3["id"]]["status"] == "live"
        assert f"rollback to #{r1['id']}" in d.cli("releases", "rb/web", json=False).stdout

        # Again: back to the one live before (release 2, v2), by default.
        p = run(d, "--json", "rollback", "rb/web", "development")
        assert p.returncode == 0, p.stderr
        r4 = json.loads(p.stdout)
        assert r4["source_release_id"] == r2["id"] and http_get(url) == (200, "hello v2\n")
        # --to a release by id.
        p = run(d, "--json", "rollback", "rb/web", "development", "--to", str(r1["id"]))
        assert p.returncode == 0, p.stderr
        assert http_get(url) == (200, "hello v1\n")

        # Refusals: nothing changes.
        before = [r["id"] for r in releases(d, "rb/web")]
        live = [r for r in releases(d, "rb/web") if r["status"] == "live"][0]
        assert_clean_error(run(d, "rollback", "rb/web", "development", "--to", "999999"), "999999")
        assert_clean_error(run(d, "rollback", "rb/web", "development", "--to", str(live["id"])), "already")
        assert_clean_error(run(d, "rollback", "rb/web", "development", "--to", "x"), "--to")
        _, prod_rel, _ = deploy(d, "rb/web", "production", "web:1")
        assert_clean_error(run(d, "rollback", "rb/web", "development", "--to", str(prod_rel["id"])),
                           "production")
        # A release of another component.
        create(d, "rb2/web")
        _, other, _ = deploy(d, "rb2/web", "development", "web:1")
        assert_clean_error(run(d, "rollback", "rb/web", "development", "--to", str(other["id"])), str(other["id"]))
        assert [r["id"] for r in releases(d, "rb/web")] == [prod_rel["id"]] + before
        assert http_get(url) == (200, "hello v1\n")


def test_keep_releases_prunes_and_gc_frees_their_image(env):
        d = env
        build_image(d, make_site(d.root / "old", "only the old release"), "web:old")
        old_digest = digests(d)[[r for r in digests(d) if r.endswith("web:old")][0]]
        create(d, "keep/web", "web:1", "--keep-releases", "2")
        _, r_old, _ = deploy(d, "keep/web", "development", "web:old")
        assert r_old["image_digest"] == old_digest
        _, r1, _ = deploy(d, "keep/web", "development", "web:1")
        # A release whose instance still drains is never pruned: wait until the old one stopped.
        assert wait_for(lambda: all(i["state"] in ("stopped", "failed")
                                    for i in release_doc(d, "keep", "web", r_old["id"])["instances"]), 60)
        # The old image's tag goes; a kept release still holds it: gc leaves it.
        d.cli("image", "rm", "web:old")
        blobs = d.blob_files()
        assert d.cli("image", "gc")["blobs_removed"] == 0
        assert d.blob_files() == blobs

        # A third release: only the newest two are kept; the oldest (not live) goes with its deploy log.
        _, r2, _ = deploy(d, "keep/web", "development", "web:2")
        ids = [r["id"] for r in releases(d, "keep/web", "development")]
        assert ids == [r2["id"], r1["id"]]
        status, doc = 0, None
        try:
                doc = urllib.request.urlopen(urllib.request.Request(
                        d.url + f"/api/v1/projects/keep/components/web/releases/{r_old['id']}",
                        headers={"Authorization": f"Bearer {d.token}"}), timeout=10)
        except urllib.error.HTTPError as e:
                status = e.code
        assert status == 404, doc
        # Nothing references the old image any more: gc frees its blobs; the kept releases' images stay.
        gc = d.cli("image", "gc")
        assert gc["blobs_removed"] >= 1
        assert old_digest in gc.get("blobs", []) or old_digest not in d.blob_files()
        assert old_digest not in d.blob_files()
        assert http_get(ingress_url(d, "keep", "web", "development")) == (200, "hello v2\n")
        # The kept releases can still be rolled back to.
        p = run(d, "--json", "rollback", "keep/web", "development")
        assert p.returncode == 0, p.stderr
        assert http_get(ingress_url(d, "keep", "web", "development")) == (200, "hello v1\n")


def greeting(d, project, comp, envname):
        status, body = http_get(ingress_url(d, project, comp, envname) + "cgi-bin/greeting")
        assert status == 200, (status, body)
        return body.strip()


def config_set(d, target, envname, assignment, *extra):
        d.cli("config", "set", target, envname, assignment, *extra)


def test_values_follow_releases_into_the_container(env):
        d = env
        create(d, "val/web", "greeter:1", "--config", "GREETING", "--config", "MOTD:file=/etc/app/motd")
        config_set(d, "val/web", "development", "GREETING=one")
        config_set(d, "val/web", "development", "MOTD=first", "--file", "/etc/app/motd")
        p = run(d, "--json", "deploy", "val/web", "development")
        assert p.returncode == 0, p.stderr
        r1 = json.loads(p.stdout)
        assert greeting(d, "val", "web", "development") == "greeting=one motd=first"

        # A new value changes nothing that runs until a deploy; a deploy without --image applies it to the
        # same image.
        config_set(d, "val/web", "development", "GREETING=two")
        assert greeting(d, "val", "web", "development") == "greeting=one motd=first"
        p = run(d, "--json", "deploy", "val/web", "development")
        assert p.returncode == 0, p.stderr
        r2 = json.loads(p.stdout)
        assert r2["image_digest"] == r1["image_digest"]
        assert greeting(d, "val", "web", "development") == "greeting=two motd=first"
        rels = {r["id"]: r for r in releases(d, "val/web", "development")}
        assert {(v["key"], v["version"]) for v in rels[r1["id"]]["values"]} == {("GREETING", 1), ("MOTD", 1)}
        assert {(v["key"], v["version"]) for v in rels[r2["id"]]["values"]} == {("GREETING", 2), ("MOTD", 1)}
        assert "GREETING@v2" in d.cli("releases", "val/web", "development", json=False).stdout

        # Rollback: the earlier value as it was, not the current one.
        p = run(d, "--json", "rollback", "val/web", "development")
        assert p.returncode == 0, p.stderr
        r3 = json.loads(p.stdout)
        assert greeting(d, "val", "web", "development") == "greeting=one motd=first"
        assert {(v["key"], v["version"]) for v in r3["values"]} == {("GREETING", 1), ("MOTD", 1)}

        # Promotion: the same digest with production's own values; refused while one is missing there.
        config_set(d, "val/web", "production", "GREETING=prod")
        p = run(d, "promote", "val/web", "development", "production")
        assert_clean_error(p, "MOTD", "--file /etc/app/motd")
        assert releases(d, "val/web", "production") == []
        config_set(d, "val/web", "production", "MOTD=prod motd", "--file", "/etc/app/motd")
        p = run(d, "--json", "promote", "val/web", "development")
        assert p.returncode == 0, p.stderr
        prod = json.loads(p.stdout)
        assert prod["image_digest"] == r1["image_digest"] and prod["source_release_id"] == r3["id"]
        assert greeting(d, "val", "web", "production") == "greeting=prod motd=prod motd"
        assert greeting(d, "val", "web", "development") == "greeting=one motd=first"

        # An unset required value refuses the next deploy by name; the live release keeps serving.
        d.cli("config", "unset", "val/web", "development", "GREETING")
        assert_clean_error(run(d, "deploy", "val/web", "development"), "GREETING",
                           "slipway config set val/web development GREETING=VALUE")
        assert greeting(d, "val", "web", "development") == "greeting=one motd=first"


def test_dropped_endpoint_loses_its_route(env, tmp_path):
        """A release without an endpoint the previous one had takes its routes away (they would point at the
        stopped instance and answer 502): the ingress answers 404 "no route" for it, the kept one 200."""
        d = env
        ctx = make_site(tmp_path / "two", "two ports",
                        cmd=["sh", "-c", "httpd -p 8081 -h /www; exec httpd -f -p 8080 -h /www"])
        build_image(d, ctx, "two:1")
        d.cli("project", "create", "drop")
        d.cli("component", "create", "drop/web", "--image", "two:1", "--health", "http:/healthz",
              "--endpoint", "web:8080:public", "--endpoint", "admin:8081:public")
        deploy(d, "drop/web", "development", "two:1")
        base = ingress_url(d, "drop", "web", "development")
        assert http_get(base) == (200, "two ports\n")
        assert http_get(base + "_/admin/") == (200, "two ports\n")

        d.cli("component", "update", "drop/web", "--endpoint", "web:8080:public")
        _, rel, _ = deploy(d, "drop/web", "development", "two:1")
        assert http_get(base) == (200, "two ports\n")
        status, body = http_get(base + "_/admin/")
        assert status == 404, (status, body)
        doc = release_doc(d, "drop", "web", rel["id"])
        assert any("no longer has" in l for l in doc["log"]), doc["log"]
