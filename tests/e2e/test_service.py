"""Resources, waiters, wire encoding, persistence and the generated model's drift check."""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import json

from conftest import ROOT, Server, make_app_and_group, session_id, start_sessions


def test_generated_model_matches_pinned_botocore():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "codegen.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_waiters_succeed_with_default_delays():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        try:
            c = s.client()
            started = time.monotonic()
            app = c.create_application(Description="Waited", RuntimeEnvironment={"Type": "UBUNTU", "Version": "22_04_LTS"},
                                       ExecutablePath="bin/game", ApplicationSourceUri="s3://bucket/game")
            c.get_waiter("application_ready").wait(Identifier=app["Id"])
            group = c.create_stream_group(Description="Waited", StreamClass="gen6n_high",
                                          DefaultApplicationIdentifier=app["Id"])
            assert group["Status"] == "ACTIVATING"
            c.get_waiter("stream_group_active").wait(Identifier=group["Id"])
            sess = c.start_stream_session(Identifier=group["Id"], ApplicationIdentifier=app["Arn"],
                                          Protocol="WebRTC", SignalRequest="offer")
            assert sess["Status"] == "ACTIVATING"
            c.get_waiter("stream_session_active").wait(Identifier=group["Id"],
                                                       StreamSessionIdentifier=sess["Arn"])
            assert time.monotonic() - started < 15
            got = c.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=sess["Arn"])
            assert got["Status"] == "ACTIVE" and got["Location"] == "us-west-2" and got["SignalResponse"]
        finally:
            s.stop()


def test_timestamps_are_epoch_seconds_numbers(server, populated):
    req = urllib.request.Request(server.url + "/streamsessions?MaxResults=1")
    with urllib.request.urlopen(req) as r:
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["x-amzn-RequestId"]
        body = json.loads(r.read())
    created = body["Items"][0]["CreatedAt"]
    assert isinstance(created, float) or isinstance(created, int)
    assert abs(created - time.time()) < 10 * 86400 * 365


def test_create_is_idempotent_with_client_token(server):
    c = server.client()
    args = dict(Description="Idem", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
                ExecutablePath="g.exe", ApplicationSourceUri="s3://bucket/g", ClientToken="t" * 40)
    a = c.create_application(**args)
    b = c.create_application(**args)
    assert a["Id"] == b["Id"]
    with pytest_raises(c.exceptions.ConflictException):
        c.create_application(**{**args, "Description": "Other"})


def pytest_raises(exc):
    import pytest
    return pytest.raises(exc)


def test_state_survives_restart():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        c = s.client()
        app, group = make_app_and_group(s, c)
        ids = start_sessions(c, group, app, 4)
        s.advance(2)
        c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=ids[0])
        s.stop()  # SIGKILL: only what was acknowledged as durable survives
        s = Server(d)
        try:
            c = s.client()
            items = c.get_paginator("list_stream_sessions_by_account").paginate().build_full_result()["Items"]
            assert [session_id(i) for i in items] == ids
            # The termination timer survived the restart and fires.
            s.advance(2)
            got = c.get_stream_session(Identifier=group, StreamSessionIdentifier=ids[0])
            assert got["Status"] == "TERMINATED"
        finally:
            s.stop()
