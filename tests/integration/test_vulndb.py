"""Issue 13, the vulnerability part: `slipway vulndb import` loads OSV advisories (a directory of *.json, or a
zip as osv.dev publishes them) written by this test; the pipeline's scan step matches the built image's SBOM
against them — Debian advisories by source package with dpkg's ordering, PyPI's by PEP 440 — keeps every
finding with the build, fails the build on a CRITICAL one, and a .slipwayignore listing its id waives it."""
import json
import subprocess
import time
import zipfile

import pytest

from git_util import commit


def dpkg_field(package, field):
        out = subprocess.run(["dpkg-query", "-W", "-f", f"${{{field}}}", package], capture_output=True, text=True)
        return out.stdout.strip()


def advisory(id, ecosystem, name, introduced, fixed, severity):
        return {"id": id, "summary": f"{name}: a test advisory", "modified": "2026-01-01T00:00:00Z",
                "affected": [{"package": {"ecosystem": ecosystem, "name": name},
                              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced},
                                                                           {"fixed": fixed}]}]}],
                "database_specific": {"severity": severity}}


def wait_build(d, bid, timeout=240):
        deadline = time.monotonic() + timeout
        while True:
                b = d.cli("build", "show", str(bid))
                if b["status"] not in ("queued", "running"):
                        return b
                assert time.monotonic() < deadline, b
                time.sleep(0.2)


@pytest.fixture(scope="module")
def vdb(module_daemon, tmp_path_factory, images):
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        libc = dpkg_field("libc6", "Version")
        assert dpkg_field("libc6", "source:Package") == "glibc"
        osv = tmp_path_factory.mktemp("osv")
        docs = [advisory("DSA-9999-1", "Debian:12", "glibc", "0", libc + "+fix1", "CRITICAL"),
                advisory("DSA-9998-1", "Debian:12", "glibc", "0", "2.10-1", "CRITICAL"),  # fixed long ago
                advisory("PYSEC-9999-1", "PyPI", "requests", "2.0", "2.31.0", "HIGH")]
        for doc in docs:
                (osv / f"{doc['id']}.json").write_text(json.dumps(doc))
        (osv / "README").write_text("not an advisory\n")
        return d, osv, libc


def test_import_status_and_refusals(vdb, tmp_path):
        d, osv, _ = vdb
        r = d.cli("vulndb", "import", osv)
        assert r["imported"] == 3 and r["skipped"] == 0, r
        st = d.cli("vulndb", "status")
        assert st["advisories"] == 3 and st["imports"][0]["source"] == str(osv)
        # The same advisories as OSV's zip: replaced, not doubled.
        z = tmp_path / "all.zip"
        with zipfile.ZipFile(z, "w") as f:
                for p in osv.glob("*.json"):
                        f.write(p, p.name)
        assert d.cli("vulndb", "import", z)["imported"] == 3
        assert d.cli("vulndb", "status")["advisories"] == 3
        bad = tmp_path / "bad.zip"
        bad.write_text("this is no archive\n")
        p = d.cli("vulndb", "import", bad, check=False, json=False)
        assert p.returncode == 1 and "archive" in p.stderr, p.stderr
        empty = tmp_path / "empty.zip"
        with zipfile.ZipFile(empty, "w") as f:
                f.writestr("notes.txt", "nothing\n")
        p = d.cli("vulndb", "import", empty, check=False, json=False)
        assert p.returncode == 1 and "no OSV advisory" in p.stderr, p.stderr
        assert d.cli("vulndb", "status")["advisories"] == 3, "a refused import changed the database"


def test_scan_fails_on_critical_and_ignore_waives(vdb, tmp_path):
        d, osv, libc = vdb
        d.cli("vulndb", "import", osv)
        repo = tmp_path / "app"
        files = {"status": open("/var/lib/dpkg/status", "rb").read(),
                 "meta/METADATA": "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\n",
                 "Dockerfile": "FROM busybox:1\nCOPY status /var/lib/dpkg/status\n"
                               "COPY meta /usr/lib/python3/dist-packages/requests-2.28.1.dist-info\n"}
        commit(repo, files, "an image with a vulnerable glibc and requests")
        d.cli("project", "create", "vulnp")
        d.cli("component", "create", "vulnp/app", "--git", repo)
        b = wait_build(d, d.cli("build", "vulnp/app")["id"])
        assert b["status"] == "failed" and "critical" in b["reason"] and ".slipwayignore" in b["reason"], b
        steps = {s["name"]: s["status"] for s in b["steps"]}
        assert steps["scan"] == "failed" and steps["store"] == "skipped", steps
        found = {(f["id"], f["package"]): f for f in b["scan"]["findings"]}
        glibc = found[("DSA-9999-1", "libc6")]
        assert glibc["source"] == "glibc" and glibc["installed"] == libc and glibc["fixed"] == libc + "+fix1"
        assert glibc["severity"] == "CRITICAL" and glibc["waived"] is False
        assert found[("PYSEC-9999-1", "requests")]["fixed"] == "2.31.0"
        assert not any(id == "DSA-9998-1" for id, _ in found), "an advisory fixed long ago was reported"
        assert b["scan"]["counts"]["critical"] >= 1 and b["scan"]["counts"]["high"] == 1

        # Waived by id: the build goes on, every finding is still kept.
        commit(repo, {".slipwayignore": "# accepted until the base image is updated\nDSA-9999-1\n"}, "waive")
        b = wait_build(d, d.cli("build", "vulnp/app")["id"])
        assert b["status"] == "succeeded", b
        waived = [f for f in b["scan"]["findings"] if f["id"] == "DSA-9999-1"]
        assert waived and all(f["waived"] for f in waived)
        scan_msg = [s["message"] for s in b["steps"] if s["name"] == "scan"][0]
        assert "finding" in scan_msg and "critical" in scan_msg, scan_msg


def test_a_planted_private_key_fails_the_build_and_is_never_shown(vdb, tmp_path):
        d, _, _ = vdb
        key = tmp_path / "key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        secret_line = key.read_text().splitlines()[1]  # a line of the key's body
        repo = tmp_path / "leaky"
        commit(repo, {"id_ed25519": key.read_text(),
                      "Dockerfile": "FROM busybox:1\nCOPY id_ed25519 /app/id_ed25519\n"}, "oops")
        d.cli("project", "create", "leakp")
        d.cli("component", "create", "leakp/app", "--git", repo)
        b = wait_build(d, d.cli("build", "leakp/app")["id"])
        assert b["status"] == "failed" and "critical finding" in b["reason"], b
        checks = {c["id"]: c for c in b["scan"]["checks"]}
        assert checks["secret:private-key:/app/id_ed25519"]["file"] == "/app/id_ed25519"
        # busybox's config names no user: it runs as root, which is noted (and does not fail the build).
        assert checks["config:user-root"]["severity"] == "MEDIUM"
        log = d.cli("build", "logs", str(b["id"]), json=False).stdout
        assert secret_line not in log and secret_line not in json.dumps(b)
        # Waived by its id, the build goes on.
        commit(repo, {".slipwayignore": "secret:private-key:/app/id_ed25519\n"}, "a test key, on purpose")
        b = wait_build(d, d.cli("build", "leakp/app")["id"])
        assert b["status"] == "succeeded", b
