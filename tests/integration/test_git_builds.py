"""Issue 12: git components built by the pipeline — from a local path, `git daemon` and `git http-backend` (with
basic auth) — built once per commit, deployed to the first environment, with steps, logs and history; the
descriptor's endpoints and configurables; cancel, timeout and a killed daemon."""
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy_util import api_request, http_get, ingress_url, make_site, running_deploy_daemon, wait_for
from git_util import GitDaemon, GitHttp, GitSsh, bare_clone, commit, git

BUILD_TIMEOUT = 240


def api(d, method, path, body=None, timeout=30):
        """(status, JSON reply) of an API call with the admin token, whatever the status."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(d.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {d.token}",
                                              "Content-Type": "application/json"})
        try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                        return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")


def raw(d, path, timeout=30):
        req = urllib.request.Request(d.url + path, headers={"Authorization": f"Bearer {d.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read().decode(errors="replace"), dict(r.headers)


def site_files(text, extra=None, dockerfile_extra=""):
        """The files of make_site() (busybox httpd on 8080 serving text), for a commit."""
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"site-{os.getpid()}-{time.monotonic_ns()}"
        make_site(tmp, text)
        files = {}
        for p in tmp.rglob("*"):
                if p.is_file():
                        files[str(p.relative_to(tmp))] = p.read_bytes()
        if dockerfile_extra:
                files["Dockerfile"] = files["Dockerfile"].replace(b"COPY www /www\n",
                                                                  f"COPY www /www\n{dockerfile_extra}\n".encode())
        files.update(extra or {})
        return files


def wait_build(d, bid, timeout=BUILD_TIMEOUT, until=("succeeded", "failed", "cancelled")):
        deadline = time.monotonic() + timeout
        while True:
                st, b = api(d, "GET", f"/api/v1/builds/{bid}")
                assert st == 200, b
                if b["status"] in until:
                        return b
                assert time.monotonic() < deadline, f"build {bid} still {b['status']}:\n" + \
                        raw(d, f"/api/v1/builds/{bid}/logs")[0][-3000:] + f"\n--- slipwayd:\n{d.log()[-3000:]}"
                time.sleep(0.2)


def steps(b):
        return {s["name"]: s["status"] for s in b["steps"]}


def git_component(d, target, url, **extra):
        project, name = target.split("/")
        api(d, "POST", "/api/v1/projects", {"name": project})
        st, doc = api(d, "POST", f"/api/v1/projects/{project}/components", {"name": name, "git": str(url), **extra})
        assert st == 201, doc
        return doc


def build(d, target, expect=202, **body):
        project, name = target.split("/")
        st, doc = api(d, "POST", f"/api/v1/projects/{project}/components/{name}/builds", body)
        assert st == expect, doc
        return doc


@pytest.fixture(scope="module")
def gd(build_dir, tmp_path_factory, images):
        state = tmp_path_factory.mktemp("git-builds") / "state"
        with running_deploy_daemon(build_dir, state, images, ports=8,
                                   extra_args=("--build-timeout", "90s")) as d:
                yield d


def test_local_repository_is_built_once_per_commit_and_deployed(gd, tmp_path):
        repo = tmp_path / "site"
        sha1 = commit(repo, site_files("version one"), "first version")
        comp = git_component(gd, "gitp/web", repo, endpoints=["web:8080"], health="http:/healthz")
        assert comp["source"]["url"] == str(repo) and comp["source"]["branch"] == "main"
        assert comp["autobuild"] is False and comp["autodeploy"] is False

        b = build(gd, "gitp/web", deploy=True)
        assert b["status"] in ("queued", "running") and b["commit"] == sha1 and b["trigger"] == "manual"
        assert b["commit_subject"] == "first version" and "Ada Tester" in b["commit_author"]
        b = wait_build(gd, b["id"])
        assert b["status"] == "succeeded", b
        assert steps(b) == {"fetch": "succeeded", "checkout": "succeeded", "descriptor": "succeeded",
                            "image": "succeeded", "scan": "succeeded", "store": "succeeded", "push": "skipped",
                            "update": "succeeded", "deploy": "succeeded"}
        # The scan step keeps the image's SBOM with the build (no vulnerability database is imported here).
        scan = [s["message"] for s in b["steps"] if s["name"] == "scan"][0]
        assert scan.startswith("SBOM: ") and "no vulnerability database" in scan, scan
        bom = gd.cli("build", "sbom", str(b["id"]))
        assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
        assert bom["metadata"]["component"]["name"] == b["image_ref"]
        assert b["image_ref"].startswith("gitp/web:") and sha1.startswith(b["image_ref"].split(":")[1])
        assert b["release_id"]
        assert http_get(ingress_url(gd, "gitp", "web", "development"))[1].strip() == "version one"
        # The image is in the store under its tag, labelled with the commit and repository it came from.
        assert any(r == b["image_ref"] for r in gd.image_refs())
        labels = gd.cli("image", "inspect", b["image_ref"])["config"]["config"]["Labels"]
        assert labels["org.opencontainers.image.revision"] == sha1, labels
        assert labels["org.opencontainers.image.source"] == str(repo), labels

        # Same commit again: the same build, answered from the database.
        again = build(gd, "gitp/web", expect=200, commit=sha1)
        assert again["id"] == b["id"] and again["existing"] is True
        again = build(gd, "gitp/web", expect=200)  # the branch's head is that commit
        assert again["id"] == b["id"]

        # Logs: the whole build, one step, and from an offset.
        text, headers = raw(gd, f"/api/v1/builds/{b['id']}/logs")
        assert "=== step 1/9: fetch" in text and "=== step 9/9: deploy" in text and "succeeded" in text
        assert int(headers["X-Slipway-Log-Offset"]) == len(text.encode())
        step_text, _ = raw(gd, f"/api/v1/builds/{b['id']}/logs?step=image")
        assert "fetch" not in step_text.split("\n")[0] and step_text
        tail, _ = raw(gd, f"/api/v1/builds/{b['id']}/logs?offset={len(text.encode()) - 20}")
        assert tail == text.encode()[-20:].decode(errors="replace")

        # A new commit: a new build, and the environment answers the new text.
        sha2 = commit(repo, site_files("version two"), "second version")
        b2 = wait_build(gd, build(gd, "gitp/web", deploy=True)["id"])
        assert b2["status"] == "succeeded" and b2["commit"] == sha2 and b2["id"] != b["id"]
        assert http_get(ingress_url(gd, "gitp", "web", "development"))[1].strip() == "version two"

        st, hist = api(gd, "GET", "/api/v1/projects/gitp/components/web/builds")
        assert st == 200 and [h["id"] for h in hist["builds"]] == [b2["id"], b["id"]]
        assert all(h["duration_sec"] is not None for h in hist["builds"])

        # The earlier build's image goes to production unchanged with --build.
        st, rel = api(gd, "POST", "/api/v1/projects/gitp/components/web/deploy",
                      {"env": "production", "build": b["id"]})
        assert st == 202 and rel["image_digest"] == b["image_digest"], rel
        # Logs survive a daemon restart.
        gd.stop()
        gd.start()
        text2, _ = raw(gd, f"/api/v1/builds/{b['id']}/logs")
        assert text2 == text


def test_descriptor_endpoints_configurables_and_schema(gd, tmp_path):
        repo = tmp_path / "greeter"
        descriptor = """schemaVersion: "1.2"
endpoints:
  - name: greeter
    displayName: Greeter API
    service:
      port: 8080
      basePath: /
    type: REST
    networkVisibilities: [Public]
    schemaFilePath: openapi.yaml
configurations:
  env:
    - name: GREETING
      valueFrom:
        configForm:
          displayName: Greeting
          required: true
x-slipway:
  health:
    readiness: http:/healthz
"""
        files = site_files("greeter", {".choreo/component.yaml": descriptor,
                                       "openapi.yaml": "openapi: 3.0.0\ninfo: {title: greeter}\n"})
        sha = commit(repo, files, "greeter with a descriptor")
        git_component(gd, "descp/greeter", repo)
        b = wait_build(gd, build(gd, "descp/greeter", deploy=True)["id"])
        # The configurable is required and not set in development: the deploy step fails and names it; the
        # image is built and stays usable.
        assert b["status"] == "failed", b
        assert steps(b)["deploy"] == "failed" and steps(b)["image"] == "succeeded"
        assert "GREETING" in b["reason"], b["reason"]
        assert b["image_digest"] and b["commit"] == sha
        st, comp = api(gd, "GET", "/api/v1/projects/descp/components/greeter")
        assert [e["name"] for e in comp["spec"]["endpoints"]] == ["greeter"]
        assert comp["spec"]["endpoints"][0]["port"] == 8080
        assert [c["name"] for c in comp["spec"]["configs"]] == ["GREETING"]
        assert comp["latest_build"]["id"] == b["id"]
        # The endpoint's schema is kept with the build, the descriptor's content shown with it.
        schema, _ = raw(gd, f"/api/v1/builds/{b['id']}/schemas/greeter")
        assert schema.startswith("openapi: 3.0.0")
        st, shown = api(gd, "GET", f"/api/v1/builds/{b['id']}")
        assert shown["descriptor"]["endpoints"][0]["name"] == "greeter"
        assert shown["descriptor"]["configurations"][0]["name"] == "GREETING"
        st, err = api(gd, "GET", f"/api/v1/builds/{b['id']}/schemas/nothere")
        assert st == 404
        # Once the value is set, a deploy without --image takes the built image.
        gd.cli("config", "set", "descp/greeter", "development", "GREETING=hello")
        st, rel = api(gd, "POST", "/api/v1/projects/descp/components/greeter/deploy", {"env": "development"})
        assert st == 202 and rel["image_digest"] == b["image_digest"], rel
        wait_for(lambda: api(gd, "GET", f"/api/v1/projects/descp/components/greeter/releases/{rel['id']}")[1]
                 ["status"] == "live", timeout=120)


def test_bad_descriptor_fails_with_file_line_and_column(gd, tmp_path):
        repo = tmp_path / "bad"
        commit(repo, site_files("bad", {".choreo/component.yaml": "schemaVersion: \"1.2\"\nendpoints:\n  - name: x\n"
                                                                  "    bogus: 1\n"}))
        git_component(gd, "badp/web", repo)
        b = wait_build(gd, build(gd, "badp/web")["id"])
        assert b["status"] == "failed" and steps(b)["descriptor"] == "failed"
        assert ".choreo/component.yaml:4:" in b["reason"], b["reason"]
        assert steps(b)["image"] == "skipped"


def test_git_daemon_and_http_with_basic_auth(gd, tmp_path):
        work = tmp_path / "work"
        sha = commit(work, site_files("served"), "served over the network")
        served = tmp_path / "served"
        bare_clone(work, served / "site.git")
        daemon = GitDaemon(served)
        http = GitHttp(served, tmp_path / "nginx", user="ci", password="s3cret-token")
        try:
                git_component(gd, "netp/viagit", daemon.url("site.git"))
                b = wait_build(gd, build(gd, "netp/viagit")["id"])
                assert b["status"] == "succeeded" and b["commit"] == sha, b

                # http with basic auth: the wrong token is refused (and never printed), the right one works.
                url = f"http://ci@127.0.0.1:{http.port}/git/site.git"
                git_component(gd, "netp/viahttp", url, git_token="wrong-token")
                st, err = api(gd, "POST", "/api/v1/projects/netp/components/viahttp/builds", {})
                assert st in (401, 403, 502) and "wrong-token" not in json.dumps(err), err
                gd.cli("component", "update", "netp/viahttp", "--git-token-stdin", input="s3cret-token\n")
                b = wait_build(gd, build(gd, "netp/viahttp")["id"])
                assert b["status"] == "succeeded" and b["commit"] == sha, b
                text, _ = raw(gd, f"/api/v1/builds/{b['id']}/logs")
                assert "s3cret-token" not in text
        finally:
                daemon.stop()
                http.stop()


def test_refusals(gd, tmp_path):
        repo = tmp_path / "r"
        commit(repo, {"README": "no Dockerfile here\n"})
        api(gd, "POST", "/api/v1/projects", {"name": "refp"})
        base = "/api/v1/projects/refp/components"
        for body, words in [({"name": "a", "git": "relative/path"}, "absolute path"),
                            ({"name": "a", "git": str(tmp_path / "missing")}, "no git repository"),
                            ({"name": "a", "git": str(repo), "image": "busybox:1"}, "not both"),
                            ({"name": "a", "branch": "main"}, "go with --git"),
                            ({"name": "a", "git": str(repo), "dir": "../up"}, "--dir"),
                            ({"name": "a", "git": str(repo), "branch": "bad..name"}, "branch"),
                            ({"name": "a", "git": str(repo), "poll_sec": 1}, "--poll")]:
                st, err = api(gd, "POST", base, body)
                assert st == 400 and words in err["error"], (body, err)
        git_component(gd, "refp/web", repo)
        st, err = api(gd, "POST", f"{base}/web/builds", {"branch": "nope"})
        assert st == 404 and "nope" in err["error"], err
        st, err = api(gd, "POST", f"{base}/web/builds", {"commit": "0123456789abcdef"})
        assert st == 404, err
        st, err = api(gd, "POST", f"{base}/web/builds", {"commit": "xyz"})
        assert st == 400, err
        st, err = api(gd, "POST", f"{base}/web/builds", {"commit": "abcd1234", "branch": "main"})
        assert st == 400, err
        # An unreachable server: one sentence naming it, nothing queued.
        git_component(gd, "refp/gone", "git://127.0.0.1:9/nothing.git")
        st, err = api(gd, "POST", f"{base}/gone/builds", {})
        assert st == 502 and "Cannot reach" in err["error"] and "127.0.0.1:9" in err["error"], err
        assert api(gd, "GET", f"{base}/gone/builds")[1]["builds"] == []
        b = wait_build(gd, build(gd, "refp/web")["id"])
        assert b["status"] == "failed" and "no Dockerfile" in b["reason"] and steps(b)["image"] == "failed", b
        # An image component is not built from git.
        gd.cli("component", "create", "refp/img", "--image", "busybox:1")
        st, err = api(gd, "POST", f"{base}/img/builds", {})
        assert st == 400 and "not built from git" in err["error"]
        st, err = api(gd, "GET", "/api/v1/builds/999999")
        assert st == 404
        st, err = api(gd, "DELETE", f"/api/v1/builds/{b['id']}")
        assert st == 409


def no_build_leftovers(d, b):
        work = Path(d.state_dir) / "builds" / str(b["id"]) / "work"
        assert not work.exists(), f"{work} was left behind"
        if b.get("image_ref"):
                return
        tag = f"{b['project']}/{b['component']}:{b['commit'][:7]}" if b.get("commit") else None
        assert not tag or not any(r.startswith(tag) for r in d.image_refs()), f"{tag} was left tagged"


def test_cancel_and_timeout(gd, tmp_path):
        repo = tmp_path / "slow"
        commit(repo, site_files("slow", dockerfile_extra="RUN sleep 300"))
        git_component(gd, "slowp/web", repo)
        b = build(gd, "slowp/web")
        wait_for(lambda: steps(api(gd, "GET", f"/api/v1/builds/{b['id']}")[1])["image"] == "running", timeout=60)
        # A follower of the live log sees it to the end, exactly as it is kept.
        follower = subprocess.Popen(gd.cli_argv("build", "logs", str(b["id"]), "--follow", json=False),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1)
        t0 = time.monotonic()
        st, doc = api(gd, "DELETE", f"/api/v1/builds/{b['id']}")
        assert st == 202 and doc["cancel_requested"], doc
        b = wait_build(gd, b["id"], timeout=30)
        assert b["status"] == "cancelled" and time.monotonic() - t0 < 20, b
        assert steps(b)["image"] == "cancelled"
        out, _ = follower.communicate(timeout=30)
        assert follower.returncode == 0  # the logs were shown (build --follow is the one exiting 1)
        assert out.decode() == raw(gd, f"/api/v1/builds/{b['id']}/logs")[0]
        assert "=== build" in out.decode() and "cancelled" in out.decode()
        assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmd(p).startswith("sleep 300")]
        no_build_leftovers(gd, b)

        # A queued build cancelled before it starts: never runs.
        first = build(gd, "slowp/web")
        commit(repo, {"other": "x"})
        second = build(gd, "slowp/web")
        st, doc = api(gd, "DELETE", f"/api/v1/builds/{second['id']}")
        assert st == 202 and doc["status"] == "cancelled", doc
        # The first runs into the daemon's 90 s timeout and fails saying so.
        b = wait_build(gd, first["id"], timeout=200)
        assert b["status"] == "failed" and "timeout" in b["reason"], b
        no_build_leftovers(gd, b)
        assert api(gd, "GET", f"/api/v1/builds/{second['id']}")[1]["started_at"] is None


def _cmd(pid):
        try:
                return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
                return ""


def test_kill9_during_a_build_is_recovered(build_dir, tmp_path, images):
        with running_deploy_daemon(build_dir, tmp_path / "state", images, ports=4) as d:
                slow, quick = tmp_path / "slow", tmp_path / "quick"
                commit(slow, site_files("slow", dockerfile_extra="RUN sleep 300"))
                commit(quick, site_files("quick"))
                git_component(d, "killp/slow", slow)
                git_component(d, "killp/quick", quick)
                b = build(d, "killp/slow")
                wait_for(lambda: steps(api(d, "GET", f"/api/v1/builds/{b['id']}")[1])["image"] == "running",
                         timeout=60)
                q = build(d, "killp/quick")  # queued behind it (one build at a time)
                assert q["status"] == "queued"
                os.kill(d.pid, signal.SIGKILL)
                d.proc.wait()
                d.start()
                b = wait_build(d, b["id"], timeout=30)
                assert b["status"] == "failed" and "slipwayd stopped" in b["reason"] and "image" in b["reason"], b
                no_build_leftovers(d, b)
                q = wait_build(d, q["id"])
                assert q["status"] == "succeeded", q
                # Asked again, the interrupted commit builds anew.
                again = build(d, "killp/slow")
                assert again["id"] != b["id"]
                api(d, "DELETE", f"/api/v1/builds/{again['id']}")


def test_poll_builds_new_commits(gd, tmp_path):
        repo = tmp_path / "polled"
        sha1 = commit(repo, site_files("polled one"))
        git_component(gd, "pollp/web", repo, poll_sec=10)

        def builds():
                return api(gd, "GET", "/api/v1/projects/pollp/components/web/builds")[1]["builds"]

        first = wait_for(lambda: [b for b in builds() if b["commit"] == sha1], timeout=40)
        assert first and first[0]["trigger"] == "poll" and first[0]["requested_by"] == "poll"
        wait_build(gd, first[0]["id"])
        sha2 = commit(repo, site_files("polled two"))
        second = wait_for(lambda: [b for b in builds() if b["commit"] == sha2], timeout=40)
        assert second and second[0]["trigger"] == "poll"
        wait_build(gd, second[0]["id"])
        time.sleep(12)  # another poll: nothing new, nothing queued
        assert len(builds()) == 2


def test_builds_are_kept_as_many_as_set(gd, tmp_path):
        repo = tmp_path / "kept"
        commit(repo, site_files("kept 0"))
        git_component(gd, "keepp/web", repo, builds_keep=2)
        ids = []
        for i in range(3):
                if i:
                        commit(repo, site_files(f"kept {i}"))
                ids.append(wait_build(gd, build(gd, "keepp/web")["id"])["id"])
        st, hist = api(gd, "GET", "/api/v1/projects/keepp/components/web/builds")
        assert [h["id"] for h in hist["builds"]] == ids[:0:-1], hist
        assert not (Path(gd.state_dir) / "builds" / str(ids[0])).exists(), "the pruned build's logs stayed"
        assert api(gd, "GET", f"/api/v1/builds/{ids[0]}")[0] == 404


def github_push(d, target, sha, branch="main"):
        """A signed GitHub push delivery of sha to target's webhook: the build it queued."""
        project, name = target.split("/")
        st, hook = api(d, "GET", f"/api/v1/projects/{project}/components/{name}/webhook")
        assert st == 200, hook
        body = json.dumps({"ref": f"refs/heads/{branch}", "before": "0" * 40, "after": sha, "created": False,
                           "deleted": False, "forced": False,
                           "repository": {"full_name": target, "clone_url": "http://example.invalid/x.git",
                                          "html_url": "http://example.invalid/x"},
                           "pusher": {"name": "ada", "email": "ada@example.test"},
                           "head_commit": {"id": sha, "message": "pushed", "author": {"name": "Ada", "email": "a@x"}}
                           }).encode()
        sig = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(d.url + hook["url"][hook["url"].index("/hooks/"):], data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-GitHub-Event": "push",
                                              "X-GitHub-Delivery": f"kill-{time.monotonic_ns()}",
                                              "X-Hub-Signature-256": sig})
        with urllib.request.urlopen(req, timeout=10) as r:
                doc = json.loads(r.read())
        assert doc.get("built"), doc
        return doc["build"]


def test_kill9_during_a_fetch_is_recovered(build_dir, tmp_path, images):
        """A push delivery queues a commit the mirror lacks, so the fetch step fetches it from a slow http server;
        slipwayd is killed under it: the build is failed naming the fetch, its workspace is gone, and the same
        mirror then fetches and builds from a server that answers at full speed."""
        work = tmp_path / "work"
        sha = commit(work, site_files("big", {"blob.bin": os.urandom(2 * 1024 * 1024)}), "a big commit")
        served = tmp_path / "served"
        bare_clone(work, served / "big.git")
        slow = GitHttp(served, tmp_path / "nginx-slow", rate="64k")
        fast = None
        try:
                with running_deploy_daemon(build_dir, tmp_path / "state", images, ports=4) as d:
                        project = "/api/v1/projects/fetchp/components/web"
                        git_component(d, "fetchp/web", f"http://127.0.0.1:{slow.port}/git/big.git")
                        assert api(d, "PUT", f"{project}/autobuild", {"on": True})[0] == 200
                        bid = github_push(d, "fetchp/web", sha)
                        assert wait_for(lambda: steps(api(d, "GET", f"/api/v1/builds/{bid}")[1])["fetch"] == "running",
                                        timeout=30)
                        time.sleep(2)
                        os.kill(d.pid, signal.SIGKILL)
                        d.proc.wait()
                        d.start()
                        b = wait_build(d, bid, timeout=30)
                        assert b["status"] == "failed" and "fetch" in b["reason"] and "slipwayd" in b["reason"], b
                        no_build_leftovers(d, b)
                        # The same URL, now answering at full speed: the mirror the killed fetch left is reused.
                        slow.stop()
                        fast = GitHttp(served, tmp_path / "nginx-fast", port=slow.port)
                        b = wait_build(d, build(d, "fetchp/web", commit=sha)["id"])
                        assert b["status"] == "succeeded" and b["commit"] == sha, b
        finally:
                slow.stop()
                if fast:
                        fast.stop()


def test_ssh_deploy_key_and_pinned_host_key(gd, tmp_path):
        work = tmp_path / "work"
        sha = commit(work, site_files("over ssh"), "served over ssh")
        repo = bare_clone(work, tmp_path / "served" / "site.git")
        key = GitSsh.keygen(tmp_path / "deploy_key")
        other = GitSsh.keygen(tmp_path / "other_key")
        ssh = GitSsh(tmp_path / "sshd", [f"{key}.pub"])
        try:
                # A key the server does not know is refused, and no key of any kind is printed.
                git_component(gd, "sshp/web", ssh.url(repo), ssh_key=other.read_text())
                st, err = api(gd, "POST", "/api/v1/projects/sshp/components/web/builds", {})
                assert st == 502 and "refused" in err["error"], err
                assert "PRIVATE" not in json.dumps(err)
                # The deploy key works; the server's host key is pinned at that first fetch.
                gd.cli("component", "update", "sshp/web", "--ssh-key-file", key)
                b = wait_build(gd, build(gd, "sshp/web")["id"])
                assert b["status"] == "succeeded" and b["commit"] == sha, b
                assert api(gd, "GET", "/api/v1/projects/sshp/components/web")[1]["ssh_host_key"] == ssh.host_key
                text, _ = raw(gd, f"/api/v1/builds/{b['id']}/logs")
                assert "PRIVATE KEY" not in text
                port = ssh.port
        finally:
                ssh.stop()
        # Another server at that address, with another host key: refused until the pin is reset.
        impostor = GitSsh(tmp_path / "sshd2", [f"{key}.pub"], port=port)
        try:
                commit(work, {"new": "x"})
                subprocess_push(work, repo)
                st, err = api(gd, "POST", "/api/v1/projects/sshp/components/web/builds", {})
                assert st in (403, 502) and "host key" in err["error"] and "pinned" in err["error"], err
                gd.cli("component", "update", "sshp/web", "--ssh-host-key-reset")
                b = wait_build(gd, build(gd, "sshp/web")["id"])
                assert b["status"] == "succeeded", b
                assert api(gd, "GET", "/api/v1/projects/sshp/components/web")[1]["ssh_host_key"] == impostor.host_key
        finally:
                impostor.stop()
        # A private key in the wrong shape is refused with a sentence, nothing changed.
        st, err = api(gd, "PATCH", "/api/v1/projects/sshp/components/web", {"ssh_key": "ssh-ed25519 AAAA"})
        assert st == 400 and "private key" in err["error"], err


def subprocess_push(src, dest):
        git(src, "push", "-q", str(dest), "main:main")
