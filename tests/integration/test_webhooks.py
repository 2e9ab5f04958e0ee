"""Git webhooks, sent to a real slipwayd exactly as GitHub, Gitea and GitLab send them: POST /hooks/git/<id>
needs no admin token but a valid signature (or GitLab token) made with the component's secret; an unsigned
or wrongly signed delivery is 401, an unknown id 404, a body over 4 MiB 413; a ping is 200; a push to
another branch, a tag, a deleted branch or a push while autobuild is off is accepted (202) and builds
nothing; a push to the component's branch queues one build of the pushed commit, and the same delivery
again builds nothing more.  Every answer comes well under 100 ms: the handler does no git work."""

import hashlib
import hmac
import json
import socket
import time
import uuid

import pytest
import requests

from deploy_util import http_get, ingress_url, make_site, running_deploy_daemon, wait_for
from git_util import commit

HOOK_BODY_MAX = 4 * 1024 * 1024
FAST = 0.1  # seconds: a git server gives up after 10 s; Slipway answers before it fetches anything
ZERO = "0" * 40


def api(d, method, path, **kw):
        r = requests.request(method, f"{d.url}/api/v1/{path}", headers={"Authorization": f"Bearer {d.token}"},
                             timeout=20, **kw)
        try:
                return r.status_code, r.json()
        except ValueError:
                return r.status_code, r.text


def deliver(d, hook_id, headers, body):
        """(status, JSON reply) of one delivery, asserting it was answered fast."""
        if isinstance(body, dict):
                body = json.dumps(body).encode()
        start = time.monotonic()
        r = requests.post(f"{d.url}/hooks/git/{hook_id}", data=body, headers=headers, timeout=20)
        took = time.monotonic() - start
        assert took < FAST, f"the hook took {took * 1000:.0f} ms to answer {r.status_code} {r.text}"
        return r.status_code, r.json()


def raw_post(d, path, head, body, chunked=False):
        """Status and JSON reply of a POST written by hand (for bodies the server refuses before reading
        them: it answers and closes, so the rest of the body may meet a reset, which is not an error)."""
        host, port = d.api.rsplit(":", 1)
        lines = [f"POST {path} HTTP/1.1", f"Host: {d.api}", "Content-Type: application/json", *head]
        lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
        if chunked:
                piece = 64 * 1024
                body = b"".join(b"%x\r\n" % len(body[i:i + piece]) + body[i:i + piece] + b"\r\n"
                                for i in range(0, len(body), piece)) + b"0\r\n\r\n"
        data = b""
        with socket.create_connection((host, int(port)), timeout=20) as s:
                try:
                        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                        s.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                        pass
                try:
                        while chunk := s.recv(65536):
                                data += chunk
                except ConnectionResetError:
                        pass
        assert data, f"POST {path}: no answer\n{d.log()[-1500:]}"
        status = int(data.split(b"\r\n", 1)[0].split()[1])
        return status, json.loads(data.partition(b"\r\n\r\n")[2])


# --- deliveries as each git server sends them ------------------------------------------------------------

def github_body(ref, after, before="1" * 40, message="Fix the thing\n\nLonger text."):
        return json.dumps({
                "ref": ref, "before": before, "after": after, "created": before == ZERO,
                "deleted": after == ZERO, "forced": False,
                "repository": {"id": 1, "name": "web", "full_name": "acme/web",
                               "clone_url": "https://github.example/acme/web.git",
                               "html_url": "https://github.example/acme/web",
                               "ssh_url": "git@github.example:acme/web.git"},
                "pusher": {"name": "ada", "email": "ada@example.test"},
                "head_commit": None if after == ZERO else {
                        "id": after, "message": message, "timestamp": "2024-05-01T10:00:00Z",
                        "author": {"name": "Ada Tester", "email": "ada@example.test"}},
                "commits": [],
        }).encode()


def github_headers(secret, body, event="push", delivery=None, sign=True):
        h = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
             "X-GitHub-Hook-ID": "42", "User-Agent": "GitHub-Hookshot/5d2a0f1", "Content-Type": "application/json"}
        if sign:
                h["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                h["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        return h


def gitea_body(ref, after, before="1" * 40):
        return json.dumps({
                "ref": ref, "before": before, "after": after, "compare_url": "",
                "commits": [{"id": after, "message": "Gitea change\n",
                             "author": {"name": "Ada Tester", "email": "ada@example.test", "username": "ada"}}],
                "head_commit": {"id": after, "message": "Gitea change\n",
                                "author": {"name": "Ada Tester", "email": "ada@example.test"}},
                "repository": {"id": 3, "name": "web", "full_name": "acme/web",
                               "clone_url": "https://gitea.example/acme/web.git",
                               "html_url": "https://gitea.example/acme/web",
                               "ssh_url": "git@gitea.example:acme/web.git"},
                "pusher": {"id": 1, "login": "ada", "email": "ada@example.test"},
                "sender": {"id": 1, "login": "ada"},
        }).encode()


def gitea_headers(secret, body, delivery=None):
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        delivery = delivery or str(uuid.uuid4())
        # Gitea also sends GitHub's and Gogs' headers; its own must win.
        return {"X-Gitea-Event": "push", "X-Gitea-Event-Type": "push", "X-Gitea-Delivery": delivery,
                "X-Gitea-Signature": sig, "X-Gogs-Event": "push", "X-Gogs-Delivery": delivery,
                "X-Gogs-Signature": sig, "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": "sha256=" + sig, "Content-Type": "application/json"}


def gitlab_body(ref, after, before="1" * 40, kind="push"):
        return json.dumps({
                "object_kind": kind, "event_name": kind, "ref": ref, "before": before, "after": after,
                "checkout_sha": None if after == ZERO else after, "user_id": 4, "user_name": "Ada Tester",
                "user_username": "ada", "user_email": "", "project_id": 15,
                "project": {"id": 15, "name": "web", "path_with_namespace": "acme/web",
                            "git_http_url": "https://gitlab.example/acme/web.git",
                            "git_ssh_url": "git@gitlab.example:acme/web.git",
                            "web_url": "https://gitlab.example/acme/web"},
                "commits": [] if after == ZERO else [
                        {"id": after, "message": "GitLab change\n", "timestamp": "2024-05-01T10:00:00+00:00",
                         "author": {"name": "Ada Tester", "email": "ada@example.test"}}],
                "total_commits_count": 0 if after == ZERO else 1,
        }).encode()


def gitlab_headers(token, event="Push Hook", delivery=None):
        delivery = delivery or str(uuid.uuid4())
        return {"X-Gitlab-Event": event, "X-Gitlab-Token": token, "X-Gitlab-Event-UUID": delivery,
                "X-Gitlab-Webhook-UUID": str(uuid.uuid4()), "Idempotency-Key": delivery,
                "User-Agent": "GitLab/17.0.0", "Content-Type": "application/json"}


# --- fixtures --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hooks(module_daemon):
        """The module's daemon with a project 'hooks' and an image component 'img' in it."""
        d = module_daemon
        d.cli("project", "create", "hooks")
        d.cli("component", "create", "hooks/img", "--image", "busybox:1", "--endpoint", "http:8080")
        return d


@pytest.fixture(scope="module")
def git_component(hooks, tmp_path_factory):
        """(daemon, webhook reply, commit id, repository) for hooks/web, built from a local repository's main branch."""
        d = hooks
        repo = tmp_path_factory.mktemp("hooks-repo") / "web"
        sha = commit(repo, {"Dockerfile": "FROM busybox:1\nCMD [\"true\"]\n"}, "first")
        st, reply = api(d, "POST", "projects/hooks/components", json={"name": "web", "git": str(repo),
                                                                      "branch": "main"})
        assert st in (200, 201), (st, reply)
        st, hook = api(d, "GET", "projects/hooks/components/web/webhook")
        assert st == 200, (st, hook)
        return d, hook, sha, repo


# --- without a git component -----------------------------------------------------------------------------

def test_unknown_id_is_404_without_a_token(hooks):
        body = github_body("refs/heads/main", "a" * 40)
        st, reply = deliver(hooks, "0" * 64, github_headers("whatever", body), body)
        assert st == 404 and reply["error"] == "No webhook with this id.", reply
        assert "webhook show" in reply["hint"]


def test_declared_body_over_4_mib_is_413_before_it_is_read(hooks):
        # A Content-Length past the limit is refused before a byte is read (and before the id is looked up).
        host, port = hooks.api.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=20) as s:
                s.sendall((f"POST /hooks/git/{'0' * 64} HTTP/1.1\r\nHost: {hooks.api}\r\n"
                           f"X-GitHub-Event: push\r\nContent-Length: {HOOK_BODY_MAX + 1}\r\n\r\n").encode())
                s.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := s.recv(65536):
                        data += chunk
        assert data.startswith(b"HTTP/1.1 413"), data[:200]
        reply = json.loads(data.partition(b"\r\n\r\n")[2])
        assert reply["error"] == "The webhook delivery is larger than 4 MiB, the most Slipway accepts.", reply


def test_webhook_of_an_image_component_is_refused(hooks):
        st, reply = api(hooks, "GET", "projects/hooks/components/img/webhook")
        assert st == 400 and reply["error"].startswith("hooks/img is not built from git;"), reply
        assert reply["hint"]
        st, reply = api(hooks, "PUT", "projects/hooks/components/img/autobuild", json={"on": True})
        assert st == 400 and "not built from git" in reply["error"], reply
        st, reply = api(hooks, "GET", "projects/hooks/components/nope/webhook")
        assert st == 404, reply


def test_the_webhook_api_needs_the_token(hooks):
        r = requests.get(f"{hooks.url}/api/v1/projects/hooks/components/img/webhook", timeout=20)
        assert r.status_code == 401, r.text


# --- with a git component --------------------------------------------------------------------------------

def test_webhook_show_is_stable_and_rotate_changes_only_the_secret(git_component):
        d, hook, _, _ = git_component
        assert len(hook["id"]) == 64 and len(hook["secret"]) == 64 and hook["id"] != hook["secret"]
        assert hook["url"] == f"{d.url}/hooks/git/{hook['id']}"
        assert hook["project"] == "hooks" and hook["component"] == "web" and hook["autobuild"] is False
        st, again = api(d, "GET", "projects/hooks/components/web/webhook")
        assert st == 200 and again == hook, again


def test_unsigned_and_badly_signed_deliveries_are_401(git_component):
        d, hook, sha, _ = git_component
        body = github_body("refs/heads/main", sha)
        st, reply = deliver(d, hook["id"], github_headers(hook["secret"], body, sign=False), body)
        assert st == 401, reply
        st, reply = deliver(d, hook["id"], github_headers("not the secret", body), body)
        assert st == 401, reply
        # Signed right, then changed on the way.
        st, reply = deliver(d, hook["id"], github_headers(hook["secret"], body), body.replace(b"ada", b"eve"))
        assert st == 401, reply
        st, reply = deliver(d, hook["id"], gitlab_headers("not the secret"), gitlab_body("refs/heads/main", sha))
        assert st == 401, reply
        body = gitea_body("refs/heads/main", sha)
        h = gitea_headers("not the secret", body)
        st, reply = deliver(d, hook["id"], h, body)
        assert st == 401, reply


def test_no_provider_and_bad_payload_are_400(git_component):
        d, hook, sha, _ = git_component
        st, reply = deliver(d, hook["id"], {"Content-Type": "application/json"}, b"{}")
        assert st == 400 and reply["error"], reply
        body = b'{"ref": 5}'
        st, reply = deliver(d, hook["id"], github_headers(hook["secret"], body), body)
        assert st == 400 and "ref" in reply["error"], reply


def test_chunked_body_over_4_mib_is_413(git_component):
        d, hook, _, _ = git_component
        st, reply = raw_post(d, f"/hooks/git/{hook['id']}", ["X-GitHub-Event: push"],
                             b"x" * (HOOK_BODY_MAX + 1), chunked=True)
        assert st == 413 and "4 MiB" in reply["error"], reply


def test_ping_and_other_events(git_component):
        d, hook, _, _ = git_component
        body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 42,
                           "hook": {"type": "Repository", "events": ["push"]},
                           "repository": {"full_name": "acme/web"}}).encode()
        st, reply = deliver(d, hook["id"], github_headers(hook["secret"], body, event="ping"), body)
        assert st == 200 and reply == {"ok": True, "event": "ping"}, reply
        body = b'{"action": "opened"}'
        st, reply = deliver(d, hook["id"], github_headers(hook["secret"], body, event="issues"), body)
        assert st == 202 and reply["built"] is False and "issues" in reply["reason"], reply


def test_pushes_that_do_not_build(git_component):
        d, hook, sha, _ = git_component
        s = hook["secret"]
        # autobuild is off for a new component
        body = github_body("refs/heads/main", sha)
        st, reply = deliver(d, hook["id"], github_headers(s, body), body)
        assert st == 202 and reply["built"] is False, reply
        assert reply["reason"] == "autobuild is off for hooks/web; run 'slipway autobuild hooks/web on'.", reply
        st, sw = api(d, "PUT", "projects/hooks/components/web/autobuild", json={"on": True})
        assert st == 200 and sw == {"project": "hooks", "component": "web", "autobuild": True,
                                    "autodeploy": False}, sw
        st, bad = api(d, "PUT", "projects/hooks/components/web/autodeploy", json={"on": "yes"})
        assert st == 400, bad

        body = github_body("refs/heads/feature-x", sha)
        st, reply = deliver(d, hook["id"], github_headers(s, body), body)
        assert st == 202 and reply["built"] is False and "feature-x" in reply["reason"], reply
        body = github_body("refs/tags/v1.0", sha)
        st, reply = deliver(d, hook["id"], github_headers(s, body), body)
        assert st == 202 and reply["built"] is False and "v1.0" in reply["reason"], reply
        body = github_body("refs/heads/main", ZERO, before=sha)
        st, reply = deliver(d, hook["id"], github_headers(s, body), body)
        assert st == 202 and reply["built"] is False and "deleted" in reply["reason"], reply
        body = gitlab_body("refs/tags/v1.0", sha, kind="tag_push")
        st, reply = deliver(d, hook["id"], gitlab_headers(s, event="Tag Push Hook"), body)
        assert st == 202 and reply["built"] is False and "v1.0" in reply["reason"], reply


def test_push_builds_once_per_delivery_and_commit(git_component):
        d, hook, sha, _ = git_component
        s = hook["secret"]
        st, _ = api(d, "PUT", "projects/hooks/components/web/autobuild", json={"on": True})
        assert st == 200
        body = github_body("refs/heads/main", sha)
        delivery = str(uuid.uuid4())
        st, first = deliver(d, hook["id"], github_headers(s, body, delivery=delivery), body)
        assert st == 202 and first["built"] is True and first["commit"] == sha, first
        assert isinstance(first["build"], int) and first["build"] > 0, first
        # GitHub's "Redeliver": the same delivery id again builds nothing and names the build.
        st, again = deliver(d, hook["id"], github_headers(s, body, delivery=delivery), body)
        assert st == 200 and again["built"] is False and again["duplicate"] is True, again
        assert again["build"] == first["build"], again
        # Another delivery of the same commit (from Gitea, then GitLab): the same build, not a second one.
        body = gitea_body("refs/heads/main", sha)
        st, other = deliver(d, hook["id"], gitea_headers(s, body), body)
        assert st == 202 and other["build"] == first["build"] and other["existing"] is True, other
        st, other = deliver(d, hook["id"], gitlab_headers(s), gitlab_body("refs/heads/main", sha))
        assert st == 202 and other["build"] == first["build"] and other["existing"] is True, other
        # What `slipway build list` shows: one build, made by the first delivery, of the pushed commit.
        st, listed = api(d, "GET", "projects/hooks/components/web/builds")
        assert st == 200, listed
        builds = [b for b in listed["builds"] if b["commit"] == sha]
        assert [b["id"] for b in builds] == [first["build"]], listed
        b = builds[0]
        assert b["trigger"] == "webhook" and b["requested_by"] == "webhook:github:ada", b
        assert b["branch"] == "main" and b["deploy"] is False, b


def test_a_new_commit_builds_again(git_component):
        d, hook, sha, repo = git_component
        st, _ = api(d, "PUT", "projects/hooks/components/web/autobuild", json={"on": True})
        assert st == 200
        newer = commit(repo, {"README": "second\n"}, "second")
        st, reply = deliver(d, hook["id"], gitlab_headers(hook["secret"]), gitlab_body("refs/heads/main", newer,
                                                                                        before=sha))
        assert st == 202 and reply["built"] is True and reply["existing"] is False, reply
        assert reply["commit"] == newer, reply


def test_rotate_makes_the_old_secret_fail(git_component):
        d, hook, sha, _ = git_component
        st, new = api(d, "POST", "projects/hooks/components/web/webhook/rotate")
        assert st == 200 and new["id"] == hook["id"] and new["secret"] != hook["secret"], new
        body = json.dumps({"zen": "x", "hook_id": 1}).encode()
        st, reply = deliver(d, hook["id"], github_headers(hook["secret"], body, event="ping"), body)
        assert st == 401, reply
        st, reply = deliver(d, hook["id"], github_headers(new["secret"], body, event="ping"), body)
        assert st == 200, reply
        hook["secret"] = new["secret"]


# --- end to end: push → webhook → build → deploy to development → the new text ----------------------------

def site(tmp_path, text):
        """The files of a busybox httpd site answering text (deploy_util.make_site), for a commit."""
        d = tmp_path / f"site-{time.monotonic_ns()}"
        make_site(d, text)
        return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}


def test_push_from_each_provider_is_built_and_deployed(build_dir, tmp_path, images):
        with running_deploy_daemon(build_dir, tmp_path / "state", images, ports=4) as d:
                repo = tmp_path / "repo"
                commit(repo, site(tmp_path, "version zero"), "zero")
                d.cli("project", "create", "e2e")
                d.cli("component", "create", "e2e/web", "--git", repo, "--endpoint", "web:8080",
                      "--health", "http:/healthz")
                d.cli("autobuild", "e2e/web", "on")
                d.cli("autodeploy", "e2e/web", "on")
                hook = d.cli("webhook", "show", "e2e/web")
                hook_id = hook["url"].rsplit("/", 1)[1]
                url = None
                for i, provider in enumerate(("github", "gitea", "gitlab")):
                        text = f"pushed through {provider}"
                        before = commit(repo, {}, "empty") if i == 0 else after
                        after = commit(repo, site(tmp_path, text), f"{provider} change")
                        if provider == "github":
                                body = github_body("refs/heads/main", after, before)
                                headers = github_headers(hook["secret"], body)
                        elif provider == "gitea":
                                body = gitea_body("refs/heads/main", after, before)
                                headers = gitea_headers(hook["secret"], body)
                        else:
                                body = gitlab_body("refs/heads/main", after, before)
                                headers = gitlab_headers(hook["secret"])
                        st, reply = deliver(d, hook_id, headers, body)
                        assert st == 202 and reply["built"] and reply["commit"] == after, reply
                        st, b = api(d, "GET", f"builds/{reply['build']}")
                        assert b["trigger"] == "webhook" and provider in b["requested_by"], b
                        for _ in range(600):
                                st, b = api(d, "GET", f"builds/{reply['build']}")
                                if b["status"] not in ("queued", "running"):
                                        break
                                time.sleep(0.2)
                        assert b["status"] == "succeeded" and b["release_id"], b
                        assert [s["status"] for s in b["steps"] if s["name"] == "deploy"] == ["succeeded"], b
                        url = url or ingress_url(d, "e2e", "web", "development")
                        assert wait_for(lambda: http_get(url)[1].strip() == text, timeout=30), http_get(url)
