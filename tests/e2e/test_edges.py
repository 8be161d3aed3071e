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
    for link in ('href="/_local/ui"', 'href="/_local/health"', 'href="/_local/metrics"'):
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
    # A caller that is no browser page (no Origin: the SDKs, the CLI) gets no CORS headers.
    status, headers, _ = fetch(server.url + "/streamgroups")
    assert status == 200 and "access-control-allow-origin" not in lower(headers)
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
            fetch(url + "/_local/health")
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        log.seek(0)
        lines = [l for l in log.read().splitlines() if "gameliftstreams_local::request" in l]
        assert len(lines) == 4, lines
        assert "\x1b[" not in "".join(lines), "no colour codes when stderr is not a terminal"
        listed, missing, unknown, local = lines
        assert "GET /_local/health" in local and "status=200" in local and "ms=" in local, local
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


def start(data_dir, *args, env=None, stderr=None):
    """`serve` on a free port: (process, url)."""
    proc = subprocess.Popen([BIN, "serve", *args, "--data-dir", data_dir], stdout=subprocess.PIPE, stderr=stderr,
                            text=True, env={**os.environ, **(env or {})})
    line = proc.stdout.readline()
    assert line.startswith("listening on http://"), line
    return proc, line.strip().split(" ")[-1]


def stop(proc):
    proc.terminate()
    proc.wait(timeout=15)


def test_every_serve_flag_is_also_a_gls_variable():
    import json
    import re
    helptext = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, timeout=10).stdout
    flags = set(re.findall(r"^\s+--([a-z0-9-]+)", helptext, re.M)) - {"help"}
    assert len(flags) > 25, flags
    for flag in flags:
        env = "GLS_" + flag.upper().replace("-", "_")
        assert "[env: %s=" % env in helptext, (flag, env)
    with tempfile.TemporaryDirectory() as d:
        proc, url = start(os.path.join(d, "data"), env={"GLS_LISTEN": "127.0.0.1:0", "GLS_CLOCK": "frozen",
                                                        "GLS_TIMING": "realistic", "GLS_THROTTLE": "true",
                                                        "GLS_SESSION_PLACED_MS": "1234"})
        try:
            settings = json.loads(fetch(url + "/_local/health")[2])["settings"]
            assert settings["clock"] == "frozen" and settings["timing"] == "realistic"
            assert settings["throttle"] is True and settings["delaysMs"]["sessionPlaced"] == 1234
            assert settings["listen"] == url and settings["data"] == os.path.join(d, "data")
            assert settings["mode"] == "default" and settings["allowAnyRegion"] is False
        finally:
            stop(proc)
        # A flag wins over its variable.
        proc, url = start(os.path.join(d, "data"), "--listen", "127.0.0.1:0", "--clock", "system",
                          env={"GLS_CLOCK": "frozen"})
        try:
            assert json.loads(fetch(url + "/_local/health")[2])["settings"]["clock"] == "system"
        finally:
            stop(proc)


def test_an_unknown_region_is_refused_unless_any_region_is_allowed(server):
    import boto3
    from botocore.config import Config

    def client(url, region):
        return boto3.client("gameliftstreams", endpoint_url=url, region_name=region, aws_access_key_id="AKIDEXAMPLE",
                            aws_secret_access_key="secret", config=Config(retries={"total_max_attempts": 1}))

    for region in ("us-west2", "mars-1"):
        c = client(server.url, region)
        with pytest.raises(c.exceptions.ValidationException) as e:
            c.list_stream_groups()
        message = e.value.response["Error"]["Message"]
        assert message.startswith("%s is not a region of Amazon GameLift Streams" % region), message
        assert "us-west-2" in message and "--allow-any-region" in message
    for region in ("us-east-2", "us-west-2", "ap-northeast-1", "eu-central-1", "us-east-1"):
        client(server.url, region).list_stream_groups()
    with tempfile.TemporaryDirectory() as d:
        proc, url = start(os.path.join(d, "data"), "--listen", "0", "--allow-any-region")
        try:
            c = client(url, "mars-1")
            app = c.create_application(Description="a", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
                                       ExecutablePath="a.exe", ApplicationSourceUri="s3://bucket/app")
            assert app["Arn"].startswith("arn:aws:gameliftstreams:mars-1:")
        finally:
            stop(proc)


def test_a_reset_empties_the_store_clears_faults_and_sets_the_clock_back(tmp_path):
    import json
    for clock in ("system", "frozen"):
        data = str(tmp_path / clock)
        proc, url = start(data, "--listen", "0", "--clock", clock)
        try:
            def admin(method, path, body=None):
                req = urllib.request.Request(url + path, method=method,
                                             data=json.dumps(body).encode() if body is not None else None)
                with urllib.request.urlopen(req) as r:
                    return json.loads(r.read())

            before = admin("GET", "/_local/clock")["now"]
            admin("POST", "/_local/clock", {"advanceSeconds": 86400 * 30})
            assert admin("GET", "/_local/clock")["now"] >= before + 86400 * 30
            admin("POST", "/_local/faults", {"target": "operation", "operation": "ListStreamGroups",
                                             "error": "InternalServerException", "count": 5})
            assert admin("POST", "/_local/reset") == {"status": "reset"}
            assert admin("GET", "/_local/faults") == {"faults": []}
            now = admin("GET", "/_local/clock")
            assert now["now"] < before + 3600 and now["offsetSeconds"] < 60, now
        finally:
            stop(proc)
        # The rewound clock is what the data dir keeps.
        proc, url = start(data, "--listen", "0", "--clock", clock)
        try:
            assert json.loads(fetch(url + "/_local/clock")[2])["now"] < before + 3600
        finally:
            stop(proc)


def test_metrics_in_the_prometheus_text_format(server):
    c = server.client()
    _, group = make_app_and_group(server, c)
    c.list_stream_groups()
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_application(Identifier="a-000000000")
    status, headers, body = fetch(server.url + "/_local/metrics")
    assert status == 200 and lower(headers)["content-type"].startswith("application/openmetrics-text")
    lines = body.decode().splitlines()

    def value(prefix):
        found = [l for l in lines if l.startswith(prefix + " ")]
        assert len(found) == 1, (prefix, [l for l in lines if not l.startswith("#")])
        return float(found[0].rsplit(" ", 1)[1])

    assert value('gameliftstreams_requests_total{operation="ListStreamGroups",status="200"}') >= 1
    assert value('gameliftstreams_requests_total{operation="GetApplication",status="404"}') >= 1
    assert value('gameliftstreams_request_duration_seconds_count{operation="CreateStreamGroup"}') >= 1
    assert value('gameliftstreams_request_duration_seconds_bucket{le="+Inf",operation="GetApplication"}') >= 1
    for gauge in ("timers_pending", "timers_dead", "export_jobs_pending", "streams_open"):
        assert value("gameliftstreams_" + gauge) >= 0
    assert lines[-1] == "# EOF"
    # Sessions by status, as the store counts them.
    app = c.list_applications()["Items"][0]["Arn"]
    c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC", SignalRequest="offer")
    body = fetch(server.url + "/_local/metrics")[2].decode()
    assert "# TYPE gameliftstreams_sessions gauge" in body.splitlines()
    live = sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith("gameliftstreams_sessions{"))
    assert live >= 1


def test_start_up_summary_and_shutdown_line_in_text_and_json(tmp_path):
    import json
    for fmt in ("text", "json"):
        log = open(tmp_path / ("stderr-" + fmt), "w+")
        data = str(tmp_path / ("data-" + fmt))
        proc, url = start(data, "--listen", "0", "--log-format", fmt, "--clock", "frozen", stderr=log,
                          env={"GLS_LOG": "info"})
        fetch(url + "/streamgroups")
        stop(proc)
        log.seek(0)
        lines = log.read().splitlines()
        if fmt == "text":
            started = next(l for l in lines if "gameliftstreams-local started" in l)
            for part in ("version=", "data=" + data, "mode=default", "timing=fast", "clock=frozen",
                         "api=" + url, "admin=%s/_local/" % url, "streaming=udp://127.0.0.1:"):
                assert part in started, started
            assert any("stopped" in l for l in lines[-2:])
        else:
            events = [json.loads(l) for l in lines]  # every line is one JSON object
            started = next(e for e in events if e.get("message") == "gameliftstreams-local started")
            assert started["api"] == url and started["clock"] == "frozen" and started["data"] == data
            request = next(e for e in events if e.get("target") == "gameliftstreams_local::request")
            assert request["operation"] == "ListStreamGroups" and request["status"] == 200
            assert events[-1]["message"] == "stopped"
