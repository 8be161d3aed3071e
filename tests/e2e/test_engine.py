"""The engine's isolation and the clock: a timer that fails is dead-lettered without failing
anything else; an export survives a crash between its job and its archive; the frozen clock
holds still; clock advances are bounded; an out-of-range clock on disk is refused."""

import os
import signal
import sqlite3
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, Server, sqlite_only
from test_lifecycle import ok_event, setup, start, status

PROTON = {"Type": "PROTON", "Version": "20241007"}
MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z


def db(data_dir):
    conn = sqlite3.connect(os.path.join(data_dir, "state.db"), timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def post_clock(server, body):
    return server.post("/_local/clock", body)


def new_app(c, name):
    return c.create_application(Description=name, RuntimeEnvironment=PROTON, ExecutablePath="Game.exe",
                                ApplicationSourceUri="s3://bucket/game/")["Id"]


@sqlite_only
def test_a_failing_timer_is_dead_lettered_and_fails_nothing_else():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--clock", "frozen", "--app-processing-ms", "60000")
        try:
            c = s.client()
            broken, healthy = new_app(c, "Broken"), new_app(c, "Healthy")
            assert s.admin("GET", "/_local/health")["deadLetters"] == 0
            with db(d) as conn:
                # A document that no longer parses, and a timer of a kind this version does not know.
                conn.execute("UPDATE applications SET doc = '{\"Arn\": 7' WHERE id = ?", (broken,))
                conn.execute("INSERT INTO timers(due_at, part, kind, resource) SELECT 0, part, 'no.such.kind', id "
                             "FROM applications WHERE id = ?", (healthy,))
            s.advance(120)
            health = s.admin("GET", "/_local/health")
            assert health["deadLetters"] == 2, health
            # The healthy application's timers fired in the same pass, and every later request works.
            assert c.get_application(Identifier=healthy)["Status"] == "READY"
            third = new_app(c, "Third")
            s.advance(120)
            assert c.get_application(Identifier=third)["Status"] == "READY"
            assert c.list_stream_sessions_by_account()["Items"] == []
            with db(d) as conn:
                dead = conn.execute("SELECT kind, resource, error FROM dead_timers ORDER BY seq").fetchall()
            assert [(k, r) for k, r, _ in dead] == [("app.processing", broken), ("no.such.kind", healthy)]
            assert "unknown timer kind" in dead[1][2]
            assert s.admin("GET", "/_local/health")["deadLetters"] == 2
        finally:
            s.stop()


def ended_with_export(server, uri):
    """A connected session with an export to `uri`, terminated: its end is due 1 s later."""
    c, app, group = setup(server)
    arn = start(c, group, app)
    server.advance(2)
    ok_event(server, arn, "clientConnected")
    c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=arn, OutputUri=uri)
    c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=arn)
    return c, group, arn


def crash_on_export(d, failpoint):
    """Run a server that aborts at `failpoint` in the export worker; return (group, session)."""
    s = Server(d, "--clock", "frozen", "--failpoint", failpoint)
    c, group, arn = ended_with_export(s, "s3://exports-bucket/crash/session.zip")
    with pytest.raises(Exception):
        s.advance(5)  # the session ends, its job commits, and the worker aborts the process
    assert s.proc.wait(timeout=10) == -signal.SIGABRT
    return group, arn


def export_status_after_restart(d, group, arn):
    s = Server(d, "--clock", "frozen")
    try:
        c = s.client()
        for _ in range(100):
            meta = c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)["ExportFilesMetadata"]
            if meta["Status"] != "PENDING":
                return meta, s.admin("GET", "/_local/health")
            time.sleep(0.05)
        raise AssertionError("the export job was not retried after the restart")
    finally:
        s.stop()


def archives(d):
    root = os.path.join(d, "s3", "exports-bucket")
    return sorted(os.path.join(p, f) for p, _, files in os.walk(root) for f in files)


@sqlite_only
def test_a_crash_before_the_archive_is_written_is_retried_on_restart():
    with tempfile.TemporaryDirectory() as d:
        group, arn = crash_on_export(d, "export-before-archive")
        assert archives(d) == []
        with db(d) as conn:
            assert conn.execute("SELECT count(*) FROM export_jobs").fetchone()[0] == 1
        meta, health = export_status_after_restart(d, group, arn)
        assert meta["Status"] == "SUCCEEDED" and meta["OutputUri"] == "s3://exports-bucket/crash/session.zip"
        assert health["pendingExports"] == 0
        assert archives(d) == [os.path.join(d, "s3", "exports-bucket", "crash", "session.zip")]


@sqlite_only
def test_a_crash_after_the_archive_is_written_rewrites_the_same_bytes():
    with tempfile.TemporaryDirectory() as d:
        group, arn = crash_on_export(d, "export-after-archive")
        [path] = archives(d)
        with open(path, "rb") as f:
            first = f.read()
        with db(d) as conn:
            assert conn.execute("SELECT count(*) FROM export_jobs").fetchone()[0] == 1
        meta, _ = export_status_after_restart(d, group, arn)
        assert meta["Status"] == "SUCCEEDED"
        assert archives(d) == [path]
        with open(path, "rb") as f:
            assert f.read() == first
        with db(d) as conn:
            assert conn.execute("SELECT count(*) FROM export_jobs").fetchone()[0] == 0


def test_exports_are_written_before_the_request_that_ended_the_session_answers():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--clock", "frozen")
        try:
            c, group, arn = ended_with_export(s, "s3://exports-bucket/sync/")
            s.advance(5)
            meta = c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)["ExportFilesMetadata"]
            assert meta["Status"] == "SUCCEEDED" and meta["OutputUri"].endswith(".zip")
            assert len(archives(d)) == 1
        finally:
            s.stop()


def test_the_frozen_clock_holds_still_and_persists():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--clock", "frozen")
        try:
            c, app, group = setup(s)
            arn = start(c, group, app)
            t0 = s.admin("GET", "/_local/clock")
            assert t0["clock"] == "frozen"
            time.sleep(1.5)  # longer than the 1 s placement delay: nothing moves
            assert status(c, group, arn) == ("ACTIVATING", None)
            assert s.admin("GET", "/_local/clock")["now"] == t0["now"]
            assert s.advance(1)["now"] == t0["now"] + 1
            assert status(c, group, arn) == ("ACTIVE", None)
        finally:
            s.stop()
        s = Server(d, "--clock", "frozen")
        try:
            assert s.admin("GET", "/_local/clock")["now"] == t0["now"] + 1
        finally:
            s.stop()
        # The system clock after a frozen run never goes back.
        s = Server(d)
        try:
            assert s.admin("GET", "/_local/clock")["now"] >= t0["now"] + 1
        finally:
            s.stop()


def test_clock_advances_out_of_range_answer_400_and_change_nothing():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--clock", "frozen")
        try:
            before = s.admin("GET", "/_local/clock")["now"]
            for body in ({"advanceSeconds": 9223372036854775}, {"advanceSeconds": 300000000000},
                         {"advanceSeconds": 315360001}, {"advanceSeconds": -1}, {"advanceSeconds": 1.5},
                         {"advanceSeconds": "60"}, {"advanceSeconds": 1e3}, {"seconds": 60}, {}):
                code, reply = post_clock(s, body)
                assert code == 400 and reply["error"], (body, code, reply)
            assert s.admin("GET", "/_local/clock")["now"] == before
            assert post_clock(s, {"advanceSeconds": 315360000})[0] == 200
            # Ten years at a time: the clock stops at the end of year 9999, and every SDK can read it.
            steps = 0
            while post_clock(s, {"advanceSeconds": 315360000})[0] == 200:
                steps += 1
                assert steps < 1000
            now = s.admin("GET", "/_local/clock")["now"]
            assert MAX_TIME - 315360000 < now <= MAX_TIME
            assert post_clock(s, {"advanceSeconds": int(MAX_TIME - now)})[0] == 200
            assert post_clock(s, {"advanceSeconds": 1})[0] == 400
            assert MAX_TIME - 1 < s.admin("GET", "/_local/clock")["now"] <= MAX_TIME
            c = s.client()
            app = c.create_application(Description="Late", RuntimeEnvironment=PROTON, ExecutablePath="Game.exe",
                                       ApplicationSourceUri="s3://bucket/game/")
            assert app["CreatedAt"].year == 9999
        finally:
            s.stop()


@sqlite_only
def test_an_out_of_range_clock_on_disk_is_refused_with_the_fix():
    with tempfile.TemporaryDirectory() as d:
        Server(d).stop()
        with db(d) as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('clock_offset_ms', ?)",
                         (b"9223372036854775000",))
        out = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", d],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode != 0
        assert "listening on" not in out.stdout
        assert "clock" in out.stderr and "DELETE FROM meta" in out.stderr, out.stderr


def test_a_client_token_replays_the_original_response_for_24_hours():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--clock", "frozen")
        try:
            c = s.client()
            args = dict(Description="Idem", RuntimeEnvironment=PROTON, ExecutablePath="Game.exe",
                        ApplicationSourceUri="s3://bucket/game/", ClientToken="token-" + "7" * 32)
            first = c.create_application(**args)
            s.advance(2)
            assert c.get_application(Identifier=first["Id"])["Status"] == "READY"
            again = c.create_application(**args)
            assert again["Id"] == first["Id"] and again["Status"] == "INITIALIZED"
            assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
            s.advance(24 * 3600)
            later = c.create_application(**args)
            assert later["Id"] != first["Id"]
        finally:
            s.stop()


@sqlite_only
def test_sessions_stored_without_a_summary_list_the_same():
    """Sessions written before the stored summaries (migration 5) list as the others do."""
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--clock", "frozen")
        try:
            c, app, group = setup(s)
            arns = [start(c, group, app) for _ in range(5)]
            s.advance(2)
            ok_event(s, arns[1], "clientConnected")
            c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=arns[1],
                                          OutputUri="s3://exports-bucket/summary/")
            before = c.list_stream_sessions_by_account()["Items"]
            by_status = c.list_stream_sessions_by_account(Status="CONNECTED")["Items"]
        finally:
            s.stop()
        with db(d) as conn:
            conn.execute("UPDATE sessions SET summary = NULL WHERE id IN (SELECT id FROM sessions LIMIT 3)")
        s = Server(d, "--clock", "frozen")
        try:
            c = s.client()
            assert c.list_stream_sessions_by_account()["Items"] == before
            assert c.list_stream_sessions_by_account(Status="CONNECTED")["Items"] == by_status
            assert [i["Arn"] for i in by_status] == [arns[1]]
            assert by_status[0]["ExportFilesMetadata"]["Status"] in ("PENDING", "SUCCEEDED")
        finally:
            s.stop()
