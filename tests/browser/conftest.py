"""Fixtures of the console's browser tests: the integration suite's (the built binaries, a real slipwayd,
the test images, host clean-up) re-exported, and a headless Chromium driven by Selenium through Debian's
chromium-driver, with its console log and its network events (Chrome DevTools Protocol) kept so a test can
check what the page received; and a headless Firefox (firefox-esr) driven over WebDriver BiDi by
firefox_bidi.py, since Debian has no geckodriver.  Nothing here talks to an address outside 127.0.0.0/8:
both browsers start on a fresh profile with background networking, updates and first-run traffic off."""

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
sys.path.insert(0, str(INTEGRATION))

# The integration conftest, loaded under its own name; its fixtures and helpers are ours too (git_util and
# deploy_util import free_port & co from "conftest", which is this module when the browser suite runs).
_spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
_ic = importlib.util.module_from_spec(_spec)
sys.modules["integration_conftest"] = _ic
_spec.loader.exec_module(_ic)
globals().update({k: v for k, v in vars(_ic).items() if not k.startswith("__")})

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT = 20


def output_dir():
        d = Path(os.environ.get("SLIPWAY_TEST_OUTPUT") or HERE / "output")
        d.mkdir(parents=True, exist_ok=True)
        return d


class Browser:
        """One headless Chromium: pages, screenshots, its console log and the API responses it received."""

        def __init__(self, driver, profile):
                self.driver = driver
                self.profile = profile
                self.console = []   # every browser console entry seen so far
                self.network = []   # (url, status, mime, body) of every response, read as it came

        def go(self, url):
                self.driver.get(url)
                self.wait_ready()

        def hash(self, base, fragment):
                """Navigates inside the console (hash route) and waits until the view has rendered."""
                self.driver.execute_script("delete document.body.dataset.ready; location.hash = arguments[0];",
                                           fragment)
                self.wait_ready()

        def wait_ready(self, timeout=PAGE_TIMEOUT):
                self.wait(lambda: self.driver.execute_script("return document.body && document.body.dataset.ready === '1'"),
                          timeout, "the console's view did not finish rendering")

        def wait(self, fn, timeout=PAGE_TIMEOUT, what="condition", interval=0.1):
                deadline = time.monotonic() + timeout
                last = None
                while time.monotonic() < deadline:
                        try:
                                last = fn()
                                if last:
                                        return last
                        except Exception as e:  # an element replaced while reading it: look again
                                last = e
                        time.sleep(interval)
                self.screenshot("timeout")
                raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

        def css(self, sel):
                from selenium.webdriver.common.by import By
                return self.driver.find_elements(By.CSS_SELECTOR, sel)

        def one(self, sel, timeout=PAGE_TIMEOUT):
                return self.wait(lambda: (self.css(sel) or [None])[0], timeout, f"element {sel}")

        def text(self, sel, timeout=PAGE_TIMEOUT):
                """The rendered text of the first element sel matches, read in one script call (views re-render
                their parts while a build runs, so an element found first may be gone when read)."""
                js = "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;"
                return self.wait(lambda: self.driver.execute_script(js, sel), timeout, f"element {sel}")

        def screenshot(self, name):
                self.driver.save_screenshot(str(output_dir() / f"{name}.png"))

        def collect(self):
                """Reads the console log and the network events gathered since the last call; every response
                body is fetched while Chromium still holds it."""
                self.console += self.driver.get_log("browser")
                for entry in self.driver.get_log("performance"):
                        msg = json.loads(entry["message"])["message"]
                        if msg.get("method") != "Network.responseReceived":
                                continue
                        p = msg["params"]
                        resp = p["response"]
                        body = ""
                        try:
                                got = self.driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": p["requestId"]})
                                body = got.get("body", "")
                        except Exception:
                                pass  # a response without a body (304, 204) or one already evicted
                        self.network.append((resp["url"], resp["status"], resp.get("mimeType"), body))
                return self

        def errors(self, allowed_status=()):
                """Console entries that are a script error, a CSP violation or a failed load; a failed API call
                whose status a test expected (allowed_status) is not one."""
                bad = []
                for e in self.console:
                        m = e.get("message", "")
                        if e.get("source") == "network" and "/api/v1/" in m and any(
                                        f"status of {s} " in m for s in allowed_status):
                                continue
                        if e.get("level") == "SEVERE" or "Content Security Policy" in m or "Refused to" in m:
                                bad.append(e)
                return bad


@pytest.fixture(scope="module")
def browser():
        for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
                if not os.access(path, os.X_OK):
                        pytest.skip(f"{path} is missing: run packaging/install-deps (package {pkg})")
        try:
                from selenium import webdriver
                from selenium.webdriver.chrome.service import Service
        except ImportError:
                pytest.skip("python3-selenium is missing: run packaging/install-deps")
        profile = tempfile.mkdtemp(prefix="slipway-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-default-apps",
                  "--window-size=1280,1000", f"--user-data-dir={profile}"):
                opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        driver.execute_cdp_cmd("Network.enable", {"maxTotalBufferSize": 64 * 1024 * 1024,
                                                  "maxResourceBufferSize": 8 * 1024 * 1024})
        b = Browser(driver, profile)
        try:
                yield b
        finally:
                driver.quit()
                shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def firefox():
        """A headless firefox-esr on a fresh profile in a temp dir, its BiDi server on a port the kernel picks;
        killed and its profile removed after the module."""
        import firefox_bidi
        if not os.access(firefox_bidi.FIREFOX, os.X_OK):
                pytest.skip(f"{firefox_bidi.FIREFOX} is missing: run packaging/install-deps (package firefox-esr)")
        ff = firefox_bidi.Firefox(str(output_dir()))
        try:
                yield ff
        finally:
                ff.stop()
