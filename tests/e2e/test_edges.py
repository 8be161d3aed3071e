"""AWS-shaped edges a newcomer meets first: unknown routes, the landing page, CORS for
browser code (preflight and headers, any origin or one), in default and strict mode."""
import os
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest

from conftest import BIN, Server, make_app_and_group
from test_strict import credentials_file


def fetch(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize("method,path", [("GET", "/nope"), ("POST", "/"), ("DELETE", "/streamgroups"),
                                         ("GET", "/streamgroups/sg-1/nothing/here")])
def test_an_unknown_route_is_an_unknown_operation(server, method, path):
    status, headers, body = fetch(server.url + path, method)
    assert status in (404, 400), (status, body)
    if status == 404:
        assert lower(headers)["x-amzn-errortype"] == "UnknownOperationException"


def test_the_landing_page_links_the_dashboard_and_health(server):
    status, headers, body = fetch(server.url + "/")
    assert status == 200 and lower(headers)["content-type"].startswith("text/html")
    page = body.decode()
    for link in ('href="/_local/ui"', 'href="/_local/health"'):
        assert link in page
    assert server.url.split("//")[1] in page


PREFLIGHT = {"Origin": "http://game.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type,x-amz-date,x-amz-user-agent"}


def test_browser_code_may_call_every_route(server):
    status, headers, _ = fetch(server.url + "/streamgroups", "OPTIONS", PREFLIGHT)
    h = lower(headers)
    assert status == 200
    assert h["access-control-allow-origin"] == "*"
    assert "POST" in h["access-control-allow-methods"]
    assert "authorization" in h["access-control-allow-headers"].lower()
    status, headers, _ = fetch(server.url + "/streamgroups", headers={"Origin": "http://game.example"})
    h = lower(headers)
    assert status == 200 and h["access-control-allow-origin"] == "*"
    assert {"x-amzn-requestid", "x-amzn-errortype"} <= set(h["access-control-expose-headers"].lower().split(","))
    # Errors carry the headers too, so that the page can read them.
    status, headers, _ = fetch(server.url + "/applications/a-000000000", headers={"Origin": "http://game.example"})
    assert status == 404 and lower(headers)["access-control-allow-origin"] == "*"


def test_one_allowed_origin_and_strict_mode_preflights():
    with tempfile.TemporaryDirectory() as d:
        s = Server(os.path.join(d, "data"), "--cors-origin", "http://game.example",
                   "--credentials", credentials_file(d))
        try:
            status, headers, _ = fetch(s.url + "/streamgroups", "OPTIONS", PREFLIGHT)
            assert status == 200  # unsigned, as browsers send preflights
            assert lower(headers)["access-control-allow-origin"] == "http://game.example"
            other = {**PREFLIGHT, "Origin": "http://elsewhere.example"}
            _, headers, _ = fetch(s.url + "/streamgroups", "OPTIONS", other)
            # The one allowed origin, not the caller's: a browser refuses the call.
            assert lower(headers).get("access-control-allow-origin") != "http://elsewhere.example"
        finally:
            s.stop()


def test_a_bad_cors_origin_is_refused_at_start():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", d, "--cors-origin", "game.example/"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "not an origin" in r.stderr


def test_a_failed_start_prints_one_line_and_leaves_no_data_dir(server):
    port = server.url.rsplit(":", 1)[1]
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    with tempfile.TemporaryDirectory() as d:
        fresh = os.path.join(d, "never-made")
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:" + port, "--data-dir", fresh],
                           capture_output=True, text=True, timeout=10, env=env)
        assert r.returncode == 1
        assert r.stderr.startswith("error: binding 127.0.0.1:%s" % port), r.stderr
        assert "backtrace" not in r.stderr.lower() and len(r.stderr.splitlines()) == 1, r.stderr
        assert not os.path.exists(fresh), "a start that could not listen made the data dir"
        bad = os.path.join(d, "credentials.toml")
        with open(bad, "w") as f:
            f.write("[[credentials]]\naccess_key_id = 1\n")
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", fresh, "--credentials", bad],
                           capture_output=True, text=True, timeout=10, env=env)
        assert r.returncode == 1 and r.stderr.startswith("error: " + bad), r.stderr
        assert "backtrace" not in r.stderr.lower(), r.stderr


def test_pending_faults_are_listed_and_cleared():
    import json
    with tempfile.TemporaryDirectory() as d:
        s = Server(os.path.join(d, "data"))
        try:
            c = s.client()

            def admin(method, path, body=None):
                req = urllib.request.Request(s.url + path, method=method,
                                             data=json.dumps(body).encode() if body is not None else None)
                with urllib.request.urlopen(req) as r:
                    return json.loads(r.read())

            assert admin("GET", "/_local/faults") == {"faults": []}
            admin("POST", "/_local/faults", {"target": "operation", "operation": "ListStreamGroups",
                                             "error": "ThrottlingException", "count": 2})
            _, group = make_app_and_group(s, c)
            admin("POST", "/_local/faults", {"target": "placement", "streamGroup": group,
                                             "location": "us-west-2", "count": 3})
            with pytest.raises(c.exceptions.ThrottlingException):
                c.list_stream_groups()
            faults = admin("GET", "/_local/faults")["faults"]
            assert {"target": "operation", "account": "111122223333", "region": "us-west-2",
                    "operation": "ListStreamGroups", "error": "ThrottlingException", "remaining": 1} in faults
            assert {"target": "placement", "account": "111122223333", "region": "us-west-2",
                    "streamGroup": group, "location": "us-west-2", "remaining": 3} in faults
            assert len(faults) == 2
            assert admin("DELETE", "/_local/faults") == {"status": "cleared"}
            assert admin("GET", "/_local/faults") == {"faults": []}
            c.list_stream_groups()  # the cleared fault no longer strikes
        finally:
            s.stop()


def test_every_request_is_one_log_line_at_info():
    with tempfile.TemporaryDirectory() as d:
        log = open(os.path.join(d, "stderr"), "w+")
        proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(d, "data")],
                                stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "GLS_LOG": "info"})
        try:
            url = proc.stdout.readline().strip().split(" ")[-1]
            fetch(url + "/streamgroups", headers={
                "Authorization": "AWS4-HMAC-SHA256 Credential=210987654321/20261203/eu-central-1/gameliftstreams/aws4_request"})
            fetch(url + "/applications/a-000000000")
            fetch(url + "/nope")
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        log.seek(0)
        lines = [l for l in log.read().splitlines() if "gameliftstreams_local::request" in l]
        assert len(lines) == 3, lines
        assert "\x1b[" not in "".join(lines), "no colour codes when stderr is not a terminal"
        listed, missing, unknown = lines
        for part in ('GET /streamgroups', 'operation="ListStreamGroups"', "status=200", "error=-", "account=210987654321",
                     "region=eu-central-1", "ms=", "request_id="):
            assert part in listed, listed
        assert 'operation="GetApplication"' in missing and "status=404" in missing
        assert "error=ResourceNotFoundException" in missing and "account=111122223333" in missing
        assert 'operation="-"' in unknown and "error=UnknownOperationException" in unknown


def test_listen_takes_a_bare_port():
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen([BIN, "serve", "--listen", "0", "--data-dir", d], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            assert line.startswith("listening on http://127.0.0.1:") and not line.strip().endswith(":0"), line
            assert fetch(line.strip().split(" ")[-1] + "/_local/health")[0] == 200
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        r = subprocess.run([BIN, "serve", "--listen", "70000", "--data-dir", d], capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "not a port" in r.stderr
