"""boto3 and AWS CLI paginators over ListStreamSessionsByAccount: MaxItems, PageSize and
StartingToken, mid-page truncation included."""

import json

import pytest

from conftest import session_id


def walk_with_resume(client, max_items, page_size=None, **params):
    """Collect everything by repeated paginate() calls, each resumed from the last token."""
    paginator = client.get_paginator("list_stream_sessions_by_account")
    got, token, rounds = [], None, 0
    while True:
        config = {"MaxItems": max_items}
        if page_size:
            config["PageSize"] = page_size
        if token:
            config["StartingToken"] = token
        result = paginator.paginate(PaginationConfig=config, **params).build_full_result()
        assert len(result["Items"]) <= max_items
        got += [session_id(s) for s in result["Items"]]
        token = result.get("NextToken")
        rounds += 1
        assert rounds < 200
        if not token:
            return got


@pytest.mark.parametrize("max_items,page_size", [(1, None), (3, 2), (4, 2), (5, 3), (7, 10), (10, 4), (25, None), (100, 7)])
def test_every_session_exactly_once_across_resumes(server, populated, max_items, page_size):
    got = walk_with_resume(server.client(), max_items, page_size)
    assert got == populated["ids"]


def test_mid_page_truncation_produces_botocore_resume_token(server, populated):
    paginator = server.client().get_paginator("list_stream_sessions_by_account")
    it = paginator.paginate(PaginationConfig={"MaxItems": 3, "PageSize": 2})
    pages = list(it)
    assert [len(p["Items"]) for p in pages] == [2, 1]
    import base64
    token = json.loads(base64.b64decode(it.resume_token))
    assert token["boto_truncate_amount"] == 1
    assert token["NextToken"]  # the token that fetched the truncated page
    rest = paginator.paginate(PaginationConfig={"StartingToken": it.resume_token, "MaxItems": 4}).build_full_result()
    assert [session_id(s) for s in rest["Items"]] == populated["ids"][3:7]


def test_raw_service_token_works_as_starting_token(server, populated):
    c = server.client()
    first = c.list_stream_sessions_by_account(MaxResults=5)
    paginator = c.get_paginator("list_stream_sessions_by_account")
    rest = paginator.paginate(PaginationConfig={"StartingToken": first["NextToken"]}).build_full_result()
    assert [session_id(s) for s in rest["Items"]] == populated["ids"][5:]


def test_filters_with_the_paginator(server, populated):
    c = server.client()
    assert walk_with_resume(c, 2, 1, Status="TERMINATED") == populated["terminated"]
    assert walk_with_resume(c, 3, 2, ExportFilesStatus="PENDING") == populated["exporting"]
    assert walk_with_resume(c, 5, 5, Status="ACTIVE", ExportFilesStatus="PENDING") == populated["exporting"]
    live = [s for s in populated["ids"] if s not in populated["terminated"]]
    assert walk_with_resume(c, 4, 3, Status="ACTIVE") == live
    assert walk_with_resume(c, 4, 3, Status="CONNECTED") == []
    full = c.get_paginator("list_stream_sessions_by_account").paginate(
        ExportFilesStatus="PENDING").build_full_result()
    for item in full["Items"]:
        assert item["ExportFilesMetadata"] == {"Status": "PENDING"}
        assert item["Status"] == "ACTIVE"


def test_build_full_result_without_limits_has_no_token(server, populated):
    full = server.client().get_paginator("list_stream_sessions_by_account").paginate(
        PaginationConfig={"PageSize": 4}).build_full_result()
    assert "NextToken" not in full
    assert [session_id(s) for s in full["Items"]] == populated["ids"]


def test_group_listing_paginator(server, populated):
    c = server.client()
    full = c.get_paginator("list_stream_sessions").paginate(
        Identifier=populated["group"], Status="TERMINATED", PaginationConfig={"PageSize": 2}).build_full_result()
    assert [session_id(s) for s in full["Items"]] == populated["terminated"]
    for item in full["Items"]:
        assert item["StatusReason"] == "apiTerminated"


def test_aws_cli_max_items_page_size_starting_token(server, populated):
    got, token = [], None
    for _ in range(50):
        args = ["list-stream-sessions-by-account", "--max-items", "4", "--page-size", "3"]
        if token:
            args += ["--starting-token", token]
        out = server.cli(*args)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        got += [session_id(s) for s in doc["Items"]]
        token = doc.get("NextToken")
        if not token:
            break
    assert got == populated["ids"]


def test_aws_cli_filters_and_no_paginate(server, populated):
    out = server.cli("list-stream-sessions-by-account", "--status", "TERMINATED", "--page-size", "2")
    assert out.returncode == 0, out.stderr
    assert [session_id(s) for s in json.loads(out.stdout)["Items"]] == populated["terminated"]
    out = server.cli("list-stream-sessions-by-account", "--no-paginate", "--max-results", "2")
    doc = json.loads(out.stdout)
    assert len(doc["Items"]) == 2 and doc["NextToken"]
