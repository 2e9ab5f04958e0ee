"""Issue 13, the SBOM part: `slipway image sbom REF` of any stored image and the pipeline's scan step list the
packages an image's own metadata names — here a dpkg status database copied from this Debian machine (so the
SBOM must equal `dpkg-query -W` of it), a Python dist-info and an npm package — as CycloneDX 1.5 with purls."""
import re
import subprocess

import pytest

from deploy_util import build_image


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
