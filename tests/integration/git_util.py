"""Real git servers for the pipeline tests: test repositories made with the git CLI, served by `git daemon`
(git://) and by `git http-backend` behind nginx + fcgiwrap (smart HTTP, optionally with basic auth), all on
loopback."""
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import free_port

GIT_ENV = {"GIT_AUTHOR_NAME": "Ada Tester", "GIT_AUTHOR_EMAIL": "ada@example.test",
           "GIT_COMMITTER_NAME": "Ada Tester", "GIT_COMMITTER_EMAIL": "ada@example.test",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(repo, *args, check=True):
        env = {**os.environ, **GIT_ENV}
        p = subprocess.run(["git", "-C", str(repo), *map(str, args)], capture_output=True, text=True, env=env,
                           timeout=60)
        if check:
                assert p.returncode == 0, f"git {' '.join(map(str, args))} failed: {p.stderr}"
        return p.stdout.strip()


def commit(repo, files, message="change"):
        """Writes files ({relative path: text or bytes}) into the work tree of repo, commits them and
        returns the new commit id.  The repository is made (branch main) when missing."""
        repo = Path(repo)
        if not (repo / ".git").exists():
                repo.mkdir(parents=True, exist_ok=True)
                git(repo, "init", "-q", "-b", "main")
                git(repo, "config", "receive.denyCurrentBranch", "updateInstead")
        for rel, content in files.items():
                p = repo / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                        p.write_bytes(content)
                else:
                        p.write_text(content)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", message)
        return git(repo, "rev-parse", "HEAD")


def _wait_port(port, proc, what, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
                if proc.poll() is not None:
                        raise AssertionError(f"{what} exited with {proc.returncode}")
                with socket.socket() as s:
                        if s.connect_ex(("127.0.0.1", port)) == 0:
                                return
                time.sleep(0.05)
        raise AssertionError(f"{what} does not listen on 127.0.0.1:{port}")


def _stop(proc, group=False):
        """Stops proc; with group, its whole process group (fcgiwrap's workers outlive their parent)."""
        if not proc:
                return
        if group:
                try:
                        os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                        pass
        if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                        proc.wait(10)
                except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
        if group:
                try:
                        os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                        pass


class GitDaemon:
        """git daemon exporting every repository under base (git://127.0.0.1:PORT/NAME)."""

        def __init__(self, base):
                self.base = Path(base)
                self.port = free_port()
                self.proc = subprocess.Popen(
                        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={self.base}",
                         "--listen=127.0.0.1", f"--port={self.port}", str(self.base)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _wait_port(self.port, self.proc, "git daemon")

        def url(self, name):
                return f"git://127.0.0.1:{self.port}/{name}"

        def stop(self):
                _stop(self.proc)


class GitHttp:
        """git http-backend (smart HTTP) behind nginx + fcgiwrap: http://127.0.0.1:PORT/git/NAME.  With user
        and password, every request needs that basic auth; with rate (e.g. "20k"), answers are sent at most
        that many bytes a second (a fetch that takes long enough to interrupt)."""

        def __init__(self, base, work, user=None, password=None, rate=None, port=None):
                self.base = Path(base)
                self.work = Path(work)
                self.work.mkdir(parents=True, exist_ok=True)
                self.port = port or free_port()
                sock = self.work / "fcgiwrap.sock"
                # In a session of its own: stop() ends it and the workers it forks together.
                self.fcgi = subprocess.Popen(["/usr/sbin/fcgiwrap", "-c", "2", "-s", f"unix:{sock}"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True)
                deadline = time.monotonic() + 10
                while not sock.exists():
                        assert self.fcgi.poll() is None and time.monotonic() < deadline, "fcgiwrap did not start"
                        time.sleep(0.02)
                auth = ""
                if user:
                        sha = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
                        (self.work / "htpasswd").write_text(f"{user}:{{SHA}}{sha}\n")
                        auth = f'auth_basic "git"; auth_basic_user_file {self.work}/htpasswd;'
                (self.work / "nginx.conf").write_text(f"""
daemon off;
user root;
worker_processes 1;
pid {self.work}/nginx.pid;
error_log {self.work}/error.log;
events {{ worker_connections 64; }}
http {{
        access_log off;
        client_body_temp_path {self.work}/body;
        fastcgi_temp_path {self.work}/fastcgi;
        proxy_temp_path {self.work}/proxy;
        uwsgi_temp_path {self.work}/uwsgi;
        scgi_temp_path {self.work}/scgi;
        server {{
                listen 127.0.0.1:{self.port};
                client_max_body_size 0;
                location ~ ^/git(/.*)$ {{
                        {auth}
                        {f"limit_rate {rate};" if rate else ""}
                        include /etc/nginx/fastcgi_params;
                        fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
                        fastcgi_param GIT_PROJECT_ROOT {self.base};
                        fastcgi_param GIT_HTTP_EXPORT_ALL "";
                        fastcgi_param PATH_INFO $1;
                        fastcgi_param REMOTE_USER $remote_user;
                        fastcgi_pass unix:{sock};
                }}
        }}
}}
""")
                self.nginx = subprocess.Popen(["nginx", "-c", str(self.work / "nginx.conf"), "-p", str(self.work)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _wait_port(self.port, self.nginx, "nginx")

        def url(self, name, user=None, password=None):
                cred = f"{user}:{password}@" if user else ""
                return f"http://{cred}127.0.0.1:{self.port}/git/{name}"

        def stop(self):
                _stop(self.nginx)
                _stop(self.fcgi, group=True)


class GitSsh:
        """An ssh server (dropbear) on loopback serving git over ssh://root@127.0.0.1:PORT/ABSOLUTE/PATH, with
        key authentication only.  It runs in a mount namespace of its own with a tmpfs on /root, so the
        authorized_keys it reads is the test's and the host's /root is never touched.  keygen() makes a client
        key pair; host_key is the server's public key as "TYPE BASE64"."""

        def __init__(self, work, authorized, port=None, host_key=None):
                self.work = Path(work)
                self.work.mkdir(parents=True, exist_ok=True)
                self.port = port or free_port()
                self.host_key_file = Path(host_key) if host_key else self.work / "host_key"
                if not self.host_key_file.exists():
                        subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(self.host_key_file)],
                                       check=True, capture_output=True)
                pub = subprocess.run(["dropbearkey", "-y", "-f", str(self.host_key_file)], check=True,
                                     capture_output=True, text=True).stdout
                line = next(l for l in pub.splitlines() if l.startswith("ssh-"))
                self.host_key = " ".join(line.split()[:2])
                keys = self.work / "authorized_keys"
                keys.write_text("".join(Path(k).read_text() for k in authorized))
                script = self.work / "serve.sh"
                script.write_text(f"""#!/bin/sh
set -e
mount -t tmpfs -o mode=0700 tmpfs /root
mkdir -m 0700 /root/.ssh
cp {keys} /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
exec dropbear -F -E -s -m -j -k -p 127.0.0.1:{self.port} -r {self.host_key_file}
""")
                script.chmod(0o755)
                self.log = open(self.work / "dropbear.log", "ab")
                self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", str(script)],
                                             stdout=self.log, stderr=subprocess.STDOUT)
                _wait_port(self.port, self.proc, "dropbear")

        @staticmethod
        def keygen(path):
                """An ed25519 key pair without passphrase at path and path.pub; returns path."""
                path = Path(path)
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "slipway-test", "-f",
                                str(path)], check=True, capture_output=True)
                return path

        def url(self, repo):
                return f"ssh://root@127.0.0.1:{self.port}{Path(repo).resolve()}"

        def stop(self):
                _stop(self.proc)
                self.log.close()


def bare_clone(src, dest):
        """A bare copy of repository src at dest (what the servers export); returns dest."""
        if Path(dest).exists():
                shutil.rmtree(dest)
        subprocess.run(["git", "clone", "-q", "--bare", str(src), str(dest)], check=True, capture_output=True,
                       env={**os.environ, **GIT_ENV})
        return Path(dest)


def push(src, dest):
        """Pushes main of src into the bare repository dest."""
        git(src, "push", "-q", str(dest), "main:main")
