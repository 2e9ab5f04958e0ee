"""Values reach an instance at run time only (issue 11, item 3): environment values through the bundle's
process.env, file values on a read-only tmpfs owned by the container's user, the bundle itself on a tmpfs
under /run.  The secret bytes appear in no file under the state dir and on no command line or environment
of a host process; inside the container they are exactly as set.  Known secrets are scrubbed from
`slipway logs` (also --follow) and from the deploy log and failure reason of a failing deploy."""

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from deploy_util import (build_image, http_get, ingress_url, make_site, release_doc,
                         running_deploy_daemon, simulate_reboot, wait_for)

RUN_ROOT = "/run/slipway/instances"
TOKEN_PATH = "/etc/app/token"
SETTINGS_PATH = "/etc/app/settings.conf"
# Unique enough that no file of the state dir has them by chance.
ENV_SECRET = "env-s3cret-7d41c9e08b"
FILE_SECRET = "file-s3cret-2b8f5a17c3\n"
PLAIN = "plain-value-0c6e"
SETTINGS = "mode=demo\nlevel=3\n"
LEAK_SECRET = "leak-s3cret-94e2d07a1f"


def make_app(dir, text, cmd=None, user=None):
        """make_site() plus /cgi-bin/env: what the app sees — its environment, both files with content, owner
        and mode, and whether a write to the token file fails.  The image sets GREETING=from-image (a value
        of the same name must win)."""
        ctx = make_site(dir, text, cmd=cmd)
        cgi = ctx / "www" / "cgi-bin" / "env"
        cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                       'echo "greeting=$GREETING"\n'
                       'echo "api_secret=$API_SECRET"\n'
                       f'echo "token_b64=$(base64 {TOKEN_PATH} | tr -d "\\n")"\n'
                       f'echo "token_stat=$(stat -c %u:%g:%a {TOKEN_PATH})"\n'
                       f'echo "settings_b64=$(base64 {SETTINGS_PATH} | tr -d "\\n")"\n'
                       f'echo "settings_stat=$(stat -c %u:%g:%a {SETTINGS_PATH})"\n'
                       'echo "me=$(id -u):$(id -g)"\n'
                       f'(echo x > {TOKEN_PATH}) 2>/dev/null && echo write=ok || echo write=refused\n'
                       f'(echo x >> {SETTINGS_PATH}) 2>/dev/null && echo append=ok || echo append=refused\n'
                       f'chmod 666 {TOKEN_PATH} 2>/dev/null && echo chmod=ok || echo chmod=refused\n')
        cgi.chmod(0o755)
        df = ctx / "Dockerfile"
        lines = df.read_text().splitlines()
        lines.insert(1, "ENV GREETING=from-image")
        if user:
                lines.insert(2, f"USER {user}")
        df.write_text("\n".join(lines) + "\n")
        return ctx


def seen(d, project, comp, env="development"):
        status, body = http_get(ingress_url(d, project, comp, env) + "cgi-bin/env")
        assert status == 200, (status, body)
        return dict(l.split("=", 1) for l in body.splitlines() if "=" in l)


def b64(s):
        import base64
        return base64.b64encode(s.encode()).decode()


def instance_of(d, project, comp, rid):
        (inst,) = [i for i in release_doc(d, project, comp, rid)["instances"]]
        return inst


def run_dir_of(d, instance_id):
        """The instance's tmpfs, as its bundle symlink in DIR/instances/ID names it."""
        link = d.state_dir / "instances" / str(instance_id) / "bundle"
        assert link.is_symlink(), f"{link} is no symlink into the instance's tmpfs"
        target = os.readlink(link)
        assert target.startswith(RUN_ROOT + "/") and target.endswith("/bundle"), target
        return target[:-len("/bundle")]


def mounts():
        """mount point → (fs type, options) of the host's mount table."""
        out = {}
        for l in Path("/proc/self/mounts").read_text().splitlines():
                f = l.split()
                out[f[1]] = (f[2], f[3].split(","))
        return out


def files_holding(root, needles):
        """Every regular file under root (not following symlinks) whose bytes hold one of needles."""
        hits = []
        for dirpath, dirnames, filenames in os.walk(root):
                for n in filenames:
                        p = os.path.join(dirpath, n)
                        try:
                                st = os.lstat(p)
                                if not stat.S_ISREG(st.st_mode):
                                        continue
                                data = Path(p).read_bytes()
                        except OSError:
                                continue
                        for s in needles:
                                if s in data:
                                        hits.append((p, s))
        return hits


def host_processes_holding(needles):
        """Host processes (our pid namespace: slipwayd, slipway-proxy, systemd-nspawn, …, not the containers'
        payloads) whose command line or environment holds one of needles; and how many were looked at."""
        own = os.stat("/proc/self/ns/pid").st_ino
        hits, looked = [], 0
        for pid in os.listdir("/proc"):
                if not pid.isdigit():
                        continue
                try:
                        if os.stat(f"/proc/{pid}/ns/pid").st_ino != own:
                                continue
                        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                        environ = Path(f"/proc/{pid}/environ").read_bytes()
                except OSError:
                        continue
                looked += 1
                for s in needles:
                        if s in cmdline or s in environ:
                                hits.append((int(pid), cmdline[:200], s))
        return hits, looked


def nspawn_pids(state_dir):
        out = []
        for pid in os.listdir("/proc"):
                if pid.isdigit():
                        try:
                                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                        except OSError:
                                continue
                        if argv and os.path.basename(argv[0]) == b"systemd-nspawn" and \
                                        any(str(state_dir).encode() in a for a in argv):
                                out.append(int(pid))
        return out


@pytest.fixture
def daemon(build_dir, images, tmp_path):
        with running_deploy_daemon(build_dir, tmp_path / "state", images) as d:
                yield d, tmp_path


def set_values(d, target, tmp):
        """The four values through `slipway config set`; the secrets from standard input or a local file, so
        they are on no command line either."""
        d.cli("config", "set", target, "development", f"GREETING={PLAIN}")
        d.cli("config", "set", target, "development", "API_SECRET", "--from-file", "-", "--secret",
              input=ENV_SECRET)
        token = tmp / "token.txt"
        token.write_text(FILE_SECRET)
        d.cli("config", "set", target, "development", "TOKEN", "--from-file", token, "--file", TOKEN_PATH,
              "--secret")
        settings = tmp / "settings.txt"
        settings.write_text(SETTINGS)
        d.cli("config", "set", target, "development", "SETTINGS", "--from-file", settings, "--file",
              SETTINGS_PATH)


def test_values_reach_the_instance_only_at_run_time(daemon):
        d, tmp = daemon
        build_image(d, make_app(tmp / "v1", "v1", user="nobody"), "inject:1")
        build_image(d, make_app(tmp / "v2", "v2", user="nobody"), "inject:2")
        d.cli("project", "create", "inj")
        d.cli("component", "create", "inj/web", "--image", "inject:1", "--health", "http:/healthz")
        set_values(d, "inj/web", tmp)
        rel = d.cli("deploy", "inj/web", "development", "--image", "inject:1", timeout=180)
        assert rel["status"] == "live", rel

        # Inside: exactly as set; the value wins over the image's Env; files are the container user's, 0400
        # for the secret and 0444 for the plain one, and not writable even by their owner.
        app = seen(d, "inj", "web")
        assert app["greeting"] == PLAIN and app["api_secret"] == ENV_SECRET, app
        assert app["token_b64"] == b64(FILE_SECRET) and app["settings_b64"] == b64(SETTINGS), app
        assert app["me"] == "65534:65534", app
        assert app["token_stat"] == "65534:65534:400", app
        assert app["settings_stat"] == "65534:65534:444", app
        assert app["write"] == "refused" and app["append"] == "refused" and app["chmod"] == "refused", app

        # The bundle and the files live on the instance's own tmpfs under /run, sealed read-only; on the host
        # the files are owned by the container user as the user namespace maps it.
        inst = instance_of(d, "inj", "web", rel["id"])
        run = run_dir_of(d, inst["id"])
        fstype, opts = mounts()[run]
        assert fstype == "tmpfs" and "ro" in opts and "nosuid" in opts and "nodev" in opts, (fstype, opts)
        st = os.stat(run)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == 0, oct(st.st_mode)
        config = json.loads(Path(run, "bundle", "config.json").read_text())
        env = config["process"]["env"]
        assert f"API_SECRET={ENV_SECRET}" in env and f"GREETING={PLAIN}" in env, env
        assert "GREETING=from-image" not in env, env
        upper = d.state_dir / "instances" / str(inst["id"]) / "upper"
        shift = os.stat(upper).st_uid  # the range's first uid (0 without a user namespace)
        files = sorted(Path(run, "files").iterdir())
        assert len(files) == 2, files
        for f in files:
                fst = os.stat(f)
                assert (fst.st_uid, fst.st_gid) == (shift + 65534, shift + 65534), (f, fst)
        binds = {m["destination"]: m["source"] for m in config["mounts"] if m["type"] == "bind"}
        for path in (TOKEN_PATH, SETTINGS_PATH):
                assert binds[path].startswith(run + "/files/"), binds

        # No plaintext on persistent disk: not in the database, its WAL, the deploy log, the instance dirs
        # (upper, logs), the proxy's table, the image store.
        secrets = [ENV_SECRET.encode(), FILE_SECRET.strip().encode()]
        d.cli("releases", "inj/web", "development")
        hits = files_holding(d.state_dir, secrets)
        assert hits == [], hits
        # Nor on a host process's command line or in its environment (systemd-nspawn's, slipwayd's included).
        ns = nspawn_pids(d.state_dir)
        assert ns, "no systemd-nspawn of this state dir found"
        hits, looked = host_processes_holding(secrets)
        assert hits == [], hits
        assert looked > len(ns) + 1
        for pid in ns + [d.proc.pid]:
                assert ENV_SECRET.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
                assert ENV_SECRET.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        # Nor in slipwayd's own log.
        assert ENV_SECRET not in d.log() and FILE_SECRET.strip() not in d.log()
        # Nor in what the API and CLI print.
        listing = d.cli("config", "list", "inj/web", "development", json=False)
        listing_json = json.dumps(d.cli("config", "list", "inj/web", "development"))
        releases = d.cli("releases", "inj/web", "development", json=False)
        doc = json.dumps(release_doc(d, "inj", "web", rel["id"]))
        for text in (listing.stdout + listing.stderr, listing_json, releases.stdout, doc):
                assert ENV_SECRET not in text and FILE_SECRET.strip() not in text, text

        # Replaced by a new release: the old instance's tmpfs is unmounted and gone, the new one has its own.
        rel2 = d.cli("deploy", "inj/web", "development", "--image", "inject:2", timeout=180)
        assert rel2["status"] == "live", rel2
        assert wait_for(lambda: run not in mounts() and not os.path.exists(run), 15), mounts().get(run)
        run2 = run_dir_of(d, instance_of(d, "inj", "web", rel2["id"])["id"])
        assert run2 != run and mounts()[run2][0] == "tmpfs"
        assert seen(d, "inj", "web")["api_secret"] == ENV_SECRET

        # A slipwayd restart adopts the instance with its tmpfs as it was.
        d.stop()
        assert mounts()[run2][0] == "tmpfs"
        d.start()
        time.sleep(2)
        app = seen(d, "inj", "web")
        assert app["api_secret"] == ENV_SECRET and app["token_b64"] == b64(FILE_SECRET), app

        # A crashed payload is restarted by the supervisor from a rebuilt tmpfs with the same values.
        payload = [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) in nspawn_pids(d.state_dir)]
        assert payload
        for p in payload:
                os.kill(int(p), 9)
        assert wait_for(lambda: http_get(ingress_url(d, "inj", "web", "development") + "cgi-bin/env")[0] == 200
                        and seen(d, "inj", "web")["api_secret"] == ENV_SECRET, 60), d.log()[-3000:]
        assert mounts()[run2][0] == "tmpfs" and "ro" in mounts()[run2][1]

        # After a reboot /run is empty: the supervisor's restart builds the tmpfs again, values and all.
        simulate_reboot(d)
        subprocess.run(["umount", "-l", run2], check=True)
        os.rmdir(run2)
        d.start()
        assert wait_for(lambda: http_get(ingress_url(d, "inj", "web", "development") + "cgi-bin/env")[0] == 200,
                        60), d.log()[-3000:]
        app = seen(d, "inj", "web")
        assert app["api_secret"] == ENV_SECRET and app["token_b64"] == b64(FILE_SECRET), app
        assert app["token_stat"] == "65534:65534:400" and app["write"] == "refused", app
        assert mounts()[run2][0] == "tmpfs" and "ro" in mounts()[run2][1]
        assert files_holding(d.state_dir, secrets) == []

        # Stopped with the project: no tmpfs of this state dir is left.
        d.cli("project", "delete", "inj", "--force")
        assert run2 not in mounts() and not os.path.exists(run2)


def _parent(pid):
        try:
                return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
                return -1


def test_known_secrets_are_scrubbed_from_logs(daemon):
        d, tmp = daemon
        # Says its secret on stderr at start and every half second after, then serves.
        loud = ["/bin/sh", "-c", 'echo "starting with $API_SECRET" >&2; '
                '(while true; do echo "tick $API_SECRET tock" >&2; sleep 0.5; done) & '
                "exec httpd -f -p 8080 -h /www"]
        # Says it and exits 1 before it is ready: the deploy fails with its stderr's tail as the reason.
        failing = ["/bin/sh", "-c", 'echo "cannot start with $API_SECRET" >&2; exit 1']
        build_image(d, make_app(tmp / "loud", "loud", cmd=loud), "loud:1")
        build_image(d, make_app(tmp / "bad", "bad", cmd=failing), "loud:2")
        d.cli("project", "create", "scr")
        d.cli("component", "create", "scr/web", "--image", "loud:1", "--health", "http:/healthz")
        d.cli("config", "set", "scr/web", "development", "API_SECRET", "--from-file", "-", "--secret",
              input=LEAK_SECRET)
        # Under SCRUB_SECRET_MIN (4) bytes a secret is not scrubbed: the deploy log says so, by name.
        d.cli("config", "set", "scr/web", "development", "PIN=123", "--secret")
        rel = d.cli("deploy", "scr/web", "development", "--image", "loud:1", timeout=180)
        assert rel["status"] == "live", rel
        lines = json.dumps(release_doc(d, "scr", "web", rel["id"]))
        assert "the secret PIN is shorter than 4 bytes: it is not scrubbed from logs" in lines, lines

        # The app did print it (its own stderr file holds it: the app's output is its own business) …
        inst = instance_of(d, "scr", "web", rel["id"])
        raw = (d.state_dir / "instances" / str(inst["id"]) / "stderr.log").read_text()
        assert LEAK_SECRET in raw, raw
        # … but `slipway logs` shows the key instead (the app's stderr on its stderr), human and JSON.
        logs = d.cli("logs", "scr/web", "development", json=False)
        assert logs.returncode == 0
        assert "starting with [secret API_SECRET]" in logs.stderr, (logs.stdout, logs.stderr)
        assert LEAK_SECRET not in logs.stdout + logs.stderr
        doc = d.cli("logs", "scr/web", "development")
        assert "[secret API_SECRET]" in doc["stderr"] and LEAK_SECRET not in json.dumps(doc)

        # --follow, for what it writes while followed (a new line every half second).
        p = subprocess.Popen(d.cli_argv("logs", "scr/web", "development", "--follow", "--lines", "0",
                                        json=False),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)
        p.terminate()
        out, err = p.communicate(timeout=10)
        assert b"tick [secret API_SECRET] tock" in err, (out, err)
        assert LEAK_SECRET.encode() not in out + err

        # A failing deploy: its reason and deploy log carry the stderr tail, scrubbed.
        r = d.cli("deploy", "scr/web", "development", "--image", "loud:2", check=False, json=False, timeout=180)
        assert r.returncode != 0
        assert LEAK_SECRET not in r.stdout + r.stderr
        failed = [x for x in d.cli("releases", "scr/web", "development")["releases"] if x["status"] == "failed"]
        assert failed, d.cli("releases", "scr/web", "development")
        fdoc = release_doc(d, "scr", "web", failed[0]["id"])
        text = json.dumps(fdoc)
        assert "cannot start with [secret API_SECRET]" in text, text
        assert LEAK_SECRET not in text
        assert LEAK_SECRET not in d.log()
        # The failed instance's tmpfs went with it (its directory and logs stay).
        (finst,) = fdoc["instances"]
        assert not os.path.exists(run_dir_of(d, finst["id"]))
        # The old release keeps serving.
        assert http_get(ingress_url(d, "scr", "web", "development"))[0] == 200
        # Nothing of it in the database (deploy log, reasons) or its WAL.
        db_hits = files_holding(d.state_dir, [LEAK_SECRET.encode()])
        assert all(os.path.basename(p) in ("stderr.log", "stderr.log.1") for p, _ in db_hits), db_hits
