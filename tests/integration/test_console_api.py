"""Issue 14: the API the console needs beyond the CLI's — a git component's newest commits for the Build
Area (GET …/components/C/commits), and the disk holding the state dir in GET status."""

import json
import urllib.error
import urllib.request

from git_util import commit


def api(d, path):
        req = urllib.request.Request(d.url + "/api/v1/" + path, headers={"Authorization": f"Bearer {d.token}"})
        try:
                with urllib.request.urlopen(req, timeout=30) as r:
                        return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())


def test_commits_newest_first_and_refusals(daemon, tmp_path):
        repo = tmp_path / "repo"
        shas = [commit(repo, {"f": str(i)}, f"change {i} <b>") for i in range(5)]
        daemon.cli("project", "create", "p")
        daemon.cli("component", "create", "p/web", "--git", repo)
        st, doc = api(daemon, "projects/p/components/web/commits")
        assert st == 200, doc
        assert doc["branch"] == "main" and [c["id"] for c in doc["commits"]] == shas[::-1]
        top = doc["commits"][0]
        assert top["subject"] == "change 4 <b>" and top["short_id"] == shas[-1][:7]
        assert top["author_name"] == "Ada Tester" and top["author_email"] == "ada@example.test" and top["time"] > 0
        st, doc = api(daemon, "projects/p/components/web/commits?limit=2")
        assert st == 200 and [c["id"] for c in doc["commits"]] == shas[::-1][:2]
        # A new commit shows once fetched; without fetch=1 the mirror is read as it is.
        sha6 = commit(repo, {"f": "6"}, "six")
        assert api(daemon, "projects/p/components/web/commits?limit=1")[1]["commits"][0]["id"] == shas[-1]
        assert api(daemon, "projects/p/components/web/commits?limit=1&fetch=1")[1]["commits"][0]["id"] == sha6

        for q, status, word in (("limit=0", 400, "limit"), ("limit=101", 400, "limit"), ("limit=x", 400, "limit"),
                                ("branch=nope", 404, "nope")):
                st, doc = api(daemon, f"projects/p/components/web/commits?{q}")
                assert st == status and word in doc["error"], (q, doc)
        daemon.cli("component", "create", "p/img", "--image", "busybox:1", "--endpoint", "web:80")
        st, doc = api(daemon, "projects/p/components/img/commits")
        assert st == 400 and "not built from git" in doc["error"]
        assert api(daemon, "projects/p/components/none/commits")[0] == 404


def test_status_reports_the_state_disk(daemon):
        st, doc = api(daemon, "status")
        assert st == 200
        disk = doc["disk"]
        assert 0 < disk["free_bytes"] <= disk["total_bytes"] and disk["mount"].startswith("/")


def test_build_of_a_commit_on_a_fresh_mirror(daemon, tmp_path):
        """The console's Deploy Manually names the commit picked; on a component never fetched, resolving it
        fetches the repository inside the request (slipwayd once ran out of a handler thread's stack)."""
        repo = tmp_path / "repo"
        sha = commit(repo, {"Dockerfile": "FROM busybox:1\n"}, "one")
        daemon.cli("project", "create", "q")
        daemon.cli("component", "create", "q/web", "--git", repo)
        req = urllib.request.Request(daemon.url + "/api/v1/projects/q/components/web/builds", method="POST",
                                     data=json.dumps({"commit": sha}).encode(),
                                     headers={"Authorization": f"Bearer {daemon.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
                assert r.status == 202 and json.loads(r.read())["commit"] == sha
        assert daemon.proc.poll() is None
        assert api(daemon, "status")[0] == 200
