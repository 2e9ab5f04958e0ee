"""Issue 14, console sessions: POST /api/v1/session logs in with a user's name and password and sets an
HttpOnly, SameSite=Strict session cookie (Secure behind a TLS proxy); a wrong name or password is 401 with
one sentence, and after 5 failures for one user name or from one address the next attempt is 429 with
Retry-After.  The cookie authenticates reads; a write also needs the session's CSRF token (X-CSRF-Token)
and, when the browser names one, the daemon's own Origin, so a cross-site HTML form is refused.  Logout,
removing the user and changing its password end sessions at once; sessions end when idle or old, and
survive a restart of slipwayd.  Addresses of "other clients" are given as X-Forwarded-For, which slipwayd
takes from a proxy on its own host (a loopback peer)."""
import itertools
import re
import sqlite3

import pytest
import requests

COOKIE = "slipway_session"
CSRF_SENTENCE = "The request's CSRF token is missing or wrong; reload the console."
WRONG = "Wrong user name or password."
_addresses = (f"10.77.{i // 250}.{i % 250 + 1}" for i in itertools.count())


def fresh_address():
        """An address no other test logged in from (the throttle counts per address)."""
        return next(_addresses)


def set_password(d, name, password):
        d.cli("user", "passwd", name, "--password-stdin", input=password + "\n", json=False)


def login(d, name, password, session=None, headers=None):
        s = session or requests.Session()
        h = {"X-Forwarded-For": fresh_address()}
        h.update(headers or {})
        r = s.post(f"{d.url}/api/v1/session", json={"name": name, "password": password}, headers=h, timeout=30)
        return s, r


def logged_in(d, name, password):
        """A requests session holding the cookie, and the login's document (csrf_token …)."""
        s, r = login(d, name, password)
        assert r.status_code == 200, r.text
        assert s.cookies.get(COOKIE), r.headers
        return s, r.json()


def write(d, s, method, path, csrf=None, body=None, headers=None):
        h = dict(headers or {})
        if csrf:
                h["X-CSRF-Token"] = csrf
        return s.request(method, f"{d.url}/api/v1/{path}", json=body, headers=h, timeout=30)


@pytest.fixture(scope="module")
def sd(module_daemon):
        set_password(module_daemon, "admin", "admin-password-1")
        return module_daemon


def test_login_sets_a_strict_http_only_cookie(sd):
        d = sd
        s, r = login(d, "admin", "admin-password-1")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["user"] == "admin" and doc["role"] == "admin"
        assert re.fullmatch(r"[0-9a-f]{64}", doc["csrf_token"]) and doc["expires_at"] > 0
        sc = r.headers["Set-Cookie"]
        assert re.match(COOKIE + r"=[0-9a-f]{64}; ", sc), sc
        attrs = [a.strip() for a in sc.split(";")[1:]]
        assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/" in attrs, sc
        assert "Secure" not in attrs, sc  # plain http: a browser would drop a Secure cookie
        assert any(a.startswith("Max-Age=") and int(a[8:]) > 0 for a in attrs), sc
        # the cookie is kept hashed: its value is nowhere in the database
        cookie = s.cookies.get(COOKIE)
        db = (d.state_dir / "slipway.db").read_bytes() + (d.state_dir / "slipway.db-wal").read_bytes() \
                if (d.state_dir / "slipway.db-wal").exists() else (d.state_dir / "slipway.db").read_bytes()
        assert cookie.encode() not in db and bytes.fromhex(cookie) not in db
        # GET session tells the console who it is, with the same CSRF token
        g = s.get(f"{d.url}/api/v1/session", timeout=10)
        assert g.status_code == 200 and g.json()["csrf_token"] == doc["csrf_token"], g.text
        # behind a TLS-terminating proxy the cookie is Secure
        _, r = login(d, "admin", "admin-password-1", headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 200 and "Secure" in [a.strip() for a in r.headers["Set-Cookie"].split(";")]


def test_wrong_name_or_password_is_one_sentence(sd):
        d = sd
        for name, pw in (("admin", "not-the-password"), ("nobody", "admin-password-1"), ("admin", "")):
                _, r = login(d, name, pw)
                assert r.status_code == 401 and r.json()["error"] == WRONG, r.text
                assert "Set-Cookie" not in r.headers
        # a user with no password cannot log in at all
        d.cli("user", "add", "nopw", "--role", "viewer", json=False)
        d.cli("user", "passwd", "nopw", json=False)  # a made one nobody here knows
        _, r = login(d, "nopw", "")
        assert r.status_code == 401 and r.json()["error"] == WRONG
        for body in ({"name": "admin"}, {"password": "x"}, {"name": 1, "password": "x"}, {"name": "a", "password": "b", "x": 1}):
                r = requests.post(f"{d.url}/api/v1/session", json=body, timeout=10,
                                  headers={"X-Forwarded-For": fresh_address()})
                assert r.status_code == 400 and r.json()["error"] and r.json()["hint"], (body, r.text)


def test_sixth_failure_for_a_user_is_throttled(sd):
        d = sd
        set_password(d, "admin", "admin-password-1")
        d.cli("user", "add", "victim", "--role", "developer", "--password-stdin", input="victim-password\n")
        for _ in range(5):  # each from another address: the user name is what is counted
                _, r = login(d, "victim", "guess")
                assert r.status_code == 401, r.text
        _, r = login(d, "victim", "victim-password")  # even the right password waits now
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 300 and "try again in" in r.json()["error"]
        # other users are not affected
        assert login(d, "admin", "admin-password-1")[1].status_code == 200


def test_sixth_failure_from_an_address_is_throttled(sd):
        d = sd
        addr = fresh_address()
        for i in range(5):
                _, r = login(d, f"guess{i}", "guess", headers={"X-Forwarded-For": addr})
                assert r.status_code == 401, r.text
        _, r = login(d, "admin", "admin-password-1", headers={"X-Forwarded-For": addr})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
        # from another address the same user logs in
        assert login(d, "admin", "admin-password-1")[1].status_code == 200


def test_cookie_reads_and_csrf_guarded_writes(sd):
        d = sd
        s, doc = logged_in(d, "admin", "admin-password-1")
        csrf = doc["csrf_token"]
        assert s.get(f"{d.url}/api/v1/status", timeout=10).status_code == 200
        assert s.get(f"{d.url}/api/v1/projects", timeout=10).json()["projects"] is not None
        # a write without the token, or with a wrong one: 403 with the sentence, nothing made
        for token in (None, "0" * 64, csrf[:-1], csrf.upper()):
                r = write(d, s, "POST", "projects", token, {"name": "csrfp"})
                assert r.status_code == 403 and r.json()["error"] == CSRF_SENTENCE, r.text
        # another site's origin, even with the right token
        r = write(d, s, "POST", "projects", csrf, {"name": "csrfp"}, {"Origin": "http://evil.example"})
        assert r.status_code == 403 and r.json()["error"] == CSRF_SENTENCE, r.text
        assert "csrfp" not in {p["name"] for p in d.cli("project", "list")["projects"]}
        # with the token, from the daemon's own origin (or naming none): done
        r = write(d, s, "POST", "projects", csrf, {"name": "csrfp"}, {"Origin": d.url})
        assert r.status_code == 201, r.text
        r = write(d, s, "DELETE", "projects/csrfp", csrf)
        assert r.status_code == 200, r.text


def test_cross_site_form_post_is_refused(sd):
        d = sd
        s, _ = logged_in(d, "admin", "admin-password-1")
        form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
        # a browser that sent the cookie anyway: no CSRF header, foreign origin
        r = s.post(f"{d.url}/api/v1/projects", data='{"name":"formp"}', headers=form, timeout=10)
        assert r.status_code == 403 and r.json()["error"] == CSRF_SENTENCE, r.text
        # one that honoured SameSite=Strict sends no cookie: no credentials at all
        r = requests.post(f"{d.url}/api/v1/projects", data='{"name":"formp"}', headers=form, timeout=10)
        assert r.status_code == 401, r.text
        r = requests.post(f"{d.url}/api/v1/session", data="name=admin&password=admin-password-1", headers=form,
                          timeout=10)
        assert r.status_code == 403 and "Set-Cookie" not in r.headers, r.text
        assert "formp" not in {p["name"] for p in d.cli("project", "list")["projects"]}


def test_logout_refuses_the_cookie(sd):
        d = sd
        s, doc = logged_in(d, "admin", "admin-password-1")
        cookie = s.cookies.get(COOKIE)
        assert write(d, s, "DELETE", "session").status_code == 403  # logout is a write too
        r = write(d, s, "DELETE", "session", doc["csrf_token"])
        assert r.status_code == 200, r.text
        assert "Max-Age=0" in r.headers["Set-Cookie"]
        r = requests.get(f"{d.url}/api/v1/status", cookies={COOKIE: cookie}, timeout=10)
        assert r.status_code == 401 and "log in again" in r.json()["error"], r.text
        assert requests.get(f"{d.url}/api/v1/session", cookies={COOKIE: cookie}, timeout=10).status_code == 401
        # a made-up cookie, and none at all
        assert requests.get(f"{d.url}/api/v1/status", cookies={COOKIE: "a" * 64}, timeout=10).status_code == 401
        assert requests.get(f"{d.url}/api/v1/session", timeout=10).status_code == 401


def test_removed_user_and_changed_password_end_sessions_at_once(sd):
        d = sd
        d.cli("user", "add", "bob", "--role", "developer", "--password-stdin", input="bob-password-1\n")
        s, doc = logged_in(d, "bob", "bob-password-1")
        assert doc["role"] == "developer"
        other, _ = logged_in(d, "bob", "bob-password-1")
        # bob changes his password through one session: the other one ends, this one stays
        r = write(d, s, "PUT", "users/bob/password", doc["csrf_token"], {"password": "bob-password-2"})
        assert r.status_code == 200, r.text
        assert other.get(f"{d.url}/api/v1/status", timeout=10).status_code == 401
        assert s.get(f"{d.url}/api/v1/status", timeout=10).status_code == 200
        # roles hold for sessions as for tokens
        r = write(d, s, "POST", "projects", doc["csrf_token"], {"name": "bobp"})
        assert r.status_code == 403 and r.json()["error"] == "Your role (developer) may not do this; ask an admin."
        d.cli("user", "rm", "bob", json=False)
        r = s.get(f"{d.url}/api/v1/status", timeout=10)
        assert r.status_code == 401, r.text
        assert login(d, "bob", "bob-password-2")[1].status_code == 401


def test_console_paths_need_no_credentials_and_the_rest_does(sd):
        d = sd
        # The console's files pass the gate without credentials: the page, its assets; an unknown name is 404.
        for path, status in (("/", 200), ("/?x=1", 200), ("/console/app.js", 200), ("/console/", 404),
                             ("/console/nope.js", 404)):
                r = requests.get(d.url + path, timeout=10)
                assert r.status_code == status and "Content-Security-Policy" in r.headers, (path, r.status_code)
        for path in ("/console/../api/v1/status", "/console/%2e%2e/api/v1/status", "/api/v1/status", "/other"):
                r = requests.get(d.url + path, timeout=10)
                assert r.status_code == 401, (path, r.status_code, r.text)
        assert requests.post(d.url + "/console/x", timeout=10).status_code == 401


def test_sessions_end_when_idle_or_old_and_survive_a_restart(start_daemon):
        import time
        d = start_daemon(extra_args=("--session-idle-timeout", "3s", "--session-lifetime", "9s"))
        set_password(d, "admin", "admin-password-1")
        s, doc = logged_in(d, "admin", "admin-password-1")
        assert doc["idle_timeout_sec"] == 3 and doc["expires_at"] - time.time() <= 9
        # idle: used every second it lives on, past its idle timeout
        for _ in range(4):
                time.sleep(1)
                assert s.get(f"{d.url}/api/v1/status", timeout=10).status_code == 200
        # restart: the session is still there
        d.stop()
        d.start()
        assert s.get(f"{d.url}/api/v1/status", timeout=10).status_code == 200
        # absolute: after 9 s it ends however busy (sent by hand: the client's jar drops it at Max-Age too)
        jar = {COOKIE: s.cookies.get(COOKIE)}
        deadline = time.monotonic() + 15
        while requests.get(f"{d.url}/api/v1/status", cookies=jar, timeout=10).status_code == 200:
                assert time.monotonic() < deadline, "the session outlived its lifetime"
                time.sleep(0.5)
        assert time.time() >= doc["expires_at"] - 1
        r = requests.get(f"{d.url}/api/v1/status", cookies=jar, timeout=10)
        assert r.status_code == 401 and "ended" in r.json()["error"]
        # idle: unused for longer than 3 s
        s, _ = logged_in(d, "admin", "admin-password-1")
        assert s.get(f"{d.url}/api/v1/status", timeout=10).status_code == 200
        time.sleep(3.5)
        assert s.get(f"{d.url}/api/v1/status", timeout=10).status_code == 401
        # ended sessions leave the database at the next login
        logged_in(d, "admin", "admin-password-1")
        rows = sqlite3.connect(d.state_dir / "slipway.db").execute("SELECT count(*) FROM sessions").fetchone()[0]
        assert rows == 1
