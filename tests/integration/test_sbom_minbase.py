"""Issue 13: the SBOM of a real Debian image — a bookworm root made with `debootstrap --variant=minbase`
(tests/fixtures/minbase.py; made once and cached under /var/cache/slipway-tests/) and imported with
`slipway image import --rootfs` — lists exactly what `dpkg-query -W` run on that root lists: the same names,
the same versions, the same count, each with the purl pkg:deb/debian/NAME@VERSION?arch=ARCH (and
&upstream=SOURCE when the source package has another name).  Skipped only when debootstrap cannot reach
the Debian archive."""
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import minbase  # noqa: E402


@pytest.fixture(scope="module")
def root_and_tar():
        try:
                return minbase.make()
        except minbase.Unreachable as e:
                pytest.skip(str(e))


def dpkg_query(root, fmt):
        return subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", fmt],
                              capture_output=True, text=True, check=True).stdout.splitlines()


def test_minbase_sbom_equals_dpkg_query(module_daemon, root_and_tar):
        d = module_daemon
        root, tar = root_and_tar
        d.cli("image", "import", tar, "--rootfs", "--name", "minbase:bookworm")
        bom = d.cli("image", "sbom", "minbase:bookworm")
        assert bom["specVersion"] == "1.5" and bom["metadata"]["component"]["name"] == "minbase:bookworm"

        expected = sorted(tuple(line.split(" ", 1)) for line in dpkg_query(root, "${Package} ${Version}\\n"))
        debs = [c for c in bom["components"] if c["purl"].startswith("pkg:deb/")]
        got = sorted((c["name"], c["version"]) for c in debs)
        assert len(expected) > 50, expected  # a minbase root has ~90 packages
        assert len(got) == len(expected), (len(got), len(expected))
        assert got == expected, (set(got) ^ set(expected))
        assert len(debs) == len(bom["components"]), "a minbase root holds nothing but Debian packages"

        # The purls: type deb, namespace debian, percent-encoded name and version, the package's
        # architecture, and the source package when it is another.
        arch_src = {}
        for line in dpkg_query(root, "${Package} ${Architecture} ${source:Package}\\n"):
                name, arch, src = line.split(" ")
                arch_src[name] = (arch, src)
        for c in debs:
                arch, src = arch_src[c["name"]]
                want = f"pkg:deb/debian/{quote(c['name'], safe=':')}@{quote(c['version'], safe=':')}?arch={arch}"
                if src != c["name"]:
                        want += f"&upstream={quote(src, safe=':')}"
                assert c["purl"] == want, c
                assert c["type"] == "library"
        assert any("%2B" in c["purl"] for c in debs), "no package name or version with a '+' was checked"
        assert any(c["purl"].endswith("?arch=all") for c in debs)
