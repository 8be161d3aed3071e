"""Two accounts × two regions: nothing of one partition is readable, listable, modifiable or
deletable from another, by ID, by ARN or by NextToken, for every operation of the model."""

import pytest

from conftest import make_app_and_group, session_id, start_sessions
from test_conformance import OPERATIONS, call, cases_for

PARTITIONS = [("AKIDEXAMPLE", "us-west-2"), ("AKIDEXAMPLE", "us-east-2"), ("123456789012", "us-west-2"),
              ("123456789012", "us-east-2")]


@pytest.fixture(scope="module")
def world(server):
    """Resources in every partition; returns {partition: ids}."""
    out = {}
    for key, region in PARTITIONS:
        c = server.client(access_key=key, region=region)
        app, group = make_app_and_group(server, c)
        sessions = start_sessions(c, group, app, 3)
        server.advance(2)
        url = c.create_stream_url(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                  UrlExpiresAfterMinutes=60, Locations=[region])
        c.tag_resource(ResourceArn=c.get_application(Identifier=app)["Arn"], Tags={"owner": key + region})
        out[(key, region)] = {
            "client": c, "app": app, "group": group, "sessions": sessions, "url": url["StreamUrlId"],
            "app_arn": c.get_application(Identifier=app)["Arn"], "group_arn": c.get_stream_group(Identifier=group)["Arn"],
            "session_arns": [i["Arn"] for i in c.list_stream_sessions(Identifier=group)["Items"]], "url_arn": url["Arn"],
            "tokens": {
                "ListStreamSessionsByAccount": c.list_stream_sessions_by_account(MaxResults=1)["NextToken"],
                "ListStreamSessions": c.list_stream_sessions(Identifier=group, MaxResults=1)["NextToken"],
            },
        }
    return out


def foreign_params(op, victim, by_arn):
    """The operation's valid request, aimed at the victim's resources."""
    base, _ = cases_for(op)
    params = dict(base)
    ident = lambda i, a: a if by_arn else i
    if "Identifier" in params:
        if "Application" in op and op not in ("AssociateApplications", "DisassociateApplications"):
            params["Identifier"] = ident(victim["app"], victim["app_arn"])
        else:
            params["Identifier"] = ident(victim["group"], victim["group_arn"])
    if "StreamSessionIdentifier" in params:
        params["StreamSessionIdentifier"] = ident(victim["sessions"][0], victim["session_arns"][0])
    if "StreamUrlIdentifier" in params:
        params["StreamUrlIdentifier"] = ident(victim["url"], victim["url_arn"])
    if "ApplicationIdentifier" in params:
        params["ApplicationIdentifier"] = ident(victim["app"], victim["app_arn"])
    if "ApplicationIdentifiers" in params:
        params["ApplicationIdentifiers"] = [ident(victim["app"], victim["app_arn"])]
    if "ResourceArn" in params:
        params["ResourceArn"] = victim["app_arn"]
    if op == "CreateStreamGroup":
        params["DefaultApplicationIdentifier"] = ident(victim["app"], victim["app_arn"])
    return params


NAMED = [op for op in OPERATIONS if any(k in cases_for(op)[0] for k in
                                        ("Identifier", "ResourceArn", "ApplicationIdentifier"))
         or op == "CreateStreamGroup"]


@pytest.mark.parametrize("op", NAMED)
@pytest.mark.parametrize("by_arn", [False, True], ids=["by-id", "by-arn"])
def test_no_operation_reaches_another_partition(world, op, by_arn):
    for attacker in PARTITIONS:
        c = world[attacker]["client"]
        for victim_key in PARTITIONS:
            if victim_key == attacker:
                continue
            params = foreign_params(op, world[victim_key], by_arn)
            code = call(c, op, params)
            assert code in ("ResourceNotFoundException", "ValidationException"), (op, attacker, victim_key, code)


def test_lists_and_tokens_stay_in_their_partition(world):
    for key in PARTITIONS:
        mine = world[key]
        c = mine["client"]
        assert [i["Id"] for i in c.list_applications()["Items"]] == [mine["app"]]
        assert [i["Id"] for i in c.list_stream_groups()["Items"]] == [mine["group"]]
        assert [session_id(i) for i in c.list_stream_sessions_by_account()["Items"]] == mine["sessions"]
        assert [i["StreamUrlId"] for i in c.list_stream_urls()["Items"]] == [mine["url"]]
        assert c.list_tags_for_resource(ResourceArn=mine["app_arn"])["Tags"] == {"owner": key[0] + key[1]}
        for other in PARTITIONS:
            if other == key:
                continue
            for op, token in world[other]["tokens"].items():
                params = {"NextToken": token}
                if op == "ListStreamSessions":
                    params["Identifier"] = mine["group"]
                assert call(c, op, params) == "ValidationException", (key, other, op)
    # Nothing was changed by the attempts above.
    for key in PARTITIONS:
        mine = world[key]
        c = mine["client"]
        assert c.get_application(Identifier=mine["app"])["Status"] == "READY"
        assert c.get_stream_group(Identifier=mine["group"])["Status"] == "ACTIVE"
        statuses = {i["Status"] for i in c.list_stream_sessions(Identifier=mine["group"])["Items"]}
        assert statuses == {"ACTIVE"}, statuses
        assert c.get_stream_url(Identifier=mine["group"], StreamUrlIdentifier=mine["url"])["Status"] == "ACTIVE"
