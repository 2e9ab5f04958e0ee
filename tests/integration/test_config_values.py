"""Issue 11's values and vault through the real CLI and daemon: config set/unset/list of env and file values
per project-wide and component slot, secrets write-only in the API and CLI, every refusal with one sentence
and nothing changed, no secret byte anywhere under the state dir, a wrong or missing master key refused with
the state dir unchanged, a rotation killed with SIGKILL losing nothing, and a ciphertext copied to another slot
refusing to open."""
import base64
import hashlib
import http.client
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import assert_clean_error, free_port

VALUE_MAX = 64 * 1024
ENV_TOTAL_MAX = 1024 * 1024


def api(d, method, path, body=None):
        """(status, JSON) of one API call, straight over HTTP (fast for thousands of values)."""
        host, port = d.url.removeprefix("http://").split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        data = None if body is None else json.dumps(body).encode()
        c.request(method, "/api/v1/" + path, body=data,
                  headers={"Authorization": f"Bearer {d.token}", "Content-Type": "application/json"})
        r = c.getresponse()
        out = r.read()
        c.close()
        return r.status, (json.loads(out) if out else None)


def configs(d, target, env):
        return d.cli("config", "list", target, env)["configs"]


def all_lists(d):
        """Every slot's list of the test project: what "nothing changed" compares."""
        return {(t, e): configs(d, t, e) for t in ("shop", "shop/web", "shop/api")
                for e in ("development", "production")}


@pytest.fixture
def shop(daemon):
        daemon.cli("project", "create", "shop")
        daemon.cli("component", "create", "shop/web", "--image", "busybox:1", "--endpoint", "http:8080")
        daemon.cli("component", "create", "shop/api", "--image", "busybox:1", "--endpoint", "http:8080")
        return daemon


def test_set_list_unset_env_and_file_values(shop, tmp_path):
        d = shop
        out = d.cli("config", "set", "shop", "development", "DATABASE_URL=postgres://db/app")
        assert out["config"]["key"] == "DATABASE_URL" and out["config"]["version"] == 1
        assert out["config"]["kind"] == "env" and out["config"]["secret"] is False
        assert "value" not in out["config"]  # set answers with metadata only
        d.cli("config", "set", "shop", "development", "DATABASE_URL=postgres://db/app2")
        d.cli("config", "set", "shop/web", "development", "DATABASE_URL=postgres://web-own")
        pem = tmp_path / "key.pem"
        content = b"-----BEGIN KEY-----\n\x00\x01\xfe binary\n-----END KEY-----\n"
        pem.write_bytes(content)
        out = d.cli("config", "set", "shop/web", "development", "TLS_KEY", "--file", "/etc/app/key.pem",
                    "--from-file", str(pem))
        assert out["config"]["kind"] == "file" and out["config"]["path"] == "/etc/app/key.pem"
        assert out["config"]["size"] == len(content)
        # A value from standard input.
        p = subprocess.run(d.cli_argv("config", "set", "shop", "production", "FROM_STDIN", "--from-file", "-"),
                           input=b"piped value", capture_output=True)
        assert p.returncode == 0, p.stderr

        shared = configs(d, "shop", "development")
        assert [(c["key"], c["version"], c["value"]) for c in shared] == [("DATABASE_URL", 2, "postgres://db/app2")]
        assert shared[0]["component"] is None and shared[0]["set_at"] > 0
        web = {c["key"]: c for c in configs(d, "shop/web", "development")}
        assert web["DATABASE_URL"]["value"] == "postgres://web-own" and web["DATABASE_URL"]["component"] == "web"
        assert base64.b64decode(web["TLS_KEY"]["value_base64"]) == content
        assert configs(d, "shop/api", "development") == []
        assert [c["value"] for c in configs(d, "shop", "production")] == ["piped value"]

        human = d.cli("config", "list", "shop/web", "development", json=False).stdout.splitlines()
        assert human[0].split() == ["KEY", "VERSION", "KIND", "VALUE", "SET"]
        assert any(l.split()[:4] == ["DATABASE_URL", "1", "env", "postgres://web-own"] for l in human)
        assert any(l.split()[:4] == ["TLS_KEY", "1", "file", "/etc/app/key.pem"] for l in human)

        out = d.cli("config", "unset", "shop/web", "development", "DATABASE_URL")
        assert out["deleted"] is True and out["version"] == 2 and out["key"] == "DATABASE_URL"
        assert [c["key"] for c in configs(d, "shop/web", "development")] == ["TLS_KEY"]
        # Unset twice: the second one has nothing to remove.
        assert_clean_error(d.cli("config", "unset", "shop/web", "development", "DATABASE_URL", json=False,
                                 check=False), "DATABASE_URL", "no value")
        # Set again after an unset: the next version.
        out = d.cli("config", "set", "shop/web", "development", "DATABASE_URL=back")
        assert out["config"]["version"] == 3
        # Values go with their project.
        d.cli("project", "delete", "shop", "--force")
        d.cli("project", "create", "shop")
        assert configs(d, "shop", "development") == []


def test_secret_is_write_only(shop):
        d = shop
        value = "s3cr3t-" + secrets.token_hex(16)
        out = d.cli("config", "set", "shop", "production", f"API_TOKEN={value}", "--secret")
        human = d.cli("config", "set", "shop/web", "production", f"API_TOKEN={value}", "--secret", json=False)
        assert human.returncode == 0 and value not in human.stdout + human.stderr
        assert out["config"]["secret"] is True and value not in json.dumps(out)
        for target in ("shop", "shop/web"):
                listed = configs(d, target, "production")
                assert [(c["key"], c["secret"], c["size"], c["version"]) for c in listed] == \
                        [("API_TOKEN", True, len(value), 1)]
                assert "value" not in listed[0] and "value_base64" not in listed[0]
                text = d.cli("config", "list", target, "production", json=False).stdout
                assert "API_TOKEN" in text and "secret" in text and value not in text
                raw = json.dumps(api(d, "GET", f"projects/shop{'/components/web' if '/' in target else ''}"
                                               "/environments/production/configs")[1])
                assert value not in raw and "API_TOKEN" in raw
        assert value not in d.log()


def refusal(d, *args, words=()):
        p = d.cli(*args, json=False, check=False)
        return assert_clean_error(p, *words)


def test_refusals_change_nothing(shop, tmp_path):
        d = shop
        d.cli("config", "set", "shop", "development", "KEEP=1")
        d.cli("config", "set", "shop/web", "development", "CERT", "--file", "/etc/app/cert.pem", "--from-file",
              "/etc/hostname")
        before = all_lists(d)
        big = tmp_path / "big"
        big.write_bytes(b"x" * (VALUE_MAX + 1))
        nul = tmp_path / "nul"
        nul.write_bytes(b"a\x00b")
        cases = [
                (("config", "set", "shop", "development", "1BAD=x"), ["1BAD"]),
                (("config", "set", "shop", "development", "BAD-NAME=x"), ["BAD-NAME"]),
                (("config", "set", "shop", "development", "A=x", "--file", "relative/path"), ["absolute"]),
                (("config", "set", "shop", "development", "A=x", "--file", "/proc/self/environ"), ["/proc"]),
                (("config", "set", "shop", "development", "A=x", "--file", "/sys/x"), ["/sys"]),
                (("config", "set", "shop", "development", "A", "--from-file", str(big)), ["64 KiB"]),
                (("config", "set", "shop", "development", "A", "--from-file", str(nul)), ["NUL"]),
                (("config", "set", "shop", "development", "A", "--from-file", str(tmp_path / "missing")),
                 ["missing"]),
                (("config", "set", "shop", "nope", "A=x"), ["nope", "development"]),
                (("config", "set", "nope", "development", "A=x"), ["nope"]),
                (("config", "set", "shop/nope", "development", "A=x"), ["nope"]),
                (("config", "set", "shop/web", "development", "CERT2=x", "--file", "/etc/app/cert.pem"),
                 ["CERT", "/etc/app/cert.pem"]),
                (("config", "unset", "shop", "development", "NEVER_SET"), ["NEVER_SET"]),
                (("config", "unset", "shop", "nope", "KEEP"), ["nope"]),
                (("config", "list", "shop", "nope"), ["nope"]),
        ]
        for args, words in cases:
                refusal(d, *args, words=words)
        # Usage errors (exit 2) say what to type.
        for args in (("config", "set", "shop", "development", "A=x", "--from-file", "/etc/hostname"),
                     ("config", "set", "shop", "development", "NOEQUALS"),
                     ("config", "set", "shop", "development")):
                p = d.cli(*args, json=False, check=False)
                assert p.returncode == 2 and p.stderr.startswith("Error: "), p.stderr

        # An environment holds at most 1 MiB of current values, project-wide and components' together.
        chunk = tmp_path / "chunk"
        chunk.write_bytes(b"y" * VALUE_MAX)
        for i in range(ENV_TOTAL_MAX // VALUE_MAX - 1):
                d.cli("config", "set", "shop/api" if i % 2 else "shop", "production", f"FILL_{i}", "--from-file",
                      str(chunk))
        d.cli("config", "set", "shop/web", "production", "LAST", "--from-file", str(chunk))
        full = all_lists(d)
        assert sum(c["size"] for (t, e), v in full.items() if e == "production" for c in v) == ENV_TOTAL_MAX
        refusal(d, "config", "set", "shop/web", "production", "ONE_MORE=z", words=["1024 KiB"])
        # Replacing a value with one of the same size still fits; development is its own environment.
        d.cli("config", "set", "shop", "production", "FILL_0", "--from-file", str(chunk))
        d.cli("config", "set", "shop", "development", "OTHER_ENV=fits")
        after = all_lists(d)
        assert after[("shop/web", "production")] == full[("shop/web", "production")]
        assert [c["key"] for c in after[("shop", "development")]] == ["KEEP", "OTHER_ENV"]
        assert after[("shop/web", "development")] == before[("shop/web", "development")]


def walk_files(root):
        for dirpath, _, files in os.walk(root):
                for f in files:
                        p = Path(dirpath) / f
                        if p.is_file() and not p.is_symlink():
                                yield p


def test_secret_bytes_nowhere_on_disk(shop):
        d = shop
        value = "TOPSECRET-" + secrets.token_hex(20)
        d.cli("config", "set", "shop", "production", f"DB_PASSWORD={value}", "--secret")
        p = subprocess.run(d.cli_argv("config", "set", "shop/web", "production", "KEY_FILE", "--secret", "--file",
                                      "/run/secrets/key", "--from-file", "-"),
                           input=value.encode() + b"-file", capture_output=True)
        assert p.returncode == 0, p.stderr
        needles = [value.encode(), base64.b64encode(value.encode()), value.encode("utf-16-le")]

        def scan():
                hits = []
                for f in list(walk_files(d.state_dir)) + [d.log_path]:
                        try:
                                data = f.read_bytes()
                        except OSError:
                                continue
                        hits += [str(f) for n in needles if n in data]
                return hits

        assert scan() == []  # while running: slipway.db, its -wal, logs
        d.cli("vault", "rotate")
        assert scan() == []
        d.stop()
        assert scan() == []
        d.start()
        assert [c["key"] for c in configs(d, "shop", "production")] == ["DB_PASSWORD"]


def snapshot(state_dir):
        """Every file and dir under the state dir with its size and hash (slipwayd.lock holds the pid of the
        last daemon that took the lock, which is taken before anything else)."""
        out = {}
        for dirpath, dirs, files in os.walk(state_dir):
                for n in dirs:
                        out[os.path.relpath(os.path.join(dirpath, n), state_dir)] = "dir"
                for n in files:
                        p = os.path.join(dirpath, n)
                        rel = os.path.relpath(p, state_dir)
                        if rel == "slipwayd.lock" or not os.path.isfile(p):
                                out[rel] = "special"
                                continue
                        out[rel] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
        return out


def run_slipwayd(d, env=None):
        return subprocess.run([str(d.build.slipwayd), "--state-dir", str(d.state_dir), "--api",
                               f"127.0.0.1:{free_port()}", "--ingress-base-port", str(d.ingress_base)],
                              capture_output=True, text=True, timeout=60,
                              env={**{k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")},
                                   **(env or {})})


def test_wrong_or_missing_master_key_refuses_and_changes_nothing(shop, tmp_path):
        d = shop
        d.cli("config", "set", "shop", "development", "KEEP=me")
        d.stop()
        key = d.state_dir / "master.key"
        good = key.read_bytes()

        key.write_bytes(os.urandom(32))
        before = snapshot(d.state_dir)
        p = run_slipwayd(d)
        err = assert_clean_error(p, str(key), "does not open", "master key")
        assert snapshot(d.state_dir) == before, err

        key.unlink()
        before = snapshot(d.state_dir)
        p = run_slipwayd(d)
        assert_clean_error(p, str(key), "missing")
        assert snapshot(d.state_dir) == before
        assert not key.exists()

        key.write_bytes(good)
        key.chmod(0o644)
        before = snapshot(d.state_dir)
        p = run_slipwayd(d)
        assert_clean_error(p, "chmod 600")
        assert snapshot(d.state_dir) == before
        key.chmod(0o600)

        # A systemd credential with the right key wins over a wrong DIR/master.key.
        creds = tmp_path / "creds"
        creds.mkdir(mode=0o700)
        (creds / "slipway-master-key").write_bytes(good.hex().encode() + b"\n")
        (creds / "slipway-master-key").chmod(0o400)
        key.write_bytes(os.urandom(32))
        logf = tmp_path / "credential.log"
        with open(logf, "wb") as out:
                proc = subprocess.Popen([str(d.build.slipwayd), "--state-dir", str(d.state_dir), "--api", d.api,
                                         "--ingress-base-port", str(d.ingress_base)],
                                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env={**os.environ, "CREDENTIALS_DIRECTORY": str(creds)})
        try:
                deadline = time.monotonic() + 30
                while b"slipwayd ready on" not in logf.read_bytes():
                        assert proc.poll() is None and time.monotonic() < deadline, logf.read_text()
                        time.sleep(0.1)
                status, out = api(d, "GET", "projects/shop/environments/development/configs")
                assert status == 200 and [c["value"] for c in out["configs"]] == ["me"], out
        finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
                d._stop_proxies()
        key.write_bytes(good)
        d.start()
        assert [c["value"] for c in configs(d, "shop", "development")] == ["me"]


ROTATE_VALUES = 5000


def set_many(d, n):
        """n values over the API from a few threads: KEY_i = value-i, a quarter of them secret."""
        errors = []

        def worker(start):
                for i in range(start, n, 4):
                        target = "projects/shop" + ("/components/web" if i % 3 == 0 else "")
                        env = "development" if i % 2 else "production"
                        status, out = api(d, "PUT", f"{target}/environments/{env}/configs/KEY_{i}",
                                          {"value": f"value-{i}", "secret": i % 4 == 0})
                        if status != 200:
                                errors.append((i, status, out))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
                t.start()
        for t in threads:
                t.join()
        assert not errors, errors[:3]


def check_all_values(d, n):
        seen = 0
        for target in ("shop", "shop/web"):
                for env in ("development", "production"):
                        for c in configs(d, target, env):
                                i = int(c["key"].split("_")[1])
                                assert c["secret"] == (i % 4 == 0)
                                if not c["secret"]:
                                        assert c["value"] == f"value-{i}"
                                seen += 1
        assert seen == n


@pytest.mark.slow
def test_rotation_killed_loses_nothing(shop):
        d = shop
        set_many(d, ROTATE_VALUES)
        check_all_values(d, ROTATE_VALUES)
        first = d.cli("vault", "rotate")
        assert first["rewrapped"] == ROTATE_VALUES and first["retired"] == [1] and first["key_version"] == 2
        interrupted = 0
        delays = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15)
        for delay in delays:
                rot = subprocess.Popen(d.cli_argv("vault", "rotate"), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
                time.sleep(delay)
                os.kill(d.pid, signal.SIGKILL)
                d.proc.wait()
                rot.wait(30)
                interrupted += rot.returncode != 0
                d.start()
                check_all_values(d, ROTATE_VALUES)
                # Exactly one data key version is left in use.
                d.stop()
                db = sqlite3.connect(d.state_dir / "slipway.db")
                live = db.execute("SELECT count(*) FROM vault_keys WHERE wrapped_key IS NOT NULL").fetchone()[0]
                stale = db.execute("SELECT count(*) FROM config_values c JOIN vault_keys k"
                                   " ON k.version = c.key_version WHERE k.wrapped_key IS NULL").fetchone()[0]
                db.close()
                assert live == 1 and stale == 0
                d.start()
        print(f"rotation of {ROTATE_VALUES} values: {first['duration_us'] / 1000:.1f} ms; {interrupted} of {len(delays)} "
              f"rotations killed before they answered")
        assert interrupted >= 1, "no kill landed before the rotation finished"


def test_copied_ciphertext_fails_to_open(shop):
        d = shop
        d.cli("config", "set", "shop", "development", "TOKEN=dev-token")
        d.cli("config", "set", "shop", "production", "TOKEN=prod-token")
        d.cli("config", "set", "shop", "production", "OTHER=other")
        d.stop()
        db = sqlite3.connect(d.state_dir / "slipway.db")
        src = db.execute("SELECT c.nonce, c.ciphertext, c.size, c.key_version FROM config_values c"
                         " JOIN environments e ON e.id = c.environment_id"
                         " WHERE c.key = 'TOKEN' AND e.name = 'development'").fetchone()
        db.execute("UPDATE config_values SET nonce = ?, ciphertext = ?, size = ?, key_version = ?"
                   " WHERE key = 'TOKEN' AND environment_id = (SELECT id FROM environments WHERE name = 'production')",
                   src)
        db.commit()
        db.close()
        d.start()
        assert [c["value"] for c in configs(d, "shop", "development")] == ["dev-token"]
        err = refusal(d, "config", "list", "shop", "production", words=["TOKEN", "production", "decrypt"])
        assert "dev-token" not in err


def test_rotation_leaves_no_old_key_or_ciphertext(shop):
        d = shop
        for i in range(20):
                d.cli("config", "set", "shop", "development", f"K{i}=value-{i}", *(["--secret"] if i % 2 else []))
        db = sqlite3.connect(d.state_dir / "slipway.db")
        old_key = db.execute("SELECT wrapped_key FROM vault_keys WHERE version = 1").fetchone()[0]
        old_cts = [r[0] for r in db.execute("SELECT ciphertext FROM config_values")]
        db.close()
        assert old_key and len(old_cts) == 20
        out = d.cli("vault", "rotate")
        assert out["retired"] == [1] and out["wal_truncated"] is True
        d.stop()
        db = sqlite3.connect(d.state_dir / "slipway.db")
        assert db.execute("SELECT wrapped_key, nonce FROM vault_keys WHERE version = 1").fetchone() == (None, None)
        assert db.execute("SELECT retired_at FROM vault_keys WHERE version = 1").fetchone()[0] > 0
        db.close()
        for f in walk_files(d.state_dir):
                data = f.read_bytes()
                assert old_key not in data, f"the retired wrapped key is still in {f}"
                assert not [c for c in old_cts if c in data], f"an old ciphertext is still in {f}"
        d.start()
        assert [c["value"] for c in configs(d, "shop", "development") if not c["secret"]] == \
                [f"value-{i}" for i in sorted(range(0, 20, 2), key=lambda i: f"K{i}")]
