"""The lifecycle engine end to end: every session status and status reason of the model reached
on demand (public API + admin API + the service clock), capacity and placement, faults, export
archives, and timers across a restart."""

import io
import json
import os
import tempfile
import time
import zipfile

import pytest
from botocore.exceptions import WaiterError

from conftest import Server, session_id

PROTON = {"Type": "PROTON", "Version": "20241007"}


@pytest.fixture()
def fresh():
    # A frozen clock: the transient statuses these tests assert (ACTIVATING right after a
    # start, RECONNECTING right after a new connection) hold until the test advances time.
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--clock", "frozen")
        yield s
        s.stop()


def setup(server, always_on=10, maximum=10, target_idle=0, log_paths=None):
    c = server.client(validate=True)
    extra = {"ApplicationLogPaths": log_paths, "ApplicationLogOutputUri": "s3://logs-bucket/"} if log_paths else {}
    app = c.create_application(Description="Life", RuntimeEnvironment=PROTON, ExecutablePath="Game.exe",
                               ApplicationSourceUri="s3://bucket/game/", **extra)
    server.advance(2)
    g = c.create_stream_group(Description="Life", StreamClass="gen5n_ultra", DefaultApplicationIdentifier=app["Id"],
                              LocationConfigurations=[{"LocationName": "us-west-2", "AlwaysOnCapacity": always_on,
                                                       "MaximumCapacity": maximum, "TargetIdleCapacity": target_idle}])
    server.advance(1)
    return c, app["Id"], g["Id"]


def start(c, group, app, **kw):
    return c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                  SignalRequest=kw.pop("SignalRequest", "offer"), **kw)["Arn"]


def get(c, group, arn):
    return c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)


def status(c, group, arn):
    s = get(c, group, arn)
    return s["Status"], s.get("StatusReason")


def ok_event(server, arn, event, **extra):
    code, body = server.event(arn, event, **extra)
    assert code == 200, body
    return body


def test_connection_timeout_and_reconnection_flow(fresh):
    c, app, group = setup(fresh)
    a = start(c, group, app)
    assert status(c, group, a) == ("ACTIVATING", None)
    fresh.advance(2)
    assert status(c, group, a) == ("ACTIVE", None)
    fresh.advance(121)
    assert status(c, group, a) == ("TERMINATED", "connectionTimeout")

    b = start(c, group, app, ConnectionTimeoutSeconds=30)
    fresh.advance(2)
    ok_event(fresh, b, "clientConnected")
    s = get(c, group, b)
    assert s["Status"] == "CONNECTED" and s["StreamingStartedAt"]
    first_start = s["StreamingStartedAt"]
    fresh.advance(600)  # no connection timeout while connected
    ok_event(fresh, b, "clientDisconnected")
    assert status(c, group, b) == ("PENDING_CLIENT_RECONNECTION", None)
    fresh.advance(20)
    c.create_stream_session_connection(Identifier=group, StreamSessionIdentifier=b, SignalRequest="offer-2")
    assert status(c, group, b) == ("RECONNECTING", None)
    fresh.advance(1)
    assert status(c, group, b) == ("ACTIVE", None)
    ok_event(fresh, b, "clientConnected")
    assert get(c, group, b)["StreamingStartedAt"] == first_start
    ok_event(fresh, b, "clientDisconnected")
    fresh.advance(31)
    s = get(c, group, b)
    assert (s["Status"], s["StatusReason"]) == ("TERMINATED", "reconnectionTimeout")
    assert s["StreamingEndedAt"] > s["StreamingStartedAt"]


def test_idle_max_length_and_application_exit(fresh):
    c, app, group = setup(fresh)
    idle = start(c, group, app)
    short = start(c, group, app, SessionLengthSeconds=300)
    crash = start(c, group, app)
    fresh.advance(2)
    for arn in (idle, short, crash):
        ok_event(fresh, arn, "clientConnected")
    fresh.advance(3000)
    ok_event(fresh, idle, "userInput")
    assert status(c, group, short) == ("TERMINATED", "maxSessionLengthTimeout")
    body = ok_event(fresh, crash, "applicationExited", exitCode=3)
    assert body["status"] == "TERMINATED" and body["statusReason"] == "applicationExit"
    fresh.advance(3000)
    assert status(c, group, idle) == ("CONNECTED", None), "input reset the idle timer"
    fresh.advance(700)
    assert status(c, group, idle) == ("TERMINATED", "idleTimeout")


def test_invalid_events_answer_409_and_change_nothing(fresh):
    c, app, group = setup(fresh)
    a = start(c, group, app)
    assert fresh.event(a, "clientConnected")[0] == 409
    assert fresh.event(a, "applicationExited")[0] == 409
    fresh.advance(2)
    assert fresh.event(a, "userInput")[0] == 409
    assert fresh.event(a, "clientDisconnected")[0] == 409
    assert status(c, group, a) == ("ACTIVE", None)
    assert fresh.event("AAAAAAAAAAAAA", "clientConnected")[0] == 404
    assert fresh.event(a, "teleport")[0] == 400
    # By ID as well as by ARN.
    ok_event(fresh, session_id({"Arn": a}), "clientConnected")


def test_faults_reach_every_error_reason(fresh):
    c, app, group = setup(fresh)
    role = "arn:aws:iam::111122223333:role/GameLiftStreams-Test"
    reasons = ["internalError", "invalidSignalRequest", "applicationLogS3DestinationError", "assumeRoleFailed"]
    arns = [start(c, group, app, RoleArn=role) for _ in reasons]
    no_role = start(c, group, app)
    for arn, reason in zip(arns, reasons):
        code, body = fresh.fault(target="session", session=arn, statusReason=reason)
        assert code == 200 and body["faultId"]
        assert status(c, group, arn) == ("ERROR", reason)
    assert fresh.fault(target="session", session=no_role, statusReason="assumeRoleFailed")[0] == 409
    assert fresh.fault(target="session", session=arns[0], statusReason="internalError")[0] == 409, "already ERROR"
    assert fresh.fault(target="session", session=no_role, statusReason="apiTerminated")[0] == 400
    assert fresh.fault(target="nothing")[0] == 400
    with pytest.raises(WaiterError, match="failure state"):
        c.get_waiter("stream_session_active").wait(Identifier=group, StreamSessionIdentifier=arns[0])


def test_operation_faults_then_recovery(fresh):
    c = fresh.client()
    assert fresh.fault(target="operation", operation="ListStreamGroups", error="ThrottlingException", count=2)[0] == 200
    for _ in range(2):
        with pytest.raises(c.exceptions.ThrottlingException):
            c.list_stream_groups()
    c.list_stream_groups()
    assert fresh.fault(target="operation", operation="GetApplication", error="InternalServerException", count=1)[0] == 200
    with pytest.raises(c.exceptions.InternalServerException):
        c.get_application(Identifier="a-000000000")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_application(Identifier="a-000000000")
    # Another account is not affected.
    fresh.fault(target="operation", operation="ListApplications", error="ThrottlingException", count=1)
    fresh.client(access_key="123456789012").list_applications()
    assert fresh.fault(target="operation", operation="NoSuchOperation", error="ThrottlingException")[0] == 400


def test_capacity_exhaustion_waits_then_times_out(fresh):
    c, app, group = setup(fresh, always_on=1, maximum=1)
    first, second, third = (start(c, group, app) for _ in range(3))
    fresh.advance(2)
    assert status(c, group, first) == ("ACTIVE", None)
    assert status(c, group, second) == ("ACTIVATING", None)
    loc = c.get_stream_group(Identifier=group)["LocationStates"][0]
    assert (loc["AllocatedCapacity"], loc["IdleCapacity"]) == (1, 0)
    # A slot that frees up goes to the oldest waiting session.
    c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=first)
    fresh.advance(2)
    assert status(c, group, second) == ("ACTIVE", None)
    fresh.advance(76)
    assert status(c, group, third) == ("ERROR", "placementTimeout")
    assert status(c, group, second) == ("ACTIVE", None)
    fresh.advance(60)
    assert status(c, group, second) == ("TERMINATED", "connectionTimeout")


def test_on_demand_capacity_scales_up_and_drains(fresh):
    c, app, group = setup(fresh, always_on=1, maximum=3)
    arns = [start(c, group, app) for _ in range(3)]
    fresh.advance(1)
    assert [status(c, group, a)[0] for a in arns] == ["ACTIVE", "ACTIVATING", "ACTIVATING"]
    fresh.advance(3)  # the scale-up delay
    assert [status(c, group, a)[0] for a in arns] == ["ACTIVE"] * 3
    loc = c.get_stream_group(Identifier=group)["LocationStates"][0]
    assert (loc["AllocatedCapacity"], loc["IdleCapacity"]) == (3, 0)
    for a in arns:
        c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=a)
    fresh.advance(2)
    loc = c.get_stream_group(Identifier=group)["LocationStates"][0]
    assert (loc["AllocatedCapacity"], loc["IdleCapacity"]) == (1, 1), "back to always-on"


def test_target_idle_keeps_a_buffer(fresh):
    c, app, group = setup(fresh, always_on=0, maximum=4, target_idle=2)
    loc = c.get_stream_group(Identifier=group)["LocationStates"][0]
    assert (loc["AllocatedCapacity"], loc["IdleCapacity"]) == (2, 2)
    a = start(c, group, app)
    fresh.advance(2)
    assert status(c, group, a)[0] == "ACTIVE"
    loc = c.get_stream_group(Identifier=group)["LocationStates"][0]
    assert (loc["AllocatedCapacity"], loc["IdleCapacity"]) == (2, 1)


def test_location_fault_and_placement_fault(fresh):
    c, app, group = setup(fresh)
    assert fresh.fault(target="placement", streamGroup=group, location="us-west-2", count=1)[0] == 200
    a = start(c, group, app)
    fresh.advance(2)
    assert status(c, group, a)[0] == "ACTIVATING", "the placement found no capacity"
    assert fresh.fault(target="location", streamGroup=group, location="us-west-2")[0] == 200
    g = c.get_stream_group(Identifier=group)
    assert g["Status"] == "ACTIVE_WITH_ERRORS" and g["LocationStates"][0]["Status"] == "ERROR"
    with pytest.raises(WaiterError, match="failure state"):
        c.get_waiter("stream_group_active").wait(Identifier=group)
    assert fresh.fault(target="location", streamGroup="sg-000000000", location="us-west-2")[0] == 404


def export_file(server, uri):
    return os.path.join(server.data_dir, "s3", uri[len("s3://"):])


def test_export_archive_contents_and_failures(fresh):
    c, app, group = setup(fresh, log_paths=["Saved/Logs/", "game.log"])
    good, never, injected, escape = (start(c, group, app) for _ in range(4))
    fresh.advance(2)
    for arn in (good, injected, escape):
        ok_event(fresh, arn, "clientConnected")
    fresh.advance(30)
    c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=good, OutputUri="s3://exports-bucket/runs/")
    c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=never, OutputUri="s3://exports-bucket/n.zip")
    c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=injected, OutputUri="s3://exports-bucket/i.zip")
    c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=escape, OutputUri="s3://exports-bucket/../../etc/x.zip")
    assert fresh.fault(target="export", session=injected, reason="Bucket policy denies PutObject")[0] == 200
    for arn in (good, never, injected, escape):
        c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=arn)
    fresh.advance(2)
    meta = get(c, group, good)["ExportFilesMetadata"]
    assert meta["Status"] == "SUCCEEDED"
    assert meta["OutputUri"].startswith("s3://exports-bucket/runs/") and meta["OutputUri"].endswith(
        "-%s-%s-%s.zip" % (app, group, session_id({"Arn": good})))
    with zipfile.ZipFile(export_file(fresh, meta["OutputUri"])) as z:
        names = z.namelist()
        assert "session.json" in names and "performance-stats.csv" in names
        assert {"profile/", "temp/"} <= set(names)
        logs = [n for n in names if n.startswith("application/")]
        assert len(logs) == 2
        doc = json.loads(z.read("session.json"))
        assert doc["Arn"] == good
        csv = z.read("performance-stats.csv").decode().splitlines()
        assert csv[0].startswith("timestamp,") and len(csv) > 2
    listed = c.list_stream_sessions(Identifier=group, ExportFilesStatus="FAILED")["Items"]
    assert {i["Arn"] for i in listed} == {never, injected, escape}
    reasons = {i["Arn"]: i["ExportFilesMetadata"]["StatusReason"] for i in listed}
    assert "no client" in reasons[never]
    assert reasons[injected] == "Bucket policy denies PutObject"
    assert "cannot be stored safely" in reasons[escape]
    assert not os.path.exists(os.path.join(fresh.data_dir, "etc"))


def test_timers_survive_a_restart():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        c, app, group = setup(s)
        placed = start(c, group, app)
        s.advance(2)
        pending = start(c, group, app)  # placement due 1 s from now, real time
        s.stop()
        time.sleep(1.2)
        s = Server(d)
        try:
            c = s.client()
            assert status(c, group, pending) == ("ACTIVE", None), "due while down: fired on start"
            assert status(c, group, placed) == ("ACTIVE", None)
            s.advance(121)
            assert status(c, group, placed) == ("TERMINATED", "connectionTimeout")
            assert status(c, group, pending) == ("TERMINATED", "connectionTimeout")
        finally:
            s.stop()


def test_every_status_and_reason_of_the_model_is_reachable(fresh):
    """Drive sessions through every status and every status reason, and check nothing is left."""
    import botocore.session
    model = botocore.session.get_session().get_service_model("gameliftstreams")
    want_status = set(model.shape_for("StreamSessionStatus").enum)
    want_reason = set(model.shape_for("StreamSessionStatusReason").enum)
    c, app, group = setup(fresh, always_on=1, maximum=1)
    seen_status, seen_reason = set(), set()

    def note(arn):
        s, r = status(c, group, arn)
        seen_status.add(s)
        if r:
            seen_reason.add(r)

    role = "arn:aws:iam::111122223333:role/GameLiftStreams-Test"
    a = start(c, group, app, RoleArn=role, SessionLengthSeconds=5000)
    waiting = start(c, group, app)
    note(a)
    fresh.advance(2)
    note(a)
    ok_event(fresh, a, "clientConnected"); note(a)
    ok_event(fresh, a, "clientDisconnected"); note(a)
    c.create_stream_session_connection(Identifier=group, StreamSessionIdentifier=a, SignalRequest="again"); note(a)
    fresh.advance(1)
    c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=a); note(a)
    fresh.advance(2); note(a)
    fresh.advance(120); note(waiting)  # placed when `a` freed its slot, then nobody connected
    # The remaining reasons, one session each.
    def fresh_session(**kw):
        arn = start(c, group, app, **kw)
        fresh.advance(2)
        return arn
    x = fresh_session(); ok_event(fresh, x, "clientConnected"); ok_event(fresh, x, "clientDisconnected")
    fresh.advance(121); note(x)  # reconnectionTimeout
    x = fresh_session(); ok_event(fresh, x, "clientConnected"); fresh.advance(3601); note(x)  # idleTimeout
    x = fresh_session(SessionLengthSeconds=60); ok_event(fresh, x, "clientConnected"); fresh.advance(61); note(x)
    x = fresh_session(); ok_event(fresh, x, "applicationExited", exitCode=1); note(x)
    blocker = fresh_session()
    x = start(c, group, app); fresh.advance(76); note(x)  # placementTimeout: blocker holds the only slot
    for reason in ["internalError", "invalidSignalRequest", "applicationLogS3DestinationError", "assumeRoleFailed"]:
        x = start(c, group, app, RoleArn=role)
        fresh.fault(target="session", session=x, statusReason=reason)
        note(x)
    assert seen_status == want_status, want_status - seen_status
    assert seen_reason == want_reason, want_reason - seen_reason


def test_ended_sessions_stay_listable_for_the_retention_then_go(fresh):
    c, app, group = setup(fresh, log_paths=["logs/"])
    ended, live = start(c, group, app), start(c, group, app)
    fresh.advance(2)
    ok_event(fresh, live, "clientConnected")
    c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=ended)
    fresh.advance(2)
    s = get(c, group, ended)
    assert s["LogFileLocationUri"] == "s3://logs-bucket/%s/%s/" % (group, session_id({"Arn": ended}))
    fresh.advance(89 * 86400)
    assert {i["Arn"] for i in c.list_stream_sessions_by_account()["Items"]} >= {ended}
    fresh.advance(86400 + 1800)
    arns = {i["Arn"] for i in c.list_stream_sessions_by_account()["Items"]}
    assert ended not in arns, "90 days after it ended"
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        get(c, group, ended)
    # The connected one ended an hour later (idle), so it is still within its retention.
    assert live in arns and status(c, group, live) == ("TERMINATED", "idleTimeout")
    fresh.advance(3600)
    assert c.list_stream_sessions_by_account()["Items"] == []
