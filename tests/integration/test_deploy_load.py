"""The issue's key test: redeploying a component 20 times while wrk hammers its public URL gives not one
failed request — every swap is health-gated, atomic in the proxy, and the old instance is stopped only
after its requests drained."""

import subprocess
import time

import pytest

from deploy_util import (build_image, deploy, deploy_daemon, free_port_range, http_get, ingress_url,
                         make_site, project_with_component, stop_all)

pytestmark = pytest.mark.slow

REDEPLOYS = 20
# A well-behaved image: its PID 1 (sh) stops on SIGTERM instead of ignoring it as httpd would as PID 1.
CMD = ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]


def test_redeploy_under_load_has_no_failed_requests(build_dir, images, tmp_path):
        d = deploy_daemon(build_dir, tmp_path / "state", free_port_range()).start()
        wrk = None
        try:
                d.cli("image", "import", images / "busybox.oci.tar")
                build_image(d, make_site(tmp_path / "a", "version a", cmd=CMD), "load:a")
                build_image(d, make_site(tmp_path / "b", "version b", cmd=CMD), "load:b")
                project_with_component(d, "load/web", "load:a")
                deploy(d, "load/web", "development", "load:a")
                url = ingress_url(d, "load", "web", "development")
                assert http_get(url) == (200, "version a\n")

                wrk = subprocess.Popen(["wrk", "-t", "2", "-c", "8", "-d", "900", "--timeout", "10", url],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                time.sleep(1)
                t0 = time.monotonic()
                for i in range(REDEPLOYS):
                        tag = "b" if i % 2 == 0 else "a"
                        deploy(d, "load/web", "development", f"load:{tag}")
                        assert http_get(url) == (200, f"version {tag}\n")
                elapsed = time.monotonic() - t0
        finally:
                out = ""
                if wrk:
                        wrk.send_signal(2)
                        out = wrk.communicate(timeout=60)[0]
                stop_all(d)
                d.stop()
        print(out)
        print(f"{REDEPLOYS} redeploys in {elapsed:.1f}s")
        assert "Non-2xx" not in out, out
        assert "Socket errors" not in out, out
        total = int(out.split(" requests in")[0].split()[-1])
        assert total > 1000, out
