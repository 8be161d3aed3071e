"""The Rust client (`gameliftstreams-local sessions list ...`, built on gameliftstreams-paginate)
against boto3 1.44.8 and the AWS CLI: tokens interchangeable both ways, and the same JSON."""

import json
import os
import re
import subprocess

import pytest

from conftest import BIN, session_id


def rust(server, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
    out = subprocess.run([BIN, *args, "--endpoint-url", server.url, "--region", "us-west-2"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def rust_json(server, *args):
    return json.loads(rust(server, *args))


def test_boto3_stops_and_rust_resumes(server, populated):
    for max_items, page_size in [(1, None), (3, 2), (4, 2), (5, 3), (7, 10)]:
        config = {"MaxItems": max_items}
        if page_size:
            config["PageSize"] = page_size
        first = server.client().get_paginator("list_stream_sessions_by_account").paginate(
            PaginationConfig=config).build_full_result()
        # A truncated page is fetched again with the same page size, as in botocore.
        same = ["--page-size", str(page_size)] if page_size else []
        rest = rust_json(server, "sessions", "list", "--starting-token", first["NextToken"], *same)
        got = [session_id(i) for i in first["Items"] + rest["Items"]]
        assert got == populated["ids"], (max_items, page_size)


def test_rust_stops_and_boto3_resumes(server, populated):
    for max_items, page_size in [("1", None), ("3", "2"), ("4", "2"), ("5", "3"), ("7", "10")]:
        args = ["sessions", "list", "--max-items", max_items] + (["--page-size", page_size] if page_size else [])
        first = rust_json(server, *args)
        config = {"StartingToken": first["NextToken"]}
        if page_size:
            config["PageSize"] = int(page_size)
        rest = server.client().get_paginator("list_stream_sessions_by_account").paginate(
            PaginationConfig=config).build_full_result()
        got = [session_id(i) for i in first["Items"] + rest["Items"]]
        assert got == populated["ids"], (max_items, page_size)


@pytest.mark.parametrize("extra", [[], ["--max-items", "4", "--page-size", "3"], ["--max-items", "5"],
                                   ["--status", "TERMINATED", "--page-size", "2"],
                                   ["--export-files-status", "PENDING"]])
def test_same_json_as_the_aws_cli(server, populated, extra):
    ours = rust_json(server, "sessions", "list", *extra)
    theirs = server.cli("list-stream-sessions-by-account", *extra)
    assert theirs.returncode == 0, theirs.stderr
    theirs = json.loads(theirs.stdout)
    # The service tokens inside carry their issue time, so compare what they mean: each tool
    # resumes from the other's token to the same items.
    our_token, their_token = ours.pop("NextToken", None), theirs.pop("NextToken", None)
    assert ours == theirs
    assert (our_token is None) == (their_token is None)
    if our_token:
        paging = ["--page-size", extra[extra.index("--page-size") + 1]] if "--page-size" in extra else []
        a = rust_json(server, "sessions", "list", "--starting-token", their_token, *paging)
        b = json.loads(server.cli("list-stream-sessions-by-account", "--starting-token", our_token, *paging).stdout)
        assert a == b and a["Items"]


def test_group_listing_and_other_lists_match_the_aws_cli(server, populated):
    group = populated["group"]
    ours = rust_json(server, "sessions", "list", "--stream-group", group, "--max-items", "3")
    theirs = json.loads(server.cli("list-stream-sessions", "--identifier", group, "--max-items", "3").stdout)
    assert ours.pop("NextToken") and theirs.pop("NextToken")
    assert ours == theirs
    assert rust_json(server, "applications", "list") == json.loads(server.cli("list-applications").stdout)
    assert rust_json(server, "stream-groups", "list") == json.loads(server.cli("list-stream-groups").stdout)


def test_table_output_get_and_terminate(server, populated):
    table = rust(server, "sessions", "list", "--output", "table", "--max-items", "6")
    lines = table.strip().splitlines()
    assert lines[0].split()[:2] == ["SESSION", "STATUS"]
    assert len(lines) == 1 + 6 + 2  # header, rows, summary, NextToken
    assert lines[-2].startswith("6 sessions: ")
    sid = populated["ids"][1]
    got = rust_json(server, "sessions", "get", "--stream-group", populated["group"], "--session", sid)
    assert got["Arn"].endswith(sid) and got["Status"] == "ACTIVE"
    rust(server, "sessions", "terminate", "--stream-group", populated["group"], "--session", sid)
    status = server.client().get_stream_session(Identifier=populated["group"], StreamSessionIdentifier=sid)["Status"]
    assert status in ("TERMINATING", "TERMINATED")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
    out = subprocess.run([BIN, "sessions", "get", "--stream-group", "sg-000000000", "--session", "X",
                          "--endpoint-url", server.url, "--region", "us-west-2"], capture_output=True, text=True, env=env)
    assert out.returncode == 255 and "ResourceNotFoundException" in out.stderr


def test_endpoint_from_the_aws_configuration_chain(server, populated):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_ENDPOINT_URL_GAMELIFTSTREAMS=server.url, AWS_REGION="us-west-2")
    out = subprocess.run([BIN, "stream-groups", "list"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert [g["Id"] for g in json.loads(out.stdout)["Items"]] == [populated["group"]]


def test_get_as_a_table_prints_times_as_iso_8601(server, populated):
    sid = populated["ids"][0]
    table = rust(server, "sessions", "get", "--stream-group", populated["group"], "--session", sid, "--output", "table")
    fields = dict(line.split(None, 1) for line in table.strip().splitlines()[1:])
    for key in ("CreatedAt", "LastUpdatedAt"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", fields[key].strip()), fields[key]


def bare_env(**extra):
    """No AWS configuration at all: no files, no instance metadata (nothing leaves loopback)."""
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent/config",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials", "AWS_EC2_METADATA_DISABLED": "true"}
    return {**env, **extra}


@pytest.mark.parametrize("extra,args,message", [
    ({}, [], 'You must specify a region. You can also configure your region by running "aws configure".'),
    ({"AWS_REGION": "us-west-2"}, [],
     'Unable to locate credentials. You can configure credentials by running "aws configure".'),
    ({"AWS_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}, [],
     'Could not connect to the endpoint URL: "https://gameliftstreams.us-west-2.api.aws"'),
    ({"AWS_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"},
     ["--endpoint-url", "https://127.0.0.1:9"], 'Could not connect to the endpoint URL: "https://127.0.0.1:9"'),
])
def test_client_commands_say_what_is_missing_as_the_aws_cli_does(extra, args, message):
    out = subprocess.run([BIN, "sessions", "list", *args], capture_output=True, text=True, env=bare_env(**extra),
                         timeout=30)
    assert out.returncode == 255 and out.stdout == ""
    assert out.stderr.strip().startswith(message), out.stderr


def test_a_client_command_names_the_endpoint_it_cannot_reach():
    import socket
    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        env = bare_env(AWS_REGION="us-west-2", AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
        out = subprocess.run([BIN, "sessions", "list", "--endpoint-url", url], capture_output=True, text=True,
                             env=env, timeout=60)
    assert out.returncode == 255
    assert out.stderr.strip() == 'Could not connect to the endpoint URL: "%s"' % url, out.stderr
