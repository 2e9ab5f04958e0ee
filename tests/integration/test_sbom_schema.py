"""Issue 13: the SBOMs Slipway writes are valid CycloneDX 1.5 — checked against the official JSON schema
(tests/fixtures/cyclonedx/, with the spdx and jsf schemas it $refs resolved from there, no network) with
python3-jsonschema, for the SBOM of a pipeline build (`build sbom ID`) and of a stored image (`image sbom`),
both with Debian, PyPI and npm components; and the check itself refuses a broken document."""
import copy
import json
import time
import warnings
from pathlib import Path

import jsonschema
import pytest

from deploy_util import build_image
from git_util import commit

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "cyclonedx"


@pytest.fixture(scope="module")
def validator():
        store = {}
        for name in ("bom-1.5.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"):
                doc = json.loads((SCHEMAS / name).read_text())
                store[doc["$id"]] = doc
        bom = store["http://cyclonedx.org/schema/bom-1.5.schema.json"]
        jsonschema.Draft7Validator.check_schema(bom)
        with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # RefResolver: jsonschema >= 4.18 has registries
                resolver = jsonschema.RefResolver(base_uri=bom["$id"], referrer=bom, store=store)

        def no_network(uri):
                raise AssertionError(f"the schema referred to {uri}, which is not under {SCHEMAS}")
        resolver.resolve_remote = no_network
        return jsonschema.Draft7Validator(bom, resolver=resolver, format_checker=jsonschema.FormatChecker())


def errors(validator, doc):
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


CONTEXT = {
        "status": open("/var/lib/dpkg/status", "rb").read(),
        "meta/METADATA": "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\n",
        "package.json": '{"name": "@acme/left-pad", "version": "1.3.0"}\n',
        "Dockerfile": "FROM busybox:1\n"
                      "COPY status /var/lib/dpkg/status\n"
                      "COPY meta /usr/lib/python3/dist-packages/requests-2.28.1.dist-info\n"
                      "COPY package.json /app/node_modules/@acme/left-pad/package.json\n",
}


def ecosystems(bom):
        return {c["purl"].split(":", 1)[1].split("/", 1)[0] for c in bom["components"]}


@pytest.fixture(scope="module")
def image_bom(module_daemon, images, tmp_path_factory):
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        ctx = tmp_path_factory.mktemp("schema-ctx")
        for rel, content in CONTEXT.items():
                p = ctx / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(content if isinstance(content, bytes) else content.encode())
        build_image(d, ctx, "schema:1")
        return d.cli("image", "sbom", "schema:1")


def test_image_sbom_is_valid_cyclonedx_1_5(module_daemon, image_bom, validator):
        d, bom = module_daemon, image_bom
        assert ecosystems(bom) == {"deb", "pypi", "npm"} and len(bom["components"]) > 100
        assert errors(validator, bom) == []
        # An image with no package metadata: an empty but valid document.
        assert errors(validator, d.cli("image", "sbom", "busybox:1")) == []


def test_build_sbom_is_valid_cyclonedx_1_5(module_daemon, images, tmp_path, validator):
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        commit(tmp_path / "app", CONTEXT, "an image with deb, PyPI and npm packages")
        d.cli("project", "create", "schemap")
        d.cli("component", "create", "schemap/app", "--git", tmp_path / "app")
        bid = d.cli("build", "schemap/app")["id"]
        deadline = time.monotonic() + 240
        while (b := d.cli("build", "show", str(bid)))["status"] in ("queued", "running"):
                assert time.monotonic() < deadline, b
                time.sleep(0.2)
        assert b["status"] == "succeeded", b
        bom = d.cli("build", "sbom", str(bid))
        assert ecosystems(bom) == {"deb", "pypi", "npm"}
        assert bom["metadata"]["component"]["name"] == b["image_ref"]
        assert errors(validator, bom) == []


def test_the_schema_check_refuses_a_broken_sbom(image_bom, validator):
        for breakage in (lambda b: b.update(specVersion=1.5),
                         lambda b: b.update(serialNumber="not-a-urn"),
                         lambda b: b["components"][0].pop("name"),
                         lambda b: b["components"][0].update(type="package"),
                         lambda b: b.update(unknownField=True)):
                broken = copy.deepcopy(image_bom)
                breakage(broken)
                assert errors(validator, broken), "the schema accepted a broken SBOM"
