"""An example test suite that uses only what `pip install gameliftstreams-local` gives: the
`gameliftstreams_server` and `gameliftstreams` fixtures of its pytest plugin (no conftest.py).
Run it with `pytest` in an environment where the package is installed."""

import pytest

PROTON = {"Type": "PROTON", "Version": "20241007"}


def make_group(server, client, always_on=2, maximum=2):
    """An application and a stream group, both ready (the clock is frozen: advance it)."""
    app = client.create_application(Description="My game", RuntimeEnvironment=PROTON,
                                    ExecutablePath="Game/Game.exe", ApplicationSourceUri="s3://my-bucket/game/")
    server.advance(5)
    client.get_waiter("application_ready").wait(Identifier=app["Id"])
    group = client.create_stream_group(Description="My group", StreamClass="gen5n_ultra",
                                       DefaultApplicationIdentifier=app["Id"],
                                       LocationConfigurations=[{"LocationName": "us-west-2",
                                                                "AlwaysOnCapacity": always_on,
                                                                "MaximumCapacity": maximum}])
    server.advance(1)
    client.get_waiter("stream_group_active").wait(Identifier=group["Id"])
    return app["Id"], group["Id"]


def start(client, group, app, **extra):
    return client.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                       SignalRequest="NO_CLIENT_CONNECTION", **extra)["Arn"]


def test_a_fresh_server_is_empty_and_frozen(gameliftstreams, gameliftstreams_server):
    assert gameliftstreams.list_stream_groups()["Items"] == []
    assert gameliftstreams.list_stream_sessions_by_account()["Items"] == []
    health = gameliftstreams_server.health()
    assert health["clock"] == "frozen" and health["settings"]["timing"] == "fast"
    before = gameliftstreams_server.now()
    assert gameliftstreams_server.now() == before
    assert gameliftstreams_server.advance(60) == before + 60
    assert "gameliftstreams-local started" in gameliftstreams_server.log()


def test_sessions_start_and_list_by_account(gameliftstreams, gameliftstreams_server):
    app, group = make_group(gameliftstreams_server, gameliftstreams, always_on=3, maximum=3)
    arns = [start(gameliftstreams, group, app, UserId="player-%d" % i) for i in range(3)]
    gameliftstreams_server.advance(2)
    for arn in arns:
        gameliftstreams.get_waiter("stream_session_active").wait(Identifier=group, StreamSessionIdentifier=arn)
    pages = gameliftstreams.get_paginator("list_stream_sessions_by_account").paginate(
        Status="ACTIVE", PaginationConfig={"PageSize": 2})
    # The account's ACTIVE sessions in this group (a session's ARN names its group).
    listed = [i["Arn"] for page in pages for i in page["Items"] if "/%s/" % group in i["Arn"]]
    assert sorted(listed) == sorted(arns)


def test_client_events_and_the_clock_drive_the_lifecycle(gameliftstreams, gameliftstreams_server):
    app, group = make_group(gameliftstreams_server, gameliftstreams)
    arn = start(gameliftstreams, group, app, ConnectionTimeoutSeconds=30)
    gameliftstreams_server.advance(2)
    gameliftstreams_server.event(arn, "clientConnected")
    assert gameliftstreams.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)["Status"] == "CONNECTED"
    gameliftstreams_server.event(arn, "clientDisconnected")
    gameliftstreams_server.advance(31)
    got = gameliftstreams.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)
    assert (got["Status"], got["StatusReason"]) == ("TERMINATED", "reconnectionTimeout")


def test_an_event_the_status_does_not_allow_is_refused(gameliftstreams, gameliftstreams_server):
    from gameliftstreams_local import AdminError

    app, group = make_group(gameliftstreams_server, gameliftstreams)
    arn = start(gameliftstreams, group, app)
    with pytest.raises(AdminError) as refused:  # still ACTIVATING: no client can connect yet
        gameliftstreams_server.event(arn, "clientDisconnected")
    assert refused.value.status == 409


def test_injected_faults_are_listed_strike_and_clear(gameliftstreams, gameliftstreams_server):
    gameliftstreams_server.fault("operation", operation="ListStreamGroups", error="ThrottlingException", count=2)
    with pytest.raises(gameliftstreams.exceptions.ThrottlingException):
        gameliftstreams.list_stream_groups()
    assert [f["remaining"] for f in gameliftstreams_server.faults()] == [1]
    gameliftstreams_server.clear_faults()
    assert gameliftstreams_server.faults() == []
    gameliftstreams.list_stream_groups()


def test_a_session_fault_ends_it_in_error(gameliftstreams, gameliftstreams_server):
    app, group = make_group(gameliftstreams_server, gameliftstreams)
    arn = start(gameliftstreams, group, app)
    gameliftstreams_server.advance(2)
    gameliftstreams_server.fault("session", session=arn, status_reason="internalError")
    got = gameliftstreams.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)
    assert (got["Status"], got["StatusReason"]) == ("ERROR", "internalError")


@pytest.mark.gameliftstreams(quotas="realistic")
def test_the_marker_sets_the_servers_options(gameliftstreams, gameliftstreams_server):
    assert gameliftstreams_server.health()["settings"]["quotas"] == "realistic"
    app = gameliftstreams.create_application(Description="g", RuntimeEnvironment=PROTON, ExecutablePath="g.exe",
                                             ApplicationSourceUri="s3://my-bucket/g/")
    gameliftstreams_server.advance(5)
    with pytest.raises(gameliftstreams.exceptions.ServiceQuotaExceededException):  # a new account has no GPUs
        gameliftstreams.create_stream_group(Description="g", StreamClass="gen5n_ultra",
                                            DefaultApplicationIdentifier=app["Id"],
                                            LocationConfigurations=[{"LocationName": "us-west-2",
                                                                     "AlwaysOnCapacity": 1}])


def test_reset_empties_everything(gameliftstreams, gameliftstreams_server):
    make_group(gameliftstreams_server, gameliftstreams)
    gameliftstreams_server.reset()
    assert gameliftstreams.list_applications()["Items"] == []
    assert gameliftstreams.list_stream_groups()["Items"] == []


def test_servers_from_the_factory_are_independent(gameliftstreams_server_factory):
    one = gameliftstreams_server_factory()
    two = gameliftstreams_server_factory(clock="system", options={"throttle": True})
    _, group = make_group(one, one.client())
    assert group in [g["Id"] for g in one.client().list_stream_groups()["Items"]]
    assert group not in [g["Id"] for g in two.client().list_stream_groups()["Items"]]
    assert two.health()["settings"]["throttle"] is True


def test_a_strict_mode_server_and_its_signed_client(gameliftstreams_server_factory):
    from gameliftstreams_local import Credential

    key = Credential("AKIAEXAMPLEKEY000001", "not-a-real-secret", "123456789012")
    server = gameliftstreams_server_factory(credentials=[key])
    client = server.client()
    assert client.list_stream_groups()["Items"] == []
    wrong = server.client(access_key="AKIAEXAMPLEKEY000001", secret_key="wrong")
    with pytest.raises(Exception) as refused:
        wrong.list_stream_groups()
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert server.advance(10) > 0  # the admin API signed with the first key
