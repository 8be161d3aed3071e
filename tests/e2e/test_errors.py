"""Modeled error classes as boto3 and the AWS CLI raise them."""

import json
import urllib.error
import urllib.request

import pytest


@pytest.mark.parametrize("bad", [0, 101, -5])
def test_max_results_out_of_range(server, bad):
    c = server.client(validate=False)
    with pytest.raises(c.exceptions.ValidationException) as e:
        c.list_stream_sessions_by_account(MaxResults=bad)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "maxResults" in e.value.response["Error"]["Message"]


@pytest.mark.parametrize("token", ["garbage", "eyJOZXh0VG9rZW4iOiAiMiJ9", "0" * 120, "v1.deadbeef"])
def test_garbage_next_token(server, token):
    c = server.client()
    with pytest.raises(c.exceptions.ValidationException):
        c.list_stream_sessions_by_account(NextToken=token)


def test_foreign_next_tokens(server, populated):
    c = server.client()
    token = c.list_stream_sessions_by_account(MaxResults=2)["NextToken"]
    with pytest.raises(c.exceptions.ValidationException):
        c.list_stream_sessions_by_account(NextToken=token, Status="ACTIVE")
    with pytest.raises(c.exceptions.ValidationException):
        c.list_stream_sessions(Identifier=populated["group"], NextToken=token)
    other = server.client(access_key="123456789012")
    with pytest.raises(other.exceptions.ValidationException):
        other.list_stream_sessions_by_account(NextToken=token)
    eu = server.client(region="eu-central-1")
    with pytest.raises(eu.exceptions.ValidationException):
        eu.list_stream_sessions_by_account(NextToken=token)


def test_unknown_identifiers(server, populated):
    c = server.client()
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_application(Identifier="a-000000000")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_stream_group(Identifier="sg-000000000")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_stream_session(Identifier=populated["group"], StreamSessionIdentifier="AAAAAAAAAAAAA")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_stream_sessions(Identifier="sg-000000000")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_stream_group(Identifier="arn:aws:gameliftstreams:us-east-2:111122223333:streamgroup/" + populated["group"])


def test_validation_botocore_does_not_do(server, populated):
    c = server.client(validate=False)
    for kwargs in [dict(Status="BOGUS"), dict(ExportFilesStatus="DONE")]:
        with pytest.raises(c.exceptions.ValidationException):
            c.list_stream_sessions_by_account(**kwargs)
    base = dict(Identifier=populated["group"], ApplicationIdentifier=populated["app"], Protocol="WebRTC",
                SignalRequest="NO_CLIENT_CONNECTION")
    for extra in [dict(ConnectionTimeoutSeconds=3601), dict(Description="x" * 81), dict(Protocol="UDP"),
                  dict(AdditionalEnvironmentVariables={"1X": "y"}), dict(Locations=["mars-1"]),
                  dict(DisplayConfiguration={"Resolution": {"Width": 1921, "Height": 1080}})]:
        with pytest.raises(c.exceptions.ValidationException):
            c.start_stream_session(**{**base, **extra})


def test_error_wire_format(server):
    req = urllib.request.Request(server.url + "/applications/a-000000000", method="GET")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 404
    assert e.value.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert e.value.headers["x-amzn-RequestId"]
    body = json.loads(e.value.read())
    assert body["message"] == body["Message"] and "a-000000000" in body["Message"]


def test_cli_reports_modeled_errors(server):
    out = server.cli("get-stream-group", "--identifier", "sg-000000000")
    assert out.returncode != 0
    assert "ResourceNotFoundException" in out.stderr
