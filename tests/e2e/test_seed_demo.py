"""`seed` and `serve --demo` write believable data that the API serves."""

import collections
import subprocess
import tempfile

from conftest import BIN, Server


def test_seed_spreads_sessions_over_accounts_with_a_status_mix():
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([BIN, "seed", "--data-dir", d, "--sessions", "601", "--accounts", "2", "--rng-seed", "9"],
                             capture_output=True, text=True, check=True)
        assert "seeded 601 sessions" in out.stdout
        s = Server(d)
        try:
            first = s.client().get_paginator("list_stream_sessions_by_account").paginate(
                PaginationConfig={"PageSize": 100}).build_full_result()["Items"]
            second = s.client(access_key="100000000001").get_paginator("list_stream_sessions_by_account").paginate(
                PaginationConfig={"PageSize": 100}).build_full_result()["Items"]
            assert (len(first), len(second)) == (301, 300)
            statuses = collections.Counter(i["Status"] for i in first + second)
            assert statuses["TERMINATED"] > statuses["CONNECTED"] > 0
            assert statuses["ACTIVE"] > 0 and statuses["ERROR"] > 0
            exports = collections.Counter(i.get("ExportFilesMetadata", {}).get("Status") for i in first)
            assert exports["SUCCEEDED"] > 0 and exports[None] > exports["SUCCEEDED"]
            created = [i["CreatedAt"] for i in first]
            assert created == sorted(created)
            # Seeded sessions are real resources: Get works on them.
            item = first[0]
            group = item["Arn"].split("/")[1]
            got = s.client().get_stream_session(Identifier=group, StreamSessionIdentifier=item["Arn"])
            assert got["Status"] == item["Status"]
            filtered = s.client().list_stream_sessions_by_account(Status="CONNECTED", MaxResults=100)["Items"]
            assert filtered and all(i["Status"] == "CONNECTED" for i in filtered)
        finally:
            s.stop()


def test_demo_creates_a_small_account_once():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--demo")
        c = s.client()
        apps = c.list_applications()["Items"]
        groups = c.list_stream_groups()["Items"]
        sessions = c.list_stream_sessions_by_account(MaxResults=100)["Items"]
        assert len(apps) == 1 and apps[0]["Status"] == "READY"
        assert len(groups) == 1 and groups[0]["Status"] == "ACTIVE"
        assert len({i["Status"] for i in sessions}) >= 3
        s.stop()
        s = Server(d, "--demo")
        try:
            assert len(s.client().list_stream_sessions_by_account(MaxResults=100)["Items"]) == len(sessions)
        finally:
            s.stop()
