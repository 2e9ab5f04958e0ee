"""Issue 13, the SBOM part: `slipway image sbom REF` of any stored image and the pipeline's scan step list the
packages an image's own metadata names — here a dpkg status database copied from this Debian machine (so the
SBOM must equal `dpkg-query -W` of it), a Python dist-info and an npm package — as CycloneDX 1.5 with purls.
And `slipway image scan REF`: the same scan as a build's, on demand — SBOM summary, vulnerabilities against
advisories this test imports, a private key found in the layer that added it (even though a later layer
deletes it) and never shown; and the default policy, which a HIGH finding does not fail."""
import json
import re
import subprocess
import time

import pytest

from deploy_util import build_image
from git_util import commit


def installed_packages():
        """{name: version} of this machine's installed dpkg packages, as dpkg-query prints them."""
        out = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\\n"],
                             capture_output=True, text=True, check=True).stdout
        pkgs = {}
        for line in out.splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "ii":
                        pkgs[parts[1]] = parts[2]
        return pkgs


@pytest.fixture(scope="module")
def scanned(module_daemon, tmp_path_factory, images):
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        ctx = tmp_path_factory.mktemp("scan-ctx")
        (ctx / "status").write_bytes(open("/var/lib/dpkg/status", "rb").read())
        meta = ctx / "meta"
        meta.mkdir()
        (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\n\nbody\n")
        (ctx / "package.json").write_text('{"name": "@acme/left-pad", "version": "1.3.0"}\n')
        (ctx / "Dockerfile").write_text(
                "FROM busybox:1\n"
                "COPY status /var/lib/dpkg/status\n"
                "COPY meta /usr/lib/python3/dist-packages/requests-2.28.1.dist-info\n"
                "COPY package.json /app/node_modules/@acme/left-pad/package.json\n")
        build_image(d, ctx, "scanme:1")
        return d, d.cli("image", "sbom", "scanme:1")


def test_sbom_equals_dpkg_query(scanned):
        _, bom = scanned
        assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5" and bom["version"] == 1
        assert re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            bom["serialNumber"]), bom["serialNumber"]
        assert bom["metadata"]["component"]["name"] == "scanme:1"
        debs = {c["name"]: c["version"] for c in bom["components"] if c["purl"].startswith("pkg:deb/")}
        assert debs == installed_packages()
        for c in bom["components"]:
                assert c["type"] in ("library", "application") and c["name"] and c["version"] and c["purl"]


def test_python_and_npm_packages_are_listed(scanned):
        _, bom = scanned
        purls = {c["purl"] for c in bom["components"]}
        assert "pkg:pypi/requests@2.28.1" in purls, sorted(p for p in purls if not p.startswith("pkg:deb/"))
        assert "pkg:npm/%40acme/left-pad@1.3.0" in purls, sorted(p for p in purls if not p.startswith("pkg:deb/"))


def test_an_image_without_package_metadata_has_an_empty_sbom(scanned):
        d, _ = scanned
        bom = d.cli("image", "sbom", "busybox:1")
        assert bom["components"] == [] and bom["specVersion"] == "1.5"
        p = d.cli("image", "sbom", "nothere:1", check=False, json=False)
        assert p.returncode == 1 and "nothere" in p.stderr


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
def leaky(scanned, tmp_path_factory):
        """scanme:1 plus two layers: one adds a private key, the next deletes it; advisories imported for
        glibc (CRITICAL) and requests (HIGH)."""
        d, _ = scanned
        libc = dpkg_field("libc6", "Version")
        osv = tmp_path_factory.mktemp("scan-osv")
        for doc in (advisory("DSA-9999-1", "Debian:12", "glibc", "0", libc + "+fix1", "CRITICAL"),
                    advisory("PYSEC-9999-1", "PyPI", "requests", "2.0", "2.31.0", "HIGH")):
                (osv / f"{doc['id']}.json").write_text(json.dumps(doc))
        d.cli("vulndb", "import", osv)
        ctx = tmp_path_factory.mktemp("leaky-ctx")
        key = ctx / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        (ctx / "Dockerfile").write_text("FROM scanme:1\nCOPY id_ed25519 /app/id_ed25519\nRUN rm /app/id_ed25519\n")
        build_image(d, ctx, "leaky:1")
        return d, libc, key.read_text().splitlines()[1]


def test_image_scan_json(leaky):
        d, libc, secret_line = leaky
        doc = d.cli("image", "scan", "leaky:1")  # exits 0 (d.cli checks), findings or not
        assert doc["image"] == "leaky:1" and doc["digest"].startswith("sha256:")
        assert doc["components"] == sum(doc["ecosystems"].values())
        assert doc["ecosystems"]["Debian"] == len(installed_packages())
        assert doc["ecosystems"]["PyPI"] == 1 and doc["ecosystems"]["npm"] == 1
        assert doc["advisories"] == 2
        found = {(f["id"], f["package"]): f for f in doc["findings"]}
        glibc = found[("DSA-9999-1", "libc6")]
        assert glibc["severity"] == "CRITICAL" and glibc["installed"] == libc and glibc["fixed"] == libc + "+fix1"
        assert found[("PYSEC-9999-1", "requests")]["fixed"] == "2.31.0"
        assert doc["counts"]["critical"] >= 1 and doc["counts"]["high"] == 1 and doc["counts"]["secrets"] == 1

        # The key is found in the layer that added it, though the next layer deletes it: by file and by that
        # layer's digest, as the image's manifest lists it.
        layers = [l["digest"] for l in d.cli("image", "inspect", "leaky:1")["manifest"]["layers"]]
        secrets = [c for c in doc["checks"] if c["kind"] == "secret"]
        assert len(secrets) == 1, secrets
        key = secrets[0]
        assert key["id"] == "secret:private-key:/app/id_ed25519" and key["file"] == "/app/id_ed25519"
        assert key["layer"] == layers[key["layer_index"]] and key["layer_index"] == len(layers) - 2, (key, layers)
        assert key["diff_id"].startswith("sha256:")
        assert any(c["id"] == "config:user-root" for c in doc["checks"])
        # A build of it would fail at the default threshold, and the report says so by id.
        assert doc["policy"]["fail_on"] == "critical" and doc["policy"]["failed"] is True
        assert doc["policy"]["blocking"] == ["DSA-9999-1", "secret:private-key:/app/id_ed25519"], doc["policy"]
        assert "PYSEC-9999-1" not in doc["policy"]["blocking"]
        assert secret_line not in json.dumps(doc)


def test_image_scan_text(leaky):
        d, libc, secret_line = leaky
        p = d.cli("image", "scan", "leaky:1", json=False)
        assert p.returncode == 0, p.stderr  # a report: findings do not make it fail
        out = p.stdout
        n_debs = len(installed_packages())
        assert re.search(rf"SBOM: +{n_debs + 2} package\(s\) \(.*Debian {n_debs}", out), out
        assert "PyPI 1" in out and "npm 1" in out
        layers = [l["digest"] for l in d.cli("image", "inspect", "leaky:1")["manifest"]["layers"]]
        assert re.search(rf"^DSA-9999-1 +CRITICAL +libc6 \(source glibc\) +{re.escape(libc)} +{re.escape(libc)}\+fix1",
                         out, re.M), out
        assert re.search(r"^PYSEC-9999-1 +HIGH +requests +2\.28\.1 +2\.31\.0", out, re.M), out
        key = [line for line in out.splitlines() if line.startswith("secret:private-key:/app/id_ed25519 ")][0]
        assert "/app/id_ed25519" in key and layers[-2] in key, key
        assert "would fail" in out and "DSA-9999-1" in out.split("Policy:")[1]
        assert secret_line not in out
        # Errors are errors: an unknown image exits non-zero with one sentence.
        p = d.cli("image", "scan", "nothere:1", json=False, check=False)
        assert p.returncode == 1 and "nothere" in p.stderr
        p = d.cli("image", "scan", json=False, check=False)
        assert p.returncode == 2


def test_a_high_finding_does_not_fail_a_build_by_default(leaky, tmp_path):
        d, _, _ = leaky
        repo = tmp_path / "app"
        commit(repo, {"meta/METADATA": "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\n",
                      "Dockerfile": "FROM busybox:1\n"
                                    "COPY meta /usr/lib/python3/dist-packages/requests-2.28.1.dist-info\n"},
               "requests with a HIGH advisory")
        d.cli("project", "create", "highp")
        d.cli("component", "create", "highp/app", "--git", repo)
        b = wait_build(d, d.cli("build", "highp/app")["id"])
        assert b["status"] == "succeeded", b
        high = [f for f in b["scan"]["findings"] if f["id"] == "PYSEC-9999-1"]
        assert high and high[0]["severity"] == "HIGH" and high[0]["waived"] is False
        assert b["scan"]["policy"] == {"fail_on": "critical", "failed": False, "reason": None, "blocking": [],
                                       "waived": 0}
        # build show prints the finding it kept, and the verdict.
        out = d.cli("build", "show", str(b["id"]), json=False).stdout
        assert re.search(r"PYSEC-9999-1 +HIGH +requests +2\.28\.1 +2\.31\.0", out), out
        assert "Policy:      fail on critical: passed" in out


def test_the_sbom_sees_the_merged_layers(scanned, tmp_path):
        """The SBOM is of the image as it runs: a package a later layer removes is not in it, and one a later
        layer adds or upgrades is, at the version of the top layer (the layers are stacked, not read one by
        one)."""
        d, _ = scanned
        (tmp_path / "b.json").write_text('{"name": "gone-later", "version": "1.0.0"}\n')
        (tmp_path / "c1.json").write_text('{"name": "upgraded", "version": "1.0.0"}\n')
        (tmp_path / "c2.json").write_text('{"name": "upgraded", "version": "2.0.0"}\n')
        (tmp_path / "Dockerfile").write_text(
                "FROM scanme:1\n"
                "COPY b.json /app/node_modules/gone-later/package.json\n"
                "COPY c1.json /app/node_modules/upgraded/package.json\n"
                "RUN rm -rf /app/node_modules/gone-later\n"
                "COPY c2.json /app/node_modules/upgraded/package.json\n")
        build_image(d, tmp_path, "scanme:layers")
        npm = {c["name"]: c["version"] for c in d.cli("image", "sbom", "scanme:layers")["components"]
               if c["purl"].startswith("pkg:npm/")}
        assert npm == {"@acme/left-pad": "1.3.0", "upgraded": "2.0.0"}, npm


def test_the_project_threshold_decides(leaky, tmp_path):
        """project set --scan-fail-on: `high` fails a build on a HIGH finding (and a waiver in .slipwayignore
        lets it pass again); `none` passes one with a CRITICAL vulnerability; every finding is kept either way."""
        d, _, _ = leaky
        repo = tmp_path / "app"
        files = {"meta/METADATA": "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\n",
                 "Dockerfile": "FROM busybox:1\nCOPY meta /usr/lib/python3/dist-packages/requests-2.28.1.dist-info\n"}
        commit(repo, files, "requests with a HIGH advisory")
        d.cli("project", "create", "strictp")
        d.cli("project", "set", "strictp", "--scan-fail-on", "high")
        assert [p for p in d.cli("project", "list")["projects"] if p["name"] == "strictp"][0]["scan_fail_on"] == "high"
        d.cli("component", "create", "strictp/app", "--git", repo)
        b = wait_build(d, d.cli("build", "strictp/app")["id"])
        assert b["status"] == "failed" and "PYSEC-9999-1" in b["reason"], b
        assert b["scan"]["policy"]["fail_on"] == "high" and b["scan"]["policy"]["blocking"] == ["PYSEC-9999-1"]
        commit(repo, dict(files, **{".slipwayignore": "PYSEC-9999-1  # accepted\n"}), "waive it")
        b = wait_build(d, d.cli("build", "strictp/app")["id"])
        assert b["status"] == "succeeded", b
        assert [f["waived"] for f in b["scan"]["findings"] if f["id"] == "PYSEC-9999-1"] == [True]

        # The CRITICAL glibc advisory fails the default threshold and not `none`.
        repo2 = tmp_path / "libc"
        commit(repo2, {"status": open("/var/lib/dpkg/status").read(),
                       "Dockerfile": "FROM busybox:1\nCOPY status /var/lib/dpkg/status\n"}, "a dpkg database")
        d.cli("project", "create", "laxp")
        d.cli("component", "create", "laxp/app", "--git", repo2)
        b = wait_build(d, d.cli("build", "laxp/app")["id"])
        assert b["status"] == "failed" and "DSA-9999-1" in b["reason"], b
        d.cli("project", "set", "laxp", "--scan-fail-on", "none")
        commit(repo2, {"status": open("/var/lib/dpkg/status").read() + "\n", "Dockerfile":
                       "FROM busybox:1\nCOPY status /var/lib/dpkg/status\n"}, "same, at another commit")
        b = wait_build(d, d.cli("build", "laxp/app")["id"])
        assert b["status"] == "succeeded", b
        assert any(f["id"] == "DSA-9999-1" and f["severity"] == "CRITICAL" for f in b["scan"]["findings"])
        bad = d.cli("project", "set", "laxp", "--scan-fail-on", "sometimes", check=False)
        assert bad.returncode != 0
