"""Hardening as seen from inside a deployed instance: a static probe (tests/fixtures/hardening-probe.c) runs as
the entrypoint of a busybox image deployed with `slipway deploy`, prints one `NAME RESULT` line per syscall,
/proc/self/status field and path check, and the test reads them back with `slipway logs` as a user would.
Refused: mount, umount2, unshare, setns, bpf, keyctl, add_key, kexec_load, init_module, perf_event_open,
open_by_handle_at, userfaultfd, ptrace, clone with namespace flags.  Capabilities no wider than Podman's
default set, no_new_privs, a seccomp filter, read-only /sys and /proc/sys, masked /proc paths."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy_util import (build_image, deploy, http_get, ingress_url, make_site, project_with_component,
                         running_deploy_daemon, wait_for)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROBE_SRC = REPO / "tests" / "fixtures" / "hardening-probe.c"
CAPABILITY_H = Path("/usr/include/linux/capability.h")
PODMAN_CONF = Path("/usr/share/containers/containers.conf")
# Podman's documented default (containers.conf(5)), used when containers-common is not installed.
PODMAN_DEFAULT_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP",
                       "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]

# Syscalls the container profile refuses.  The profile's default action is SCMP_ACT_ERRNO, which
# systemd-nspawn turns into EPERM (it takes no errnoRet), so every refusal is EPERM.
REFUSED = ["mount", "umount2", "unshare_newns", "unshare_newuser", "unshare_newnet", "setns", "bpf", "keyctl",
           "add_key", "kexec_load", "init_module", "perf_event_open", "open_by_handle_at", "userfaultfd",
           "ptrace_traceme", "ptrace_attach", "clone_newns", "clone_newuser", "clone_newnet"]
CONTROLS = ["getpid", "socket_inet", "clone_plain"]
# The profile's masked paths (container-profile.c) that exist on this kernel show nothing.
MASKED = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats",
          "/proc/acpi", "/proc/scsi", "/sys/firmware"]


def podman_default_caps():
        """Podman's default capability names: its installed containers.conf, else the documented list."""
        if PODMAN_CONF.exists():
                m = re.search(r"^default_capabilities\s*=\s*\[(.*?)\]", PODMAN_CONF.read_text(), re.M | re.S)
                if m:
                        names = re.findall(r'"([A-Z_]+)"', m.group(1))
                        if names:
                                return names
        return PODMAN_DEFAULT_CAPS


def cap_mask(names):
        """The CapEff bit mask of capability names, with the numbers from the kernel's uapi header."""
        numbers = {m.group(1): int(m.group(2))
                   for m in re.finditer(r"^#define\s+CAP_([A-Z_]+)\s+(\d+)\s*$", CAPABILITY_H.read_text(), re.M)}
        mask = 0
        for n in names:
                mask |= 1 << numbers[n]
        return mask


def compile_probe(out):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
                pytest.skip("no C compiler to build the hardening probe")
        p = subprocess.run([cc, "-static", "-O2", "-o", str(out), str(PROBE_SRC)], capture_output=True,
                           text=True)
        assert p.returncode == 0, f"cannot build the probe:\n{p.stderr}"
        return out


def parse_probe(text):
        lines = text.splitlines()
        assert "probe begin" in lines and "probe end" in lines, f"the probe did not run to its end:\n{text}"
        out = {}
        for l in lines[lines.index("probe begin") + 1:lines.index("probe end")]:
                name, _, value = l.partition(" ")
                out[name] = value.strip()
        return out


@pytest.fixture(scope="module")
def probed(build_dir, images, tmp_path_factory):
        """(daemon, probe results) of one instance deployed from an image whose entrypoint runs the probe
        and then serves with busybox httpd."""
        root = tmp_path_factory.mktemp("hardening")
        with running_deploy_daemon(build_dir, root / "state", images) as d:
                ctx = make_site(root / "ctx", "hardened",
                                cmd=["sh", "-c", "/probe; exec httpd -f -p 8080 -h /www"])
                compile_probe(ctx / "probe")
                dockerfile = ctx / "Dockerfile"
                dockerfile.write_text(dockerfile.read_text().replace("COPY www /www\n",
                                                                     "COPY www /www\nCOPY probe /probe\n"))
                build_image(d, ctx, "probe:1")
                project_with_component(d, "hard/probe", "probe:1")
                deploy(d, "hard/probe", "development", "probe:1")

                def logs():
                        p = d.cli("logs", "hard/probe", "development", "--lines", "500", json=False,
                                  check=False)
                        return p.stdout if p.returncode == 0 and "probe end" in p.stdout else None
                text = wait_for(logs, 15)
                assert text, f"no probe output in `slipway logs`:\n{d.log()[-2000:]}"
                print(text)  # shown with a failure
                yield d, parse_probe(text)


def test_probe_controls_succeed(probed):
        d, res = probed
        # The instance is a normal one: it went live and serves.
        assert http_get(ingress_url(d, "hard", "probe", "development")) == (200, "hardened\n")
        for name in CONTROLS:
                assert res.get(name) == "OK", (name, res.get(name), res)
        assert res.get("read:/proc/self/status") == "DATA", res


def test_refused_syscalls_give_eperm(probed):
        _, res = probed
        wrong = {n: res.get(n) for n in REFUSED if res.get(n) != "EPERM"}
        assert not wrong, f"not refused with EPERM: {wrong}"


def test_no_namespace_from_clone3(probed):
        # clone3 passes its flags in memory where seccomp cannot see them, so the filter must not let it
        # create namespaces either; a new user namespace inside the container would give its process every
        # capability there (netfilter, mounts of its own).  Like Docker, clone3 answers ENOSYS (with or without
        # flags), so libc falls back to clone(), whose flags the filter does check.
        _, res = probed
        for name in ("clone3_newuser", "clone3_newns", "clone3_plain"):
                assert res.get(name) == "ENOSYS", (name, res.get(name))


def test_capabilities_no_wider_than_podman(probed):
        _, res = probed
        expected = cap_mask(podman_default_caps())
        for field in ("CapEff", "CapPrm", "CapBnd"):
                got = int(res[field], 16)
                assert got & ~expected == 0, f"{field} {got:#x} has capabilities beyond Podman's default " \
                                             f"{expected:#x}: extra bits {got & ~expected:#x}"
        # The entrypoint runs as root in the container: it keeps exactly that set.
        assert int(res["CapEff"], 16) == expected, (res["CapEff"], f"{expected:016x}")
        assert int(res["CapBnd"], 16) == expected, (res["CapBnd"], f"{expected:016x}")
        # No inheritable or ambient capabilities (CVE-2022-27649: inheritable ones pass to non-root programs).
        assert int(res["CapAmb"], 16) == 0 and int(res["CapInh"], 16) == 0, res


def test_no_new_privs_and_seccomp_filter(probed):
        _, res = probed
        assert res.get("NoNewPrivs") == "1", res
        assert res.get("Seccomp") == "2", res  # SECCOMP_MODE_FILTER


def test_sys_and_proc_sys_read_only(probed):
        _, res = probed
        assert res.get("mountflags:/sys") == "ro", res
        assert res.get("mountflags:/proc/sys") == "ro", res
        assert res.get("mkdir:/sys/slipway-probe") == "EROFS", res
        for path in ("/sys/kernel/uevent_helper", "/proc/sys/kernel/hostname", "/proc/sysrq-trigger"):
                # EROFS from the read-only mount; EACCES where the permission check comes first.
                assert res.get("write:" + path) in ("EROFS", "EACCES", "ENOENT"), (path, res.get("write:" + path))


def test_masked_proc_paths_show_nothing(probed):
        _, res = probed
        for path in MASKED:
                assert res.get("read:" + path) in ("EMPTY", "ENOENT", "EACCES"), (path, res.get("read:" + path))
                # A /proc file the host has is there in the container's procfs too, unless it is masked.
                if path.startswith("/proc/") and Path(path).is_file():
                        assert res.get("read:" + path) in ("EMPTY", "EACCES"), (path, res.get("read:" + path))
        # systemd-nspawn masks with nodes bound in from the host's /run/systemd/inaccessible: read-only.
        assert res.get("mkdir:/run/systemd/inaccessible/probe") == "EROFS", res
        # Its mode-0000 "dir" node: refused as read-only, or — in a user namespace, where the host's root
        # owning it is nobody — by its permissions before the mount is even looked at.
        assert res.get("creat:/run/systemd/inaccessible/dir/probe") in ("EROFS", "EACCES"), res
