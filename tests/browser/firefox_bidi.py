"""A small WebDriver BiDi client for the console's Firefox tests: Debian 12 ships firefox-esr but no
geckodriver, and Firefox serves BiDi itself (--remote-debugging-port).  One headless firefox-esr on a fresh
profile whose prefs switch off every first-run, update, telemetry and background request; every proxy
setting points at a local sinkhole that records what reaches it, so a test can check Firefox asked for no
address outside 127.0.0.0/8 (loopback is never proxied).  Commands are JSON over one WebSocket
(python3-websocket); the log.entryAdded events that arrive between answers are kept."""

import base64
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import websocket

FIREFOX = "/usr/bin/firefox-esr"
START_TIMEOUT = 30
COMMAND_TIMEOUT = 30
STOP_TIMEOUT = 10
WINDOW = (1280, 1000)
LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")

# Everything Firefox would fetch on its own, off.  remote.prefs.recommended adds the Remote Agent's own
# list (the one geckodriver relies on) on top of these at startup.
PREFS = {
        "remote.prefs.recommended": True,
        "app.update.disabledForTesting": True,
        "app.update.auto": False,
        "app.normandy.enabled": False,
        "app.normandy.api_url": "",
        "app.shield.optoutstudies.enabled": False,
        "messaging-system.rsexperimentloader.enabled": False,
        "browser.shell.checkDefaultBrowser": False,
        "browser.startup.page": 0,
        "browser.startup.homepage": "about:blank",
        "browser.startup.homepage_override.mstone": "ignore",
        "browser.aboutwelcome.enabled": False,
        "browser.newtabpage.enabled": False,
        "browser.newtabpage.activity-stream.feeds.system.topstories": False,
        "browser.newtabpage.activity-stream.feeds.section.topstories": False,
        "browser.newtabpage.activity-stream.feeds.telemetry": False,
        "browser.newtabpage.activity-stream.telemetry": False,
        "browser.newtabpage.activity-stream.default.sites": "",
        "browser.topsites.contile.enabled": False,
        "browser.ping-centre.telemetry": False,
        "browser.discovery.enabled": False,
        "browser.search.update": False,
        "browser.region.update.enabled": False,
        "browser.region.network.url": "",
        "browser.translations.enable": False,
        "browser.ml.enable": False,
        "browser.sessionstore.resume_from_crash": False,
        "browser.urlbar.suggest.quicksuggest.sponsored": False,
        "browser.urlbar.suggest.quicksuggest.nonsponsored": False,
        "browser.safebrowsing.malware.enabled": False,
        "browser.safebrowsing.phishing.enabled": False,
        "browser.safebrowsing.blockedURIs.enabled": False,
        "browser.safebrowsing.downloads.enabled": False,
        "browser.safebrowsing.downloads.remote.enabled": False,
        "browser.safebrowsing.provider.google.updateURL": "",
        "browser.safebrowsing.provider.google4.updateURL": "",
        "browser.safebrowsing.provider.mozilla.updateURL": "",
        "privacy.trackingprotection.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "datareporting.policy.dataSubmissionPolicyBypassNotification": True,
        "datareporting.healthreport.uploadEnabled": False,
        "toolkit.telemetry.enabled": False,
        "toolkit.telemetry.unified": False,
        "toolkit.telemetry.server": "",
        "toolkit.telemetry.archive.enabled": False,
        "toolkit.telemetry.newProfilePing.enabled": False,
        "toolkit.telemetry.firstShutdownPing.enabled": False,
        "toolkit.telemetry.shutdownPingSender.enabled": False,
        "toolkit.telemetry.updatePing.enabled": False,
        "toolkit.telemetry.bhrPing.enabled": False,
        "toolkit.telemetry.coverage.opt-out": True,
        "toolkit.coverage.endpoint.base": "",
        "network.captive-portal-service.enabled": False,
        "network.connectivity-service.enabled": False,
        "network.dns.disablePrefetch": True,
        "network.prefetch-next": False,
        "network.predictor.enabled": False,
        "network.http.speculative-parallel-limit": 0,
        "network.trr.mode": 5,
        "dom.push.connection.enabled": False,
        "dom.push.serverURL": "",
        "extensions.update.enabled": False,
        "extensions.getAddons.cache.enabled": False,
        "extensions.blocklist.enabled": False,
        "extensions.systemAddon.update.enabled": False,
        "geo.provider.network.url": "",
        "media.gmp-manager.url": "",
        "media.gmp-manager.updateEnabled": False,
        "media.gmp-provider.enabled": False,
        "media.gmp-gmpopenh264.enabled": False,
        "media.gmp-widevinecdm.enabled": False,
        "security.OCSP.enabled": 0,
        "security.remote_settings.crlite_filters.enabled": False,
        "security.remote_settings.intermediates.enabled": False,
        "services.settings.server": "http://127.0.0.1:9/remote-settings-off",
        "signon.rememberSignons": False,
        "network.proxy.type": 1,
        "network.proxy.allow_hijacking_localhost": False,
        "network.proxy.share_proxy_settings": True,
}


class BiDiError(Exception):
        def __init__(self, method, error, message):
                super().__init__(f"{method}: {error}: {message}")
                self.error = error


class ScriptError(Exception):
        """A script the test ran threw."""


class Sinkhole:
        """A TCP listener every proxy setting points at: each connection's first line (the request Firefox
        meant for an outside address) is kept, and the connection closed."""

        def __init__(self):
                self.sock = socket.socket()
                self.sock.bind(("127.0.0.1", 0))
                self.sock.listen(16)
                self.port = self.sock.getsockname()[1]
                self.seen = []
                self._thread = threading.Thread(target=self._serve, daemon=True)
                self._thread.start()

        def _serve(self):
                while True:
                        try:
                                conn, _ = self.sock.accept()
                        except OSError:
                                return
                        with conn:
                                conn.settimeout(2)
                                try:
                                        line = conn.recv(512).split(b"\r\n", 1)[0]
                                except OSError:
                                        line = b"(nothing sent)"
                                self.seen.append(line.decode(errors="replace"))

        def close(self):
                self.sock.close()


class Firefox:
        """One headless firefox-esr and its BiDi session on the first tab."""

        def __init__(self, output_dir):
                self.output_dir = output_dir
                self.log = []   # every log.entryAdded event's params, in order
                self._ids = itertools.count(1)
                self.tmp = tempfile.mkdtemp(prefix="slipway-firefox-")
                self.profile = os.path.join(self.tmp, "profile")
                os.mkdir(self.profile)
                self.sinkhole = Sinkhole()
                prefs = dict(PREFS)
                for proto in ("http", "ssl", "socks"):
                        prefs[f"network.proxy.{proto}"] = "127.0.0.1"
                        prefs[f"network.proxy.{proto}_port"] = self.sinkhole.port
                with open(os.path.join(self.profile, "user.js"), "w") as f:
                        for k, v in prefs.items():
                                f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")
                self.stderr_path = os.path.join(self.tmp, "firefox.log")
                env = {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_HEADLESS": "1", "MOZ_REMOTE_SETTINGS_DEVTOOLS": "1",
                       "HOME": self.tmp, "XDG_CACHE_HOME": os.path.join(self.tmp, "cache")}
                with open(self.stderr_path, "wb") as err:
                        # Its own process group: the content processes it forks go with it on stop().
                        self.proc = subprocess.Popen(
                                [FIREFOX, "--headless", "--no-remote", "--profile", self.profile,
                                 "--remote-debugging-port=0", f"--width={WINDOW[0]}", f"--height={WINDOW[1]}",
                                 "about:blank"],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, start_new_session=True)
                try:
                        url = self._wait_listening()
                        self.ws = websocket.create_connection(url + "/session", timeout=COMMAND_TIMEOUT,
                                                              suppress_origin=True)
                        self.cmd("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}})
                        self.cmd("session.subscribe", {"events": ["log.entryAdded"]})
                        self.context = self.cmd("browsingContext.getTree", {})["contexts"][0]["context"]
                        self.cmd("browsingContext.setViewport", {"context": self.context,
                                                                 "viewport": {"width": WINDOW[0], "height": WINDOW[1]}})
                except BaseException:
                        self.stop()
                        raise

        def stderr(self):
                with open(self.stderr_path, errors="replace") as f:
                        return f.read()

        def _wait_listening(self):
                deadline = time.monotonic() + START_TIMEOUT
                while time.monotonic() < deadline:
                        m = LISTENING.search(self.stderr())
                        if m:
                                return m.group(1)
                        if self.proc.poll() is not None:
                                raise AssertionError(f"firefox-esr exited with {self.proc.returncode}:\n{self.stderr()}")
                        time.sleep(0.1)
                raise AssertionError(f"firefox-esr served no WebDriver BiDi after {START_TIMEOUT}s:\n{self.stderr()}")

        # --- the protocol

        def cmd(self, method, params, timeout=COMMAND_TIMEOUT):
                """Sends one command and returns its result; events that arrive before the answer are kept."""
                mid = next(self._ids)
                self.ws.settimeout(timeout)
                self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
                while True:
                        msg = json.loads(self.ws.recv())
                        if msg.get("type") == "event":
                                if msg.get("method") == "log.entryAdded":
                                        self.log.append(msg["params"])
                                continue
                        if msg.get("id") != mid:
                                continue
                        if msg.get("type") == "error":
                                raise BiDiError(method, msg.get("error"), msg.get("message"))
                        return msg["result"]

        def js(self, body, *args):
                """Runs body (a function body; its arguments are args) in the page and returns what it returns,
                awaited and passed through JSON."""
                expr = (f"(async (...args) => JSON.stringify((await (async function() {{ {body} }})"
                        f".apply(null, args)) ?? null))(...{json.dumps(list(args))})")
                r = self.cmd("script.evaluate", {"expression": expr, "target": {"context": self.context},
                                                 "awaitPromise": True, "resultOwnership": "none"})
                if r["type"] == "exception":
                        d = r["exceptionDetails"]
                        raise ScriptError(f"{d.get('text')} (line {d.get('lineNumber')})")
                return json.loads(r["result"]["value"])

        def node(self, sel):
                """The first element sel matches, as a BiDi shared reference (for input actions), or None."""
                r = self.cmd("script.evaluate", {"expression": f"document.querySelector({json.dumps(sel)})",
                                                 "target": {"context": self.context}, "awaitPromise": False})
                v = r.get("result", {})
                return {"sharedId": v["sharedId"]} if v.get("type") == "node" else None

        # --- pages

        def navigate(self, url):
                self.cmd("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

        def wait(self, fn, timeout=20, what="condition", interval=0.1):
                deadline = time.monotonic() + timeout
                last = None
                while time.monotonic() < deadline:
                        try:
                                last = fn()
                                if last:
                                        return last
                        except ScriptError as e:  # a view replaced mid-read: look again
                                last = e
                        time.sleep(interval)
                self.screenshot("firefox-timeout")
                raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

        def wait_ready(self, timeout=20):
                self.wait(lambda: self.js("return document.body && document.body.dataset.ready === '1'"), timeout,
                          "the console's view to finish rendering")

        def hash(self, fragment):
                """Goes to a console route and waits until its view has rendered."""
                self.js("delete document.body.dataset.ready; location.hash = args[0];", fragment)
                self.wait_ready()

        def location_hash(self):
                return self.js("return location.hash")

        def text(self, sel, timeout=20):
                """The rendered text of the first element sel matches, once there is one."""
                return self.wait(lambda: self.js("const e = document.querySelector(args[0]); return e ? e.innerText : null;",
                                                 sel), timeout, f"element {sel}")

        def count(self, sel):
                return self.js("return document.querySelectorAll(args[0]).length", sel)

        def screenshot(self, name):
                data = self.cmd("browsingContext.captureScreenshot", {"context": self.context})["data"]
                with open(os.path.join(self.output_dir, f"{name}.png"), "wb") as f:
                        f.write(base64.b64decode(data))

        # --- real input (keyboard and mouse through Firefox's own event pipeline)

        def click(self, sel):
                el = self.wait(lambda: self.node(sel), what=f"element {sel}")
                self.js("document.querySelector(args[0]).scrollIntoView({block: 'center'})", sel)
                self._actions([{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                                "actions": [{"type": "pointerMove", "x": 0, "y": 0,
                                             "origin": {"type": "element", "element": el}},
                                            {"type": "pointerDown", "button": 0},
                                            {"type": "pointerUp", "button": 0}]}])

        def type(self, sel, text, clear=True):
                """Clicks into the field sel and types text ("\\ue007" is Enter); clear selects what is there
                first so the typing replaces it."""
                self.click(sel)
                if clear:
                        self.js("document.querySelector(args[0]).select()", sel)
                keys = []
                for ch in text:
                        keys += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
                self._actions([{"type": "key", "id": "keyboard", "actions": keys}])

        def _actions(self, actions):
                self.cmd("input.performActions", {"context": self.context, "actions": actions})
                self.cmd("input.releaseActions", {"context": self.context})

        # --- what the page logged

        def problems(self):
                """Log entries that are a script error (uncaught, or console.error) or a CSP violation, which
                Firefox logs as a javascript error starting "Content-Security-Policy:".  Unlike Chromium it logs
                no line for an HTTP error answer, so an API call refused on purpose needs no exception here."""
                bad = []
                for e in self.log:
                        t = e.get("text") or ""
                        if (e.get("level") == "error" or "Content-Security-Policy" in t
                                        or "Content Security Policy" in t):
                                bad.append({k: e.get(k) for k in ("type", "level", "text")})
                return bad

        def stop(self):
                ws = getattr(self, "ws", None)
                if ws is not None:
                        try:
                                self.cmd("session.end", {}, timeout=5)
                        except Exception:
                                pass  # it may be gone already
                        ws.close()
                if self.proc.poll() is None:
                        try:
                                os.killpg(self.proc.pid, signal.SIGTERM)
                                self.proc.wait(STOP_TIMEOUT)
                        except subprocess.TimeoutExpired:
                                os.killpg(self.proc.pid, signal.SIGKILL)
                                self.proc.wait()
                        except ProcessLookupError:
                                pass
                # Content processes may outlive the parent for a moment: the group goes too.
                try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                        pass
                self.sinkhole.close()
                shutil.rmtree(self.tmp, ignore_errors=True)
