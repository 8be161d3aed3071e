"""Every operation beyond the core, through boto3: preconditions, side effects on both ends of
associations, DELETING states that end in 404, tags, stream URLs, admin shell, idempotency,
quotas, age rules, and all five waiters and paginators of the model."""

import re
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import WaiterError

from conftest import Server, make_app_and_group, session_id, start_sessions

PROTON = {"Type": "PROTON", "Version": "20241007"}


def new_app(c, name="App", **kw):
    return c.create_application(Description=name, RuntimeEnvironment=PROTON, ExecutablePath="Game.exe",
                                ApplicationSourceUri="s3://bucket/game/", **kw)


def ready_app(server, c, name="App", **kw):
    app = new_app(c, name, **kw)
    server.advance(2)
    return app


def open_url(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture()
def fresh():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        yield s
        s.stop()


def test_update_and_delete_application(fresh):
    c = fresh.client()
    app = new_app(c)
    with pytest.raises(c.exceptions.ConflictException):
        c.delete_application(Identifier=app["Id"])  # still INITIALIZED
    fresh.advance(2)
    up = c.update_application(Identifier=app["Arn"], Description="Renamed", ApplicationLogPaths=["logs/"],
                              ApplicationLogOutputUri="s3://bucket/logs/")
    assert up["Description"] == "Renamed" and up["ApplicationLogPaths"] == ["logs/"]
    assert up["LastUpdatedAt"] >= up["CreatedAt"]
    with pytest.raises(c.exceptions.ValidationException):
        c.update_application(Identifier=app["Id"], ApplicationLogOutputUri="")
    off = c.update_application(Identifier=app["Id"], ApplicationLogPaths=[], ApplicationLogOutputUri="")
    assert off["ApplicationLogPaths"] == []
    c.delete_application(Identifier=app["Id"])
    assert c.get_application(Identifier=app["Id"])["Status"] == "DELETING"
    c.delete_application(Identifier=app["Id"])  # again: still 204
    c.get_waiter("application_deleted").wait(Identifier=app["Id"])
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_application(Identifier=app["Id"])


def test_associations_are_kept_both_ways(fresh):
    c = fresh.client()
    a1, a2 = ready_app(fresh, c, "One"), ready_app(fresh, c, "Two")
    g = c.create_stream_group(Description="G", StreamClass="gen5n_ultra")
    fresh.advance(1)
    assert "DefaultApplication" not in c.get_stream_group(Identifier=g["Id"])
    out = c.associate_application(Identifier=g["Id"], ApplicationIdentifiers=[a1["Id"], a2["Arn"]]) \
        if hasattr(c, "associate_application") else \
        c.associate_applications(Identifier=g["Id"], ApplicationIdentifiers=[a1["Id"], a2["Arn"]])
    assert out["Arn"] == g["Arn"] and out["ApplicationArns"] == [a1["Arn"], a2["Arn"]]
    got = c.get_stream_group(Identifier=g["Id"])
    assert got["DefaultApplication"]["Id"] == a1["Id"]
    assert got["AssociatedApplications"] == [a1["Arn"], a2["Arn"]]
    fresh.advance(1)
    app1 = c.get_application(Identifier=a1["Id"])
    assert app1["AssociatedStreamGroups"] == [g["Arn"]]
    assert app1["ReplicationStatuses"] == [{"Location": "us-west-2", "Status": "COMPLETED"}]
    # Idempotent.
    c.associate_applications(Identifier=g["Id"], ApplicationIdentifiers=[a1["Id"]])
    assert c.get_stream_group(Identifier=g["Id"])["AssociatedApplications"] == [a1["Arn"], a2["Arn"]]
    # Removing the default picks another.
    c.disassociate_applications(Identifier=g["Id"], ApplicationIdentifiers=[a1["Id"]])
    got = c.get_stream_group(Identifier=g["Id"])
    assert got["DefaultApplication"]["Id"] == a2["Id"] and got["AssociatedApplications"] == [a2["Arn"]]
    assert c.get_application(Identifier=a1["Id"]).get("AssociatedStreamGroups", []) == []
    assert c.get_application(Identifier=a1["Id"]).get("ReplicationStatuses", []) == []
    # Deleting an app that is still associated is refused.
    with pytest.raises(c.exceptions.ValidationException):
        c.delete_application(Identifier=a2["Id"])
    win = c.create_application(Description="Win", RuntimeEnvironment={"Type": "WINDOWS", "Version": "2022"},
                               ExecutablePath="Game.exe", ApplicationSourceUri="s3://bucket/win/")
    fresh.advance(2)
    with pytest.raises(c.exceptions.ValidationException):
        c.associate_applications(Identifier=g["Id"], ApplicationIdentifiers=[win["Id"]])
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.associate_applications(Identifier=g["Id"], ApplicationIdentifiers=["a-000000000"])


def test_update_stream_group_and_locations(fresh):
    c = fresh.client()
    app, group = make_app_and_group(fresh, c)
    up = c.update_stream_group(Identifier=group, Description="New name", LocationConfigurations=[
        {"LocationName": "us-west-2", "AlwaysOnCapacity": 2, "MaximumCapacity": 4, "TargetIdleCapacity": 1}])
    loc = up["LocationStates"][0]
    assert (loc["AlwaysOnCapacity"], loc["MaximumCapacity"], loc["TargetIdleCapacity"], loc["OnDemandCapacity"]) == (2, 4, 1, 2)
    with pytest.raises(c.exceptions.ValidationException):
        c.update_stream_group(Identifier=group, LocationConfigurations=[{"LocationName": "eu-west-1"}])
    with pytest.raises(c.exceptions.ValidationException):
        c.update_stream_group(Identifier=group, LocationConfigurations=[
            {"LocationName": "us-west-2", "OnDemandCapacity": 1, "MaximumCapacity": 2}])
    added = c.add_stream_group_locations(Identifier=group, LocationConfigurations=[{"LocationName": "eu-central-1"}])
    assert added["Identifier"] == c.get_stream_group(Identifier=group)["Arn"]
    assert [l["LocationName"] for l in added["Locations"]] == ["eu-central-1"]
    assert added["Locations"][0]["Status"] == "ACTIVATING"
    c.get_waiter("stream_group_active").wait(Identifier=group)
    g = c.get_stream_group(Identifier=group)
    assert [(l["LocationName"], l["Status"]) for l in g["LocationStates"]] == [("us-west-2", "ACTIVE"), ("eu-central-1", "ACTIVE")]
    reps = c.get_application(Identifier=app)["ReplicationStatuses"]
    assert {"Location": "eu-central-1", "Status": "COMPLETED"} in reps
    with pytest.raises(c.exceptions.ValidationException):
        c.add_stream_group_locations(Identifier=group, LocationConfigurations=[{"LocationName": "eu-central-1"}])
    with pytest.raises(c.exceptions.ValidationException):
        c.remove_stream_group_locations(Identifier=group, Locations=["us-west-2"])
    s = c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                               SignalRequest="offer", Locations=["eu-central-1"])
    fresh.advance(2)
    assert c.get_stream_session(Identifier=group, StreamSessionIdentifier=s["Arn"])["Location"] == "eu-central-1"
    c.remove_stream_group_locations(Identifier=group, Locations=["eu-central-1"])
    assert c.get_stream_session(Identifier=group, StreamSessionIdentifier=s["Arn"])["Status"] == "TERMINATING"
    fresh.advance(2)
    g = c.get_stream_group(Identifier=group)
    assert g["Status"] == "ACTIVE" and [l["LocationName"] for l in g["LocationStates"]] == ["us-west-2"]
    assert [r["Location"] for r in c.get_application(Identifier=app)["ReplicationStatuses"]] == ["us-west-2"]


def test_delete_stream_group_ends_sessions_and_links(fresh):
    c = fresh.client()
    app, group = make_app_and_group(fresh, c)
    ids = start_sessions(c, group, app, 2)
    fresh.advance(2)
    arn = c.get_stream_group(Identifier=group)["Arn"]
    c.delete_stream_group(Identifier=arn)
    c.get_waiter("stream_group_deleted").wait(Identifier=group)
    assert c.get_application(Identifier=app).get("AssociatedStreamGroups", []) == []
    fresh.advance(2)
    items = c.list_stream_sessions_by_account()["Items"]
    assert [(session_id(i), i["Status"], i["StatusReason"]) for i in items] == [
        (ids[0], "TERMINATED", "apiTerminated"), (ids[1], "TERMINATED", "apiTerminated")]
    c.delete_application(Identifier=app)  # no longer associated


def test_connections_and_admin_shell(fresh):
    c = fresh.client()
    app, group = make_app_and_group(fresh, c)
    s = c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC", SignalRequest="offer-1")
    with pytest.raises(c.exceptions.ConflictException):
        c.create_stream_session_connection(Identifier=group, StreamSessionIdentifier=s["Arn"], SignalRequest="offer-2")
    with pytest.raises(c.exceptions.StreamSessionAccessNotReadyException):
        c.create_stream_session_admin_shell(Identifier=group, StreamSessionIdentifier=s["Arn"])
    fresh.advance(2)
    with pytest.raises(c.exceptions.ValidationException):
        c.create_stream_session_connection(Identifier=group, StreamSessionIdentifier=s["Arn"], SignalRequest="offer-1")
    conn = c.create_stream_session_connection(Identifier=group, StreamSessionIdentifier=s["Arn"], SignalRequest="offer-2")
    assert conn["SignalResponse"]
    shell = c.create_stream_session_admin_shell(Identifier=group, StreamSessionIdentifier=s["Arn"])
    assert shell["SessionId"] and shell["StreamUrl"].startswith("wss://") and shell["TokenValue"]
    c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=s["Arn"])
    with pytest.raises(c.exceptions.ValidationException):
        c.create_stream_session_admin_shell(Identifier=group, StreamSessionIdentifier=s["Arn"])
    assert c.list_application_shader_caches(Identifier=app)["Items"] == []
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_application_shader_caches(Identifier="a-000000000")


def test_tags(fresh):
    c = fresh.client()
    app = new_app(c, Tags={"team": "core"})
    g = c.create_stream_group(Description="G", StreamClass="gen4n_high", Tags={"env": "test"})
    assert c.list_tags_for_resource(ResourceArn=app["Arn"])["Tags"] == {"team": "core"}
    assert c.list_tags_for_resource(ResourceArn=g["Arn"])["Tags"] == {"env": "test"}
    c.tag_resource(ResourceArn=app["Arn"], Tags={"team": "games", "tier": "1"})
    assert c.list_tags_for_resource(ResourceArn=app["Arn"])["Tags"] == {"team": "games", "tier": "1"}
    c.untag_resource(ResourceArn=app["Arn"], TagKeys=["tier", "absent"])
    assert c.list_tags_for_resource(ResourceArn=app["Arn"])["Tags"] == {"team": "games"}
    c.untag_resource(ResourceArn=app["Arn"], TagKeys=[])
    with pytest.raises(c.exceptions.ValidationException):
        c.tag_resource(ResourceArn=app["Arn"], Tags={"aws:owner": "x"})
    with pytest.raises(c.exceptions.ValidationException):
        c.tag_resource(ResourceArn=app["Arn"], Tags={"k%d" % i: "v" for i in range(50)})
    with pytest.raises(c.exceptions.ValidationException):
        c.list_tags_for_resource(ResourceArn="arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-1/ABC")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_tags_for_resource(ResourceArn="arn:aws:gameliftstreams:us-west-2:111122223333:application/a-000000000")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_tags_for_resource(ResourceArn=app["Arn"].replace("us-west-2", "us-east-2"))


def test_stream_urls(fresh):
    c = fresh.client()
    app, group = make_app_and_group(fresh, c)
    u = c.create_stream_url(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                            UrlExpiresAfterMinutes=30, UsageLimit=2, Locations=["us-west-2"])
    assert u["Status"] == "ACTIVE" and u["RemainingUses"] == 2 and u["UsageLimit"] == 2
    assert (u["ExpiresAt"] - u["CreatedAt"]).total_seconds() == pytest.approx(1800, abs=0.01)
    assert u["StreamUrl"].startswith(fresh.url + "/_local/streamurls/" + u["StreamUrlId"])
    # A HEAD (a link preview) spends no use and starts no session.
    with urllib.request.urlopen(urllib.request.Request(u["StreamUrl"], method="HEAD")) as r:
        assert r.status == 200 and r.read() == b""
    got = c.get_stream_url(Identifier=group, StreamUrlIdentifier=u["Arn"])
    assert got["RemainingUses"] == 2 and got.get("StreamSessions", []) == []
    status, page = open_url(u["StreamUrl"])
    assert status == 200
    arn = re.search(r'id="arn">([^<]+)<', page).group(1)
    got = c.get_stream_url(Identifier=group, StreamUrlIdentifier=u["Arn"])
    assert got["RemainingUses"] == 1 and got["Status"] == "ACTIVE"
    assert [s["Arn"] for s in got["StreamSessions"]] == [arn]
    fresh.advance(2)
    s = c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)
    assert s["Status"] == "ACTIVE" and "SignalRequest" not in s
    # A URL-born session is a single play: no reconnection.
    fresh.event(arn, "clientConnected")
    fresh.event(arn, "clientDisconnected")
    with pytest.raises(c.exceptions.ValidationException):
        c.create_stream_session_connection(Identifier=group, StreamSessionIdentifier=arn, SignalRequest="again")
    assert open_url(u["StreamUrl"])[0] == 200
    assert c.get_stream_url(Identifier=group, StreamUrlIdentifier=u["StreamUrlId"])["Status"] == "LIMIT_REACHED"
    status, page = open_url(u["StreamUrl"])
    assert status == 403 and "used" in page
    assert open_url(u["StreamUrl"].split("?")[0] + "?token=wrong")[0] == 404
    # Revoke and terminate: the URL's live sessions end.
    fresh.advance(2)
    c.revoke_stream_url(Identifier=group, StreamUrlIdentifier=u["StreamUrlId"], RevocationMode="REVOKE_AND_TERMINATE_SESSIONS")
    got = c.get_stream_url(Identifier=group, StreamUrlIdentifier=u["StreamUrlId"])
    assert (got["Status"], got["StatusReason"]) == ("REVOKED", "revokedAndTerminatingSessions")
    fresh.advance(3)
    got = c.get_stream_url(Identifier=group, StreamUrlIdentifier=u["StreamUrlId"])
    assert got["StatusReason"] == "revokedAndSessionsTerminated"
    assert {s["Status"] for s in got["StreamSessions"]} == {"TERMINATED"}
    # Expiry, and the listing with its filters.
    short = c.create_stream_url(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                UrlExpiresAfterMinutes=1, Locations=["us-west-2"])
    plain = c.create_stream_url(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                UrlExpiresAfterMinutes=600, Locations=["us-west-2"], Description="kept")
    fresh.advance(61)
    assert c.get_stream_url(Identifier=group, StreamUrlIdentifier=short["StreamUrlId"])["Status"] == "EXPIRED"
    assert open_url(short["StreamUrl"])[0] == 403
    c.revoke_stream_url(Identifier=group, StreamUrlIdentifier=plain["Arn"])
    assert c.get_stream_url(Identifier=group, StreamUrlIdentifier=plain["Arn"])["StatusReason"] == "userRevoked"
    pages = c.get_paginator("list_stream_urls").paginate(PaginationConfig={"PageSize": 1}).build_full_result()
    assert [i["StreamUrlId"] for i in pages["Items"]] == [u["StreamUrlId"], short["StreamUrlId"], plain["StreamUrlId"]]
    assert [i["StreamUrlId"] for i in c.list_stream_urls(Status="EXPIRED")["Items"]] == [short["StreamUrlId"]]
    assert len(c.list_stream_urls(StreamGroupIdentifier=group)["Items"]) == 3
    assert c.list_stream_urls(StreamGroupIdentifier="sg-000000000")["Items"] == []
    # Deleting the group revokes what is left and keeps the URLs readable.
    c.delete_stream_group(Identifier=group)
    fresh.advance(1)
    got = c.get_stream_url(Identifier=group, StreamUrlIdentifier=short["StreamUrlId"])
    assert (got["Status"], got["StatusReason"]) == ("REVOKED", "streamGroupDeleted")


def test_client_tokens_replay_or_conflict(fresh):
    c = fresh.client()
    token = "idempotency-token-0000000000000000001"
    a = new_app(c, "Idem", ClientToken=token)
    assert new_app(c, "Idem", ClientToken=token)["Id"] == a["Id"]
    with pytest.raises(c.exceptions.ConflictException):
        new_app(c, "Other", ClientToken=token)
    fresh.advance(2)
    g1 = c.create_stream_group(Description="G", StreamClass="gen5n_ultra", DefaultApplicationIdentifier=a["Id"], ClientToken=token)
    g2 = c.create_stream_group(Description="G", StreamClass="gen5n_ultra", DefaultApplicationIdentifier=a["Id"], ClientToken=token)
    assert g1["Id"] == g2["Id"] and len(c.list_stream_groups()["Items"]) == 1
    fresh.advance(1)
    args = dict(Identifier=g1["Id"], ApplicationIdentifier=a["Id"], Protocol="WebRTC", SignalRequest="offer", ClientToken=token)
    s1, s2 = c.start_stream_session(**args), c.start_stream_session(**args)
    assert s1["Arn"] == s2["Arn"]
    with pytest.raises(c.exceptions.ConflictException):
        c.start_stream_session(**{**args, "UserId": "someone-else"})
    fresh.advance(2)
    cargs = dict(Identifier=g1["Id"], StreamSessionIdentifier=s1["Arn"], SignalRequest="offer-2", ClientToken=token)
    assert c.create_stream_session_connection(**cargs)["SignalResponse"] == c.create_stream_session_connection(**cargs)["SignalResponse"]
    uargs = dict(Identifier=g1["Id"], ApplicationIdentifier=a["Id"], Protocol="WebRTC", UrlExpiresAfterMinutes=5,
                 Locations=["us-west-2"], ClientToken=token)
    assert c.create_stream_url(**uargs)["Arn"] == c.create_stream_url(**uargs)["Arn"]
    with pytest.raises(c.exceptions.ConflictException):
        c.create_stream_url(**{**uargs, "UsageLimit": 3})


def test_realistic_quotas():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--quotas", "realistic")
        try:
            c = s.client()
            with pytest.raises(c.exceptions.ServiceQuotaExceededException) as e:
                c.create_stream_group(Description="G", StreamClass="gen5n_ultra")
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402
            # Zero capacity needs no GPU.
            c.create_stream_group(Description="G", StreamClass="gen5n_ultra",
                                  LocationConfigurations=[{"LocationName": "us-west-2", "AlwaysOnCapacity": 0}])
            for i in range(20):
                new_app(c, "App%d" % i)
            with pytest.raises(c.exceptions.ServiceQuotaExceededException):
                new_app(c, "One too many")
        finally:
            s.stop()


def test_gpu_quota_counts_every_group_of_a_family():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--quota-gpus", "4")
        try:
            c = s.client()
            cfg = lambda n: [{"LocationName": "us-west-2", "AlwaysOnCapacity": n, "MaximumCapacity": n}]
            c.create_stream_group(Description="A", StreamClass="gen4n_high", LocationConfigurations=cfg(4))  # 2 GPUs
            c.create_stream_group(Description="B", StreamClass="gen4n_ultra", LocationConfigurations=cfg(2))  # 2 GPUs
            with pytest.raises(c.exceptions.ServiceQuotaExceededException):
                c.create_stream_group(Description="C", StreamClass="gen4n_ultra", LocationConfigurations=cfg(1))
            c.create_stream_group(Description="D", StreamClass="gen6n_ultra", LocationConfigurations=cfg(4))  # other family
        finally:
            s.stop()


def test_age_rules_and_expiry(fresh):
    c = fresh.client()
    app, group = make_app_and_group(fresh, c)
    other = ready_app(fresh, c, "Late")
    fresh.advance(180 * 86400)
    with pytest.raises(c.exceptions.ValidationException):
        c.associate_applications(Identifier=group, ApplicationIdentifiers=[other["Id"]])
    c.disassociate_applications(Identifier=group, ApplicationIdentifiers=[other["Id"]])
    fresh.advance(185 * 86400 + 60)
    g = c.get_stream_group(Identifier=group)
    assert g["Status"] == "EXPIRED"
    with pytest.raises(c.exceptions.ConflictException):
        c.update_stream_group(Identifier=group, Description="x")
    with pytest.raises(c.exceptions.ConflictException):
        c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC", SignalRequest="o")
    c.delete_stream_group(Identifier=group)
    c.get_waiter("stream_group_deleted").wait(Identifier=group)


def test_all_waiters_with_default_delays(fresh):
    c = fresh.client()
    started = time.monotonic()
    app = new_app(c)
    c.get_waiter("application_ready").wait(Identifier=app["Id"])
    g = c.create_stream_group(Description="W", StreamClass="gen5n_ultra", DefaultApplicationIdentifier=app["Id"])
    c.get_waiter("stream_group_active").wait(Identifier=g["Id"])
    s = c.start_stream_session(Identifier=g["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC", SignalRequest="o")
    c.get_waiter("stream_session_active").wait(Identifier=g["Id"], StreamSessionIdentifier=s["Arn"])
    c.terminate_stream_session(Identifier=g["Id"], StreamSessionIdentifier=s["Arn"])
    c.delete_stream_group(Identifier=g["Id"])
    c.get_waiter("stream_group_deleted").wait(Identifier=g["Id"])
    c.delete_application(Identifier=app["Id"])
    c.get_waiter("application_deleted").wait(Identifier=app["Id"])
    assert time.monotonic() - started < 20


def test_waiters_fail_where_the_model_says():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--group-active-ms", "60000", "--group-deleted-ms", "60000")
        try:
            c = s.client()
            bad = c.create_application(Description="Bad", RuntimeEnvironment=PROTON, ExecutablePath="run.sh",
                                       ApplicationSourceUri="s3://bucket/bad/")
            with pytest.raises(WaiterError, match="failure state"):
                c.get_waiter("application_ready").wait(Identifier=bad["Id"])
            assert c.get_application(Identifier=bad["Id"])["StatusReason"] == "internalError"
            app = ready_app(s, c)
            g = c.create_stream_group(Description="W", StreamClass="gen5n_ultra", DefaultApplicationIdentifier=app["Id"])
            s.advance(61)
            # No capacity can be found: after the 75 s placement timeout the session errors.
            assert s.fault(target="placement", streamGroup=g["Id"], location="us-west-2", count=1)[0] == 200
            sess = c.start_stream_session(Identifier=g["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
                                          SignalRequest="o")
            s.advance(76)
            with pytest.raises(WaiterError, match="failure state"):
                c.get_waiter("stream_session_active").wait(Identifier=g["Id"], StreamSessionIdentifier=sess["Arn"],
                                                           WaiterConfig={"Delay": 1, "MaxAttempts": 5})
            assert c.get_stream_session(Identifier=g["Id"], StreamSessionIdentifier=sess["Arn"])["StatusReason"] == "placementTimeout"
            s.advance(61)
            c.delete_stream_group(Identifier=g["Id"])
            with pytest.raises(WaiterError, match="failure state"):
                c.get_waiter("stream_group_active").wait(Identifier=g["Id"])
        finally:
            s.stop()


def test_every_paginator_of_the_model(fresh):
    c = fresh.client()
    apps = [ready_app(fresh, c, "P%d" % i)["Id"] for i in range(3)]
    groups = [c.create_stream_group(Description="G%d" % i, StreamClass="gen5n_ultra",
                                    DefaultApplicationIdentifier=apps[0])["Id"] for i in range(3)]
    fresh.advance(1)
    sessions = start_sessions(c, groups[0], apps[0], 3)
    urls = [c.create_stream_url(Identifier=groups[0], ApplicationIdentifier=apps[0], Protocol="WebRTC",
                                UrlExpiresAfterMinutes=5, Locations=["us-west-2"])["StreamUrlId"] for _ in range(3)]
    cfg = {"PageSize": 1, "MaxItems": 2}
    for name, kwargs, key, want in [
        ("list_applications", {}, "Id", apps),
        ("list_stream_groups", {}, "Id", groups),
        ("list_stream_sessions", {"Identifier": groups[0]}, None, sessions),
        ("list_stream_sessions_by_account", {}, None, sessions),
        ("list_stream_urls", {}, "StreamUrlId", urls),
    ]:
        p = c.get_paginator(name)
        first = p.paginate(PaginationConfig=cfg, **kwargs).build_full_result()
        rest = p.paginate(PaginationConfig={"PageSize": 1, "StartingToken": first["NextToken"]}, **kwargs).build_full_result()
        ids = [(i[key] if key else session_id(i)) for i in first["Items"] + rest["Items"]]
        assert ids == want, name


def test_throttle_enforces_the_documented_rates():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--throttle")
        try:
            c = s.client()
            c.create_stream_group(Description="One", StreamClass="gen4n_high")
            with pytest.raises(c.exceptions.ThrottlingException) as e:
                c.create_stream_group(Description="Two", StreamClass="gen4n_high")
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            # Another operation has its own bucket, and another account too.
            c.list_stream_groups()
            s.client(access_key="123456789012").create_stream_group(Description="Other", StreamClass="gen4n_high")
            time.sleep(1.1)
            c.create_stream_group(Description="Later", StreamClass="gen4n_high")
        finally:
            s.stop()
