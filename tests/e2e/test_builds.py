"""Application builds: CreateApplication snapshots the build at `ApplicationSourceUri` from the
local S3 root (`<data-dir>/s3/<bucket>/<prefix>/`, or `--s3-root`) or from an S3-compatible
endpoint (`--s3-endpoint`, filled with `aws s3 sync`); the rules of APPS.md end a bad build in
ERROR with the reason in the log; a missing build is READY (the test card) or, with
`--app-builds required`, ERROR/accessDenied; DeleteApplication removes the snapshot."""

import os
import shutil
import stat
import subprocess
import time

import pytest

from conftest import Server, venv_tool
from test_export_s3 import s3  # noqa: F401  (the moto_server fixture)

UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}
PROTON = {"Type": "PROTON", "Version": "20241007"}


def make_build(folder):
    """A Linux build as users upload it: a launch script, a binary and a bundled library."""
    os.makedirs(os.path.join(folder, "bin"))
    os.makedirs(os.path.join(folder, "libs"))
    with open(os.path.join(folder, "run-game.sh"), "w") as f:
        f.write('#!/bin/sh\nexport LD_LIBRARY_PATH="$(dirname "$0")/libs"\nexec "$(dirname "$0")/bin/game" "$@"\n')
    shutil.copy("/bin/true", os.path.join(folder, "bin", "game"))
    with open(os.path.join(folder, "libs", "libgame.so"), "wb") as f:
        f.write(b"\x7fELF" + bytes(1000))
    with open(os.path.join(folder, "README.txt"), "w") as f:
        f.write("not a program\n")
    os.chmod(os.path.join(folder, "run-game.sh"), 0o644)  # the snapshot makes it executable


def create(c, uri, executable, runtime=UBUNTU):
    return c.create_application(Description="built", RuntimeEnvironment=runtime, ExecutablePath=executable,
                                ApplicationSourceUri=uri)["Id"]


def settled(server, c, app, seconds=60):
    """The application once it has left INITIALIZED/PROCESSING (the snapshot is taken on a
    thread of its own: the READY step may wait for it)."""
    server.advance(5)
    end = time.time() + seconds
    while time.time() < end:
        got = c.get_application(Identifier=app)
        if got["Status"] not in ("INITIALIZED", "PROCESSING"):
            return got
        time.sleep(0.05)
    raise AssertionError("still %s" % got["Status"])


def until(what, f, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        if f():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_a_build_in_the_local_s3_root_is_snapshotted_and_removed_with_its_application(tmp_path):
    data = str(tmp_path / "data")
    make_build(os.path.join(data, "s3", "game-builds", "v1"))
    s = Server(data, "--clock", "frozen", log=str(tmp_path / "log"))
    try:
        c = s.client()
        app = create(c, "s3://game-builds/v1", "run-game.sh")
        got = settled(s, c, app)
        assert (got["Status"], got.get("StatusReason")) == ("READY", None), got
        snap = os.path.join(data, "builds", app)
        assert sorted(os.listdir(snap)) == ["README.txt", "bin", "libs", "run-game.sh"]
        assert os.stat(os.path.join(snap, "run-game.sh")).st_mode & stat.S_IXUSR
        with open(os.path.join(snap, "libs", "libgame.so"), "rb") as f:
            assert len(f.read()) == 1004
        # A snapshot: what happens to the source later does not reach it.
        with open(os.path.join(data, "s3", "game-builds", "v1", "README.txt"), "w") as f:
            f.write("changed\n")
        with open(os.path.join(snap, "README.txt")) as f:
            assert f.read() == "not a program\n"
        c.delete_application(Identifier=app)
        s.advance(60)
        until("the snapshot removed", lambda: not os.path.exists(snap))
        assert os.path.isdir(os.path.join(data, "s3", "game-builds", "v1")), "the source stays"
    finally:
        s.stop()


@pytest.mark.parametrize("executable, runtime, why", [
    ("../v1/run-game.sh", UBUNTU, "is not a path inside the build"),
    ("/bin/true", UBUNTU, "is not a path inside the build"),
    ("missing.sh", UBUNTU, "is not in the build"),
    ("bin", UBUNTU, "is a folder, not a file"),
    ("README.txt", UBUNTU, "is neither an ELF binary nor a script"),
    ("run-game.sh", PROTON, "must end in .exe, .cmd or .bat"),
])
def test_each_executable_rule_ends_the_application_in_error_and_says_why(tmp_path, executable, runtime, why):
    data = str(tmp_path / "data")
    make_build(os.path.join(data, "s3", "game-builds", "v1"))
    s = Server(data, "--clock", "frozen", log=str(tmp_path / "log"))
    try:
        c = s.client()
        app = create(c, "s3://game-builds/v1/", executable, runtime)
        got = settled(s, c, app)
        assert (got["Status"], got["StatusReason"]) == ("ERROR", "internalError"), got
        assert why in s.logged() and app in s.logged(), s.logged()
        assert not os.path.exists(os.path.join(data, "builds", app))
    finally:
        s.stop()


def test_a_missing_build_streams_the_card_unless_builds_are_required(tmp_path):
    for flags, expected in [((), ("READY", None)), (("--app-builds", "required"), ("ERROR", "accessDenied"))]:
        data = str(tmp_path / ("data-%d" % len(flags)))
        s = Server(data, "--clock", "frozen", *flags, log=str(tmp_path / ("log-%d" % len(flags))))
        try:
            c = s.client()
            app = create(c, "s3://my-bucket/game/", "Game/Game.exe", PROTON)
            got = settled(s, c, app)
            assert (got["Status"], got.get("StatusReason")) == expected, (flags, got)
            assert "no build at s3://my-bucket/game/" in s.logged()
            assert s.admin("GET", "/_local/health")["settings"]["appBuilds"] == (flags[1] if flags else "optional")
        finally:
            s.stop()


def test_the_s3_root_flag_moves_the_local_s3_root(tmp_path):
    root = str(tmp_path / "buckets")
    make_build(os.path.join(root, "game-builds", "v2"))
    s = Server(str(tmp_path / "data"), "--clock", "frozen", "--s3-root", root)
    try:
        c = s.client()
        app = create(c, "s3://game-builds/v2", "bin/game")
        assert settled(s, c, app)["Status"] == "READY"
        assert os.path.exists(os.path.join(str(tmp_path / "data"), "builds", app, "bin", "game"))
        assert s.admin("GET", "/_local/health")["settings"]["s3Root"] == root
    finally:
        s.stop()


def test_a_build_synced_to_an_s3_endpoint_is_downloaded(tmp_path, s3):  # noqa: F811
    url, client = s3
    client.create_bucket(Bucket="game-builds")
    build = str(tmp_path / "build")
    make_build(build)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run([venv_tool("aws"), "--endpoint-url", url, "s3", "sync", build, "s3://game-builds/build"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    data = str(tmp_path / "data")
    s = Server(data, "--clock", "frozen", "--s3-endpoint", url, log=str(tmp_path / "log"))
    try:
        c = s.client()
        good = create(c, "s3://game-builds/build", "run-game.sh")
        bad = create(c, "s3://game-builds/build", "README.txt")
        missing = create(c, "s3://no-such-bucket/build", "run-game.sh")
        assert settled(s, c, good)["Status"] == "READY"
        snap = os.path.join(data, "builds", good)
        assert sorted(os.listdir(snap)) == ["README.txt", "bin", "libs", "run-game.sh"]
        with open(os.path.join(snap, "bin", "game"), "rb") as f, open("/bin/true", "rb") as g:
            assert f.read() == g.read()
        assert os.stat(os.path.join(snap, "run-game.sh")).st_mode & stat.S_IXUSR
        got = settled(s, c, bad)
        assert (got["Status"], got["StatusReason"]) == ("ERROR", "internalError")
        assert settled(s, c, missing)["Status"] == "READY"  # the test card, as for the local root
        assert "no build at s3://no-such-bucket/build" in s.logged()
    finally:
        s.stop()


def test_leftover_snapshots_go_at_start_and_a_reset_removes_every_snapshot(tmp_path):
    data = str(tmp_path / "data")
    make_build(os.path.join(data, "s3", "game-builds", "v1"))
    s = Server(data, "--clock", "frozen")
    try:
        c = s.client()
        app = create(c, "s3://game-builds/v1", "run-game.sh")
        assert settled(s, c, app)["Status"] == "READY"
    finally:
        s.stop()
    # A snapshot no build claims (a crash mid-copy) is removed at the next start.
    os.makedirs(os.path.join(data, "builds", ".a-nothing.partial"))
    s = Server(data, "--clock", "frozen")
    try:
        until("the leftover removed", lambda: not os.path.exists(os.path.join(data, "builds", ".a-nothing.partial")))
        assert os.path.isdir(os.path.join(data, "builds", app))
        s.admin("POST", "/_local/reset")
        until("the snapshots removed", lambda: os.listdir(os.path.join(data, "builds")) == [])
    finally:
        s.stop()
