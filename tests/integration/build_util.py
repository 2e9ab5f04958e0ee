"""Helpers of the builder tests (test_build*.py): build contexts from tests/fixtures/build, buildah with a
private vfs store as the reference builder, umoci-unpacked trees and their comparison, the raw streaming
build API, and the leftovers a build must not leave (mounts, DIR/builds/tmp-*).  Nothing here talks to any
address outside 127.0.0.1."""

import hashlib
import http.client
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import time
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "build"
BUILD_TIMEOUT = 180

# Empty files and directories buildah's RUN leaves as mount points (chroot isolation).  They are ignored
# when only buildah's tree has them; Slipway's layers must not carry them at all.
BUILDAH_MOUNTPOINTS = {"etc/hosts", "etc/resolv.conf", "etc/hostname", "proc", "dev", "sys", "run",
                       "run/.containerenv"}
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Labels", "StopSignal",
                 "Volumes", "Healthcheck", "OnBuild")


def run(*args, check=True, timeout=BUILD_TIMEOUT, **kw):
        p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)
        if check and p.returncode != 0:
                raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p


# ---------------------------------------------------------------------------------------------------------
# contexts

def context(name, dest):
        """Copies tests/fixtures/build/NAME to dest (a fresh dir) and returns dest."""
        dest = Path(dest)
        shutil.copytree(FIXTURES / name, dest, symlinks=True)
        return dest


def write(path, text, mode=0o644):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, mode)
        return path


def add_special_files(d):
        """What git cannot carry: a relative and an outside-pointing symlink, a hardlink pair, an empty dir
        with an odd mode, a setuid file."""
        d = Path(d)
        d.mkdir(parents=True, exist_ok=True)
        write(d / "a", "a file\n")
        os.symlink("a", d / "rel-link")
        os.symlink("/etc/passwd", d / "outside-link")
        write(d / "hard1", "hardlinked\n")
        os.link(d / "hard1", d / "hard2")
        (d / "empty").mkdir()
        os.chmod(d / "empty", 0o700)
        write(d / "suid", "#!/bin/sh\necho suid\n", 0o755)
        os.chmod(d / "suid", 0o4755)


def write_archives(d):
        """archive.tar.gz and plain.tar for ADD: a dir, files with modes and an owner, a symlink."""
        def entries(tag):
                out = []
                ti = tarfile.TarInfo(f"{tag}-dir")
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o750, 1700000000
                out.append((ti, None))
                for name, data, mode, uid in ((f"{tag}-dir/secret", b"private\n", 0o600, 0),
                                              (f"{tag}-dir/owned", b"owned by 1000\n", 0o644, 1000),
                                              ("top.txt", f"{tag} top\n".encode(), 0o644, 0)):
                        ti = tarfile.TarInfo(name)
                        ti.size, ti.mode, ti.uid, ti.gid, ti.mtime = len(data), mode, uid, uid, 1700000000
                        out.append((ti, data))
                ti = tarfile.TarInfo(f"{tag}-dir/link")
                ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, "secret", 1700000000
                out.append((ti, None))
                return out

        for fname, mode, tag in (("archive.tar.gz", "w:gz", "gz"), ("plain.tar", "w", "plain")):
                with tarfile.open(Path(d) / fname, mode, format=tarfile.PAX_FORMAT) as t:
                        for ti, data in entries(tag):
                                t.addfile(ti, io.BytesIO(data) if data is not None else None)


def context_tar(d):
        """The context directory as tar bytes (for the raw API tests)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
                for name in sorted(os.listdir(d)):
                        t.add(os.path.join(d, name), arcname=name)
        return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Slipway

def slipway_build(daemon, ctx, *opts, check=True, json_out=True, timeout=BUILD_TIMEOUT):
        """`slipway [--json] image build CTX OPTS…`: the final JSON object (json_out, check) or the process."""
        p = daemon.cli("image", "build", ctx, *opts, json=json_out, check=False, timeout=timeout)
        if check:
                assert p.returncode == 0, (f"slipway image build {ctx} {' '.join(map(str, opts))} failed "
                                           f"({p.returncode}):\n{p.stdout}\n{p.stderr}\n--- slipwayd log:\n"
                                           f"{daemon.log()[-3000:]}")
                if json_out:
                        return json.loads(p.stdout)
        return p


def layout_image(layout):
        """(manifest digest, manifest, config) of the only image of an OCI layout."""
        with open(os.path.join(layout, "index.json")) as f:
                index = json.load(f)
        assert len(index["manifests"]) == 1, index
        digest = index["manifests"][0]["digest"]

        def blob(dg):
                with open(os.path.join(layout, "blobs", *dg.split(":", 1)), "rb") as f:
                        return json.load(f)
        manifest = blob(digest)
        return digest, manifest, blob(manifest["config"]["digest"])


def slipway_export(daemon, ref, dest):
        daemon.cli("image", "export", ref, "--oci", dest)
        return dest


# ---------------------------------------------------------------------------------------------------------
# buildah, the reference

class Buildah:
        """buildah with a private vfs store under top; RUN with --isolation=chroot."""

        def __init__(self, top):
                self.top = Path(top)
                self.base = ["buildah", "--root", str(self.top / "root"), "--runroot", str(self.top / "runroot"),
                             "--storage-driver", "vfs"]

        def __call__(self, *args, check=True):
                return run(*self.base, *args, check=check)

        def pull_archive(self, archive, ref):
                self("pull", "-q", f"oci-archive:{archive}:{ref}")

        def bud(self, ctx, tag, *opts, check=True):
                # --format docker keeps HEALTHCHECK, ONBUILD and friends, which OCI's config has no field for.
                return self("bud", "--isolation=chroot", "--pull=never", "--format", "docker", "-q", "-t", tag,
                            *opts, ctx, check=check)

        def export(self, tag, dest):
                self("push", "-q", tag, f"oci:{dest}:{tag}")
                return dest

        def config(self, tag):
                info = json.loads(self("inspect", "--type", "image", tag).stdout)
                return info["Docker"]["config"]


# ---------------------------------------------------------------------------------------------------------
# trees

def umoci_unpack(layout, dest):
        with open(os.path.join(layout, "index.json")) as f:
                ref = json.load(f)["manifests"][0].get("annotations", {}).get("org.opencontainers.image.ref.name")
        assert ref, f"{layout} names no image"
        run("umoci", "unpack", "--image", f"{layout}:{ref}", dest)
        return Path(dest) / "rootfs"


def _sha256(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
        return h.hexdigest()


def tree(root):
        """rel path → (type, mode, uid, gid, size, sha256, nlink) for files, (type, mode, uid, gid) for dirs,
        (type, uid, gid, target) for symlinks; mtimes are left out."""
        root = str(root)
        out = {}

        def describe(p):
                st = os.lstat(p)
                m = st.st_mode
                if stat.S_ISREG(m):
                        return ("file", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid, st.st_size, _sha256(p), st.st_nlink)
                if stat.S_ISDIR(m):
                        return ("dir", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid)
                if stat.S_ISLNK(m):
                        return ("symlink", st.st_uid, st.st_gid, os.readlink(p))
                return ("other", oct(m), st.st_uid, st.st_gid, st.st_rdev)

        out["."] = describe(root)
        for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                        p = os.path.join(dirpath, name)
                        out[os.path.relpath(p, root)] = describe(p)
        return out


def _empty(entry):
        return (entry[0] == "dir") or (entry[0] == "file" and entry[4] == 0)


def tree_diff(ours, theirs):
        """Differences between Slipway's tree and buildah's, as readable lines (empty: identical)."""
        diff = []
        for path in sorted(set(ours) | set(theirs)):
                a, b = ours.get(path), theirs.get(path)
                if a == b:
                        continue
                if a is None and path in BUILDAH_MOUNTPOINTS and _empty(b):
                        continue
                diff.append(f"{path}: slipway={a} buildah={b}")
        return diff


def config_fields(cfg):
        """The compared config fields, with absent, null and empty treated alike and buildah's label gone."""
        out = {}
        for k in CONFIG_FIELDS:
                v = cfg.get(k)
                if k == "Labels" and v:
                        v = {lk: lv for lk, lv in v.items() if lk != "io.buildah.version"}
                if v in (None, "", [], {}):
                        continue
                out[k] = v
        return out


def compare_with_buildah(daemon, buildah, ctx, tag, work, slipway_opts=(), buildah_opts=()):
        """Builds ctx with both, exports, unpacks with umoci and returns (slipway result, tree diff, slipway
        config fields, buildah config fields, slipway rootfs)."""
        work = Path(work)
        res = slipway_build(daemon, ctx, "-t", tag, *slipway_opts)
        buildah.bud(ctx, tag, *buildah_opts)
        s_layout = slipway_export(daemon, tag, work / "slipway-oci")
        b_layout = buildah.export(tag, work / "buildah-oci")
        s_root = umoci_unpack(s_layout, work / "slipway-bundle")
        b_root = umoci_unpack(b_layout, work / "buildah-bundle")
        _, _, s_cfg = layout_image(s_layout)
        diff = tree_diff(tree(s_root), tree(b_root))
        return res, diff, config_fields(s_cfg.get("config", {})), config_fields(buildah.config(tag)), s_root


# ---------------------------------------------------------------------------------------------------------
# the raw API

class ApiBuild:
        """POST /api/v1/images/build with a tar body; the response is read line by line as it streams."""

        def __init__(self, daemon, body, **query):
                u = urllib.parse.urlparse(daemon.url)
                self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=BUILD_TIMEOUT)
                q = urllib.parse.urlencode([(k, v) for k, vs in query.items()
                                            for v in (vs if isinstance(vs, list) else [vs])])
                self.conn.request("POST", "/api/v1/images/build" + ("?" + q if q else ""), body=body,
                                  headers={"Authorization": f"Bearer {daemon.token}",
                                           "Content-Type": "application/x-tar"})
                self.resp = self.conn.getresponse()
                self.id = self.resp.getheader("X-Slipway-Build")
                self.log = []
                self.final = None

        def lines(self):
                """Yields log lines (without the "| " tag) until the final JSON line, which goes to .final."""
                while True:
                        raw = self.resp.readline()
                        if not raw:
                                return
                        line = raw.decode(errors="replace").rstrip("\n")
                        if line.startswith("| "):
                                self.log.append(line[2:])
                                yield line[2:]
                        elif line.startswith("{"):
                                self.final = json.loads(line)
                        elif line != ".":
                                raise AssertionError(f"unframed line in the build stream: {line!r}")

        def finish(self):
                for _ in self.lines():
                        pass
                return self.final

        def close(self):
                self.conn.close()


def api_delete(daemon, path):
        u = urllib.parse.urlparse(daemon.url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("DELETE", path, headers={"Authorization": f"Bearer {daemon.token}"})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, json.loads(body) if body else None


# ---------------------------------------------------------------------------------------------------------
# leftovers

def mounts_under(path):
        path = os.path.realpath(path)
        with open("/proc/self/mountinfo") as f:
                points = [l.split()[4] for l in f]
        return [p for p in points if p == path or p.startswith(path + "/")]


def build_tmp_dirs(daemon):
        d = daemon.state_dir / "builds"
        return sorted(n for n in os.listdir(d) if n.startswith("tmp-")) if d.is_dir() else []


def assert_no_leftovers(daemon, timeout=10):
        """No mount below the state dir and no DIR/builds/tmp-* (waiting up to timeout for a cancel)."""
        deadline = time.monotonic() + timeout
        while True:
                mounts, tmps = mounts_under(daemon.state_dir), build_tmp_dirs(daemon)
                if not mounts and not tmps:
                        return
                if time.monotonic() > deadline:
                        raise AssertionError(f"build leftovers: mounts={mounts} tmp dirs={tmps}")
                time.sleep(0.1)


@pytest.fixture(scope="module")
def build_env(module_daemon, images):
        """module_daemon with the busybox fixture imported as busybox:1."""
        module_daemon.cli("image", "import", images / "busybox.oci.tar")
        return module_daemon
