"""`seed` and `serve --demo` write believable data that the API serves."""

import collections
import time
import subprocess
import tempfile

from conftest import BIN, Server, store_args


def test_seed_spreads_sessions_over_accounts_with_a_status_mix():
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([BIN, "seed", "--data-dir", d, "--sessions", "601", "--accounts", "2", "--rng-seed", "9",
                              *store_args(d)],
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


LOCATIONS = {"us-east-1", "us-east-2", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
             "ap-southeast-2", "eu-central-1", "eu-west-1", "eu-west-2", "eu-north-1", "sa-east-1"}
SLOT_HOLDERS = {"ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION", "RECONNECTING", "TERMINATING"}
LIVE = {"ACTIVATING", "ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION", "RECONNECTING"}


def seconds(t):
    return t.timestamp()


def test_a_seeded_world_obeys_the_service_rules_and_keeps_moving():
    with tempfile.TemporaryDirectory() as d:
        before = time.time()
        subprocess.run([BIN, "seed", "--data-dir", d, "--sessions", "4000", "--region", "eu-central-1",
                        "--rng-seed", "5", *store_args(d)], capture_output=True, text=True, check=True)
        s = Server(d, "--clock", "frozen")
        try:
            c = s.client(region="eu-central-1")
            items = c.get_paginator("list_stream_sessions_by_account").paginate(
                PaginationConfig={"PageSize": 100}).build_full_result()["Items"]
            assert len(items) == 4000
            [group] = c.list_stream_groups()["Items"]
            group = c.get_stream_group(Identifier=group["Id"])
            states = {l["LocationName"]: l for l in group["LocationStates"]}
            assert states and set(states) <= LOCATIONS and "eu-central-1" in states
            statuses = collections.Counter(i["Status"] for i in items)
            assert statuses["TERMINATED"] > statuses["CONNECTED"] > 0 and statuses["ERROR"] > 0
            assert sum(statuses[x] for x in SLOT_HOLDERS) > 50
            oldest = min(seconds(i["CreatedAt"]) for i in items)
            assert before - 31 * 86400 < oldest < before - 29 * 86400
            held = collections.Counter()
            for i in items:
                st = i["Status"]
                export = i.get("ExportFilesMetadata", {}).get("Status")
                if st in SLOT_HOLDERS:
                    held[i["Location"]] += 1
                if export == "SUCCEEDED":
                    assert st == "TERMINATED", i
                if export == "PENDING":
                    assert st in SLOT_HOLDERS, i
                if st == "ERROR":
                    assert export in (None, "FAILED"), i
                if st == "ACTIVATING":
                    assert export is None and "Location" not in i, i
                if "Location" in i:
                    assert i["Location"] in states, i
                # Transient statuses lie within their timers' reach of the seeding time.
                reach = {"ACTIVATING": 1, "TERMINATING": 1, "RECONNECTING": 0.5, "ACTIVE": 120,
                         "PENDING_CLIENT_RECONNECTION": 120, "CONNECTED": 3600}.get(st)
                if reach is not None:
                    assert seconds(i["LastUpdatedAt"]) > before - reach - 1, i
            for name, state in states.items():
                assert state["AllocatedCapacity"] - state["IdleCapacity"] == held[name], (name, state, held)
                assert held[name] <= state["AllocatedCapacity"] <= state["MaximumCapacity"]
            live = [i for i in items if i["Status"] in LIVE | {"TERMINATING"}]
            for i in live + items[:200]:
                got = c.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=i["Arn"])
                length = got["SessionLengthSeconds"]
                if i["Status"] in LIVE:
                    assert seconds(got["CreatedAt"]) > before - length, got
                elif i["Status"] == "TERMINATED":
                    assert seconds(got["LastUpdatedAt"]) - seconds(got["CreatedAt"]) <= length + 2, got
                if got.get("StreamingStartedAt") and i["Status"] in ("TERMINATED", "ERROR"):
                    assert got["StreamingEndedAt"] >= got["StreamingStartedAt"], got
            # The world keeps moving: a day later every live session has ended by its own timer,
            # every export has an outcome and the capacity has drained back to always-on.
            s.advance(25 * 3600)
            after = c.get_paginator("list_stream_sessions_by_account").paginate(
                PaginationConfig={"PageSize": 100}).build_full_result()["Items"]
            assert len(after) == 4000
            assert {i["Status"] for i in after} <= {"TERMINATED", "ERROR"}
            assert all(i.get("ExportFilesMetadata", {}).get("Status") != "PENDING" for i in after)
            moved = {i["Arn"]: i for i in after}
            reasons = collections.Counter(moved[i["Arn"]]["StatusReason"] for i in live)
            assert reasons["idleTimeout"] + reasons["reconnectionTimeout"] + reasons["connectionTimeout"] > 0, reasons
            for state in c.get_stream_group(Identifier=group["Id"])["LocationStates"]:
                assert state["AllocatedCapacity"] == state["IdleCapacity"] == state["AlwaysOnCapacity"], state
            assert s.admin("GET", "/_local/health").get("deadLetters", 0) == 0
        finally:
            s.stop()
