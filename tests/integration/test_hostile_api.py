"""Hostile clients of slipwayd's API, on raw sockets with the admin token: JSON nested 1,000 levels deep
(which killed slipwayd through jansson's recursion on a 100 KiB civetweb stack) is refused with 400 and
one sentence on every JSON route, and the daemon keeps answering; bodies past a route's limit get 413
naming that limit; an out-of-range ?lines is 400 naming the range, never the default; an unknown field in
a request (a typo `env` for `envs`) is refused by name and creates nothing."""

import contextlib
import json
import socket
import subprocess

import pytest

DEEP = 1000
DEPTH_SENTENCE = "The JSON body is nested deeper than 64 levels; flatten it."

# Every route that decodes a JSON body, with a body it would otherwise accept (the depth check comes first).
JSON_ROUTES = [
        ("POST", "/api/v1/projects", {"name": "deep"}),
        ("POST", "/api/v1/projects/hostile/environments", {"name": "deep"}),
        ("PATCH", "/api/v1/projects/hostile/environments/development", {"egress": True}),
        ("POST", "/api/v1/projects/hostile/components", {"name": "deep", "image": "busybox:1"}),
        ("POST", "/api/v1/projects/hostile/components/web/deploy", {"env": "development"}),
        ("POST", "/api/v1/images/busybox%3A1/unpack", {"path": "UNPACK_TARGET"}),
        ("PUT", "/api/v1/projects/hostile/components/web/build-secrets/TOKEN", {"value": "x"}),
]


def in_tmp(d, body):
        """body with UNPACK_TARGET as a directory in the test's own temp dir (a daemon that wrongly accepts the
        request unpacks there, not somewhere on the host)."""
        return {k: (str(d.state_dir.parent / "unpack-target") if v == "UNPACK_TARGET" else v)
                for k, v in body.items()}


def raw(d, method, path, body=b"", headers=None, content_length=None):
        """(status, parsed JSON or raw bytes) of one request written by hand on a fresh connection.  The body is
        sent whole even when the daemon answers early; a reset after its answer is not an error."""
        if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
        elif isinstance(body, str):
                body = body.encode()
        host, port = d.api.rsplit(":", 1)
        head = [f"{method} {path} HTTP/1.1", f"Host: {d.api}", f"Authorization: Bearer {d.token}",
                "Content-Type: application/json",
                f"Content-Length: {len(body) if content_length is None else content_length}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        data = b""
        with socket.create_connection((host, int(port)), timeout=20) as s:
                try:
                        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                        s.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                        pass
                try:
                        while True:
                                chunk = s.recv(65536)
                                if not chunk:
                                        break
                                data += chunk
                except ConnectionResetError:
                        pass
        if not data:
                with contextlib.suppress(subprocess.TimeoutExpired):
                        d.proc.wait(2)  # a crash shows a moment after the connection drops
                raise AssertionError(f"{method} {path}: the connection closed without an answer; slipwayd "
                                     + ("is still running" if d.proc.poll() is None else
                                        f"died with {d.proc.returncode}")
                                     + f"\n--- slipwayd log:\n{d.log()[-1500:]}")
        status_line, _, rest = data.partition(b"\r\n")
        status = int(status_line.split()[1])
        payload = rest.partition(b"\r\n\r\n")[2]
        try:
                return status, json.loads(payload)
        except ValueError:
                return status, payload


def nested(depth, inner="[]"):
        """{"name":"x","x":[[…]]}: depth levels in all, the outer object included."""
        return '{"name":"x","x":' + "[" * (depth - 2) + inner + "]" * (depth - 2) + "}"


def assert_alive(d):
        assert d.proc.poll() is None, f"slipwayd died (exit {d.proc.returncode}):\n{d.log()[-2000:]}"
        st = d.cli("status")
        assert st, "slipway status printed nothing"


@pytest.fixture(scope="module")
def api(module_daemon, images):
        """The module's daemon with busybox:1 imported, a project 'hostile' and its component 'web'."""
        d = module_daemon
        d.cli("image", "import", images / "busybox.oci.tar")
        assert "busybox:1" in d.image_refs()
        d.cli("project", "create", "hostile")
        d.cli("component", "create", "hostile/web", "--image", "busybox:1", "--endpoint", "http:8080")
        return d


@pytest.mark.parametrize("method,path,ok_body", JSON_ROUTES, ids=[f"{m} {p}" for m, p, _ in JSON_ROUTES])
def test_deep_json_is_refused_and_the_daemon_lives(api, method, path, ok_body):
        d = api
        before = d.cli("project", "list")
        key = next(iter(ok_body))  # a field the route knows, holding the deep value
        for body in (nested(DEEP), '{"a":' * DEEP + "1" + "}" * DEEP, nested(65),
                     f'{{"{key}":' + "[" * DEEP + "]" * DEEP + "}"):
                assert len(body) < 64 * 1024
                status, reply = raw(d, method, path, body)
                assert status == 400, (status, reply)
                assert reply["error"] == DEPTH_SENTENCE, reply
                assert reply["hint"].startswith("Send {"), reply
                assert_alive(d)
        assert d.cli("project", "list") == before, "a refused request changed something"


def test_depth_limit_is_exact_and_strings_do_not_count(api):
        d = api
        # 64 levels is within the limit: what is refused then is the field, not the depth.
        status, reply = raw(d, "POST", "/api/v1/projects", nested(64).replace('"x":', '"envs":', 1))
        assert status == 400 and reply["error"] == '"envs" must be a list of names.', reply
        # Brackets inside a string (and escaped quotes before them) are text, however many.
        name = '\\"' + "[" * DEEP
        status, reply = raw(d, "POST", "/api/v1/projects", '{"name":"' + name + '"}')
        assert status == 400 and "nested" not in reply["error"], reply
        assert_alive(d)


def test_body_past_the_limit_is_413_naming_it(api):
        d = api
        # A create request over 1 MiB: its own message, not another route's "must be a JSON object with a name".
        big = {"name": "big", "envs": ["development"], "pad": "x" * (1024 * 1024)}
        status, reply = raw(d, "POST", "/api/v1/projects", big)
        assert status == 413, (status, reply)
        assert reply["error"] == "The project create request is larger than 1 MiB, the most this endpoint accepts.", \
                reply
        assert "name" not in reply["error"]
        # The Content-Length alone is enough to refuse, before a byte of the body is read.
        status, reply = raw(d, "POST", "/api/v1/projects", b"", content_length=50 * 1024 * 1024)
        assert status == 413 and "1 MiB" in reply["error"], reply

        # A deploy body over 64 KiB: 413 with the deploy limit, not 400 "not a JSON object".
        body = {"env": "development", "image": "busybox:1", "pad": "x" * (70 * 1024)}
        status, reply = raw(d, "POST", "/api/v1/projects/hostile/components/web/deploy", body)
        assert status == 413, (status, reply)
        assert reply["error"] == "The deploy request is larger than 64 KiB, the most this endpoint accepts.", reply
        assert d.cli("releases", "hostile/web")["releases"] == [], "a refused deploy made a release"
        assert_alive(d)


@pytest.mark.parametrize("lines", ["99999999999999999999", "10001", "-1", "1e3", "18446744073709551617"])
def test_logs_lines_out_of_range_is_400_naming_the_range(api, lines):
        status, reply = raw(api, "GET", f"/api/v1/projects/hostile/components/web/logs?env=development&lines={lines}")
        assert status == 400, (status, reply)
        assert reply["error"] == "?lines must be a whole number from 0 to 10000.", reply
        p = api.cli("logs", "hostile/web", "development", "--lines", lines, json=False, check=False)
        assert p.returncode != 0 and "from 0 to 10000" in p.stderr, p.stderr


# (path, body with one unknown field, the sentence)
UNKNOWN_FIELDS = [
        ("POST", "/api/v1/projects", {"name": "typo", "env": ["staging", "production"]},
         "Unknown field 'env' in the project create request; known fields: name, envs."),
        ("POST", "/api/v1/projects/hostile/environments", {"name": "typo", "afer": "development"},
         "Unknown field 'afer' in the environment create request; known fields: name, after, domain, egress, "
         "ingress_port."),
        ("PATCH", "/api/v1/projects/hostile/environments/development", {"egres": False},
         "Unknown field 'egres' in the environment settings request; known fields: domain, egress, ingress_port, protected."),
        ("POST", "/api/v1/projects/hostile/components", {"name": "typo", "image": "busybox:1", "endpoint": "h:80"},
         "Unknown field 'endpoint' in the component create request; known fields: name, image, spec, endpoints, "),
        ("POST", "/api/v1/projects/hostile/components/web/deploy", {"env": "development", "imgae": "busybox:1"},
         "Unknown field 'imgae' in the deploy request; known fields: env, image, build."),
        ("POST", "/api/v1/images/busybox%3A1/unpack", {"path": "UNPACK_TARGET", "force": True},
         "Unknown field 'force' in the unpack request; known fields: path, keep_special."),
]


@pytest.mark.parametrize("method,path,body,sentence", UNKNOWN_FIELDS,
                         ids=[sentence.split("'")[1] for _, _, _, sentence in UNKNOWN_FIELDS])
def test_unknown_field_is_refused_by_name(api, method, path, body, sentence):
        d = api
        before = (d.cli("project", "list"), d.cli("component", "list", "hostile"), d.cli("env", "list", "hostile"))
        status, reply = raw(d, method, path, in_tmp(d, body))
        assert status == 400, (status, reply)
        assert reply["error"].startswith(sentence), reply
        assert reply["hint"], reply
        after = (d.cli("project", "list"), d.cli("component", "list", "hostile"), d.cli("env", "list", "hostile"))
        assert after == before, "a refused request changed something"
        assert d.cli("releases", "hostile/web")["releases"] == [], "a refused deploy made a release"


def test_known_fields_still_work(api):
        """What the CLI sends is all known: the typo's intended spelling gives the asked environments."""
        d = api
        p = d.cli("project", "create", "spelled", "--envs", "staging,production")
        assert [e["name"] for e in p["environments"]] == ["staging", "production"]
        status, reply = raw(d, "POST", "/api/v1/projects", {"name": "spelled2", "envs": ["a", "b"]})
        assert status == 201 and [e["name"] for e in reply["environments"]] == ["a", "b"], reply
        d.cli("project", "delete", "spelled")
        d.cli("project", "delete", "spelled2")
        assert_alive(d)
