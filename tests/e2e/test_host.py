"""A host like AWS's: each game in a sandbox (bubblewrap) that holds its own session's folders
and the system's programs, nothing else of the machine; `--app-network none` cuts its network
but not its message endpoint; its stream class's memory and vCPUs (scaled by --host-scale) are
enforced by a cgroup: over its memory the kernel ends it (TERMINATED/applicationExit, with the
reason in the process info), at its CPU limit it is throttled. The game is the sample game,
which checks what it can reach and logs it (--probe, --try-write, --connect, --alloc, --spin)."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import Server
import test_apps
from test_apps import app_info, start, until

GAME = os.environ.get("GLS_SAMPLE_GAME")

needs_host = pytest.mark.skipif(
    not GAME or not os.path.exists("/usr/bin/Xvfb") or not shutil.which("bwrap"),
    reason="needs the sample game (GLS_SAMPLE_GAME), Xvfb and bubblewrap")


def make_build(data):
    build = os.path.join(data, "s3", "games", "sample")
    shutil.copytree(GAME, build)
    # A file of 2 MiB: a session's copy shares it with the snapshot (a hard link).
    with open(os.path.join(build, "data.pak"), "wb") as f:
        f.write(b"\1" * (2 << 20))


def setup(server, stream_class="gen4n_high"):
    """The sample game as a READY application, and a whole host of `stream_class` for it."""
    capacity = 12 if stream_class == "gen6n_small" else 2
    return test_apps.setup(server, "s3://games/sample", "run-game.sh", stream_class=stream_class,
                           capacity=capacity)


def running(server, arn):
    return until("running", lambda: (lambda i: i["state"] == "running" and i)(app_info(server, arn)))


def said(info, what, seconds=30):
    """The game's log line that starts with `what`, once it has written it."""
    def line():
        with open(info["logFile"], errors="replace") as f:
            return next((l.strip() for l in f if l.startswith(what)), None)
    return until(what, line, seconds)


@needs_host
def test_a_sandboxed_game_sees_its_own_session_and_the_system_only(tmp_path):
    data = str(tmp_path / "data")
    make_build(data)
    s = Server(data, "--clock", "frozen")
    try:
        c, app, group = setup(s)
        first = start(c, group, app)
        s.advance(2)
        other = running(s, first)
        assert other["sandboxed"] and other["network"]
        secret = os.path.join(other["workingDirectory"], "..", "home", "secret.txt")
        with open(secret, "w") as f:
            f.write("the other session's\n")
        database = next(os.path.join(data, n) for n in sorted(os.listdir(data))
                        if os.path.isfile(os.path.join(data, n)))
        port = s.url.rsplit(":", 1)[1]
        probes = [database, os.path.join(data, "s3"), os.path.realpath(secret), "/proc/%d/cmdline" % s.proc.pid,
                  "/etc/hostname", "data.pak"]
        args = [a for p in probes for a in ("--probe", p)]
        args += ["--try-write", "data.pak", "--try-write", "run-game.sh", "--connect", "127.0.0.1:" + port]
        arn = start(c, group, app, AdditionalLaunchArgs=args)
        s.advance(2)
        info = running(s, arn)
        assert info["sandboxed"]
        for p in probes[:4]:
            assert said(info, "probe %s:" % p).endswith("No such file or directory"), p
        assert said(info, "probe /etc/hostname:").startswith("probe /etc/hostname: ok")
        assert said(info, "probe data.pak:") == "probe data.pak: ok"
        # The build's file shared with the snapshot is read-only; its own copies are its own.
        assert said(info, "write data.pak:") in ("write data.pak: Read-only file system",
                                                 "write data.pak: Permission denied")
        assert said(info, "write run-game.sh:") == "write run-game.sh: ok"
        assert said(info, "connect 127.0.0.1:%s:" % port) == "connect 127.0.0.1:%s: ok" % port
        with open(os.path.join(data, "builds", app, "data.pak"), "rb") as f:
            assert f.read() == b"\1" * (2 << 20)
        # The game's own processes only: its PID namespace.
        assert app_info(s, arn)["limits"]["enforcedBy"] in ("cgroup v1", "cgroup v2", "rlimit")
    finally:
        s.stop()


@needs_host
def test_without_the_network_a_game_keeps_its_message_endpoint(tmp_path):
    data = str(tmp_path / "data")
    make_build(data)
    s = Server(data, "--clock", "frozen", "--app-network", "none")
    try:
        c, app, group = setup(s)
        port = s.url.rsplit(":", 1)[1]
        arn = start(c, group, app, AdditionalLaunchArgs=["--connect", "127.0.0.1:" + port])
        s.advance(2)
        info = running(s, arn)
        assert info["sandboxed"] and not info["network"]
        assert said(info, "connect 127.0.0.1:%s:" % port) == "connect 127.0.0.1:%s: Connection refused" % port
        until("the game connected to its message endpoint", lambda: app_info(s, arn)["messagesConnected"])
        assert s.admin("GET", "/_local/health")["settings"]["appNetwork"] == "none"
    finally:
        s.stop()


@needs_host
def test_a_game_over_its_class_memory_is_ended_and_says_why(tmp_path):
    data = str(tmp_path / "data")
    make_build(data)
    # gen6n_small: 4 GiB in AWS; a twentieth of that here (204 MiB).
    s = Server(data, "--clock", "frozen", "--host-scale", "0.05", "--app-stop-grace-ms", "500")
    try:
        c, app, group = setup(s, "gen6n_small")
        arn = start(c, group, app, AdditionalLaunchArgs=["--alloc", "1024"])
        s.advance(2)
        got = until("TERMINATED", lambda: (lambda g: g["Status"] == "TERMINATED" and g)(
            c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)))
        assert got["StatusReason"] == "applicationExit"
        info = app_info(s, arn)
        limits = info["limits"]
        assert limits["streamClass"] == "gen6n_small" and limits["memoryBytes"] == int(4 * 2**30 * 0.05)
        if limits["enforcedBy"].startswith("cgroup"):
            assert info["exitCode"] == 137, info
            assert "over its memory" in info["exitReason"], info
        with open(info["logFile"], errors="replace") as f:
            log = f.read()
        assert "allocated 128 MiB" in log and "allocated all" not in log
    finally:
        s.stop()


@needs_host
def test_a_game_at_its_class_cpu_is_throttled_not_ended(tmp_path):
    data = str(tmp_path / "data")
    make_build(data)
    # gen6n_small: 1 vCPU in AWS; a quarter of one here.
    s = Server(data, "--clock", "frozen", "--host-scale", "0.25")
    try:
        c, app, group = setup(s, "gen6n_small")
        arn = start(c, group, app, AdditionalLaunchArgs=["--spin", "2"])
        s.advance(2)
        info = running(s, arn)
        assert info["limits"]["vcpus"] == 0.25
        if not info["limits"]["enforcedBy"].startswith("cgroup"):
            pytest.skip("no cgroup here: the CPU is not limited")
        time.sleep(1)
        before, t0 = app_info(s, arn)["cpuSeconds"], time.time()
        time.sleep(3)
        after, t1 = app_info(s, arn)["cpuSeconds"], time.time()
        share = (after - before) / (t1 - t0)
        # Two busy threads would take both cores of a 2-core machine; the game gets a quarter.
        assert 0.1 < share < 0.4, share
        assert app_info(s, arn)["state"] == "running"
    finally:
        s.stop()


MINGW = shutil.which("x86_64-w64-mingw32-gcc")
CONSOLE = os.path.join(os.path.dirname(__file__), "..", "..", "games", "windows", "console.c")


@pytest.mark.skipif(not MINGW or not shutil.which("wine") or not os.path.exists("/usr/bin/Xvfb"),
                    reason="needs Wine, MinGW-w64 (gcc-mingw-w64-x86-64) and Xvfb")
def test_windows_builds_run_under_wine_with_their_profile_as_home(tmp_path):
    data = str(tmp_path / "data")
    build = os.path.join(data, "s3", "games", "windows", "Game")
    os.makedirs(build)
    subprocess.run([MINGW, "-O2", "-o", os.path.join(build, "console.exe"), CONSOLE], check=True)
    s = Server(data, "--clock", "frozen", "--app-stop-grace-ms", "300")
    try:
        c = s.client()
        ids = {}
        for runtime, klass in [({"Type": "PROTON", "Version": "20241007"}, "gen4n_high"),
                               ({"Type": "WINDOWS", "Version": "2022"}, "gen4n_win2022")]:
            app = c.create_application(Description="windows", RuntimeEnvironment=runtime,
                                       ExecutablePath="Game\\console.exe", ApplicationSourceUri="s3://games/windows",
                                       ApplicationLogPaths=["%USERPROFILE%\\logs\\"],
                                       ApplicationLogOutputUri="s3://game-logs/" + runtime["Type"].lower())["Id"]
            s.advance(5)
            capacity = 2 if klass == "gen4n_high" else 1
            group = c.create_stream_group(Description="g", StreamClass=klass, DefaultApplicationIdentifier=app,
                                          LocationConfigurations=[{"LocationName": "us-west-2",
                                                                   "AlwaysOnCapacity": capacity,
                                                                   "MaximumCapacity": capacity}])["Id"]
            s.advance(1)
            ids[runtime["Type"]] = (app, group)
        for kind, code in [("PROTON", 9), ("WINDOWS", 3)]:
            app, group = ids[kind]
            arn = start(c, group, app, AdditionalLaunchArgs=[str(code), "1"])
            s.advance(2)
            # The first session waits for the Wine prefix, made once (seconds to a minute).
            got = until("TERMINATED", lambda: (lambda g: g["Status"] == "TERMINATED" and g)(
                c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)), 240)
            assert got["StatusReason"] == "applicationExit", got
            info = app_info(s, arn)
            assert info["exitCode"] == code, info
            with open(info["logFile"], errors="replace") as f:
                out = f.read()
            assert "profile: C:\\users\\player" in out and "arg 1: %d" % code in out, out
            session_id = arn.rsplit("/", 1)[1]
            logs = os.path.join(data, "s3", "game-logs", kind.lower(), group, session_id)
            until("the log uploaded", lambda: os.path.exists(os.path.join(logs, "game.log")))
            with open(os.path.join(logs, "game.log")) as f:
                assert f.read() == "windows game log line\n"
            # The profile is the session's HOME; the save is in its copy of the build (the working
            # directory is the application's root).
            home = os.path.join(info["workingDirectory"], "..", "home")
            assert os.path.exists(os.path.join(home, "logs", "game.log"))
            assert not any(os.path.islink(os.path.join(home, n)) for n in os.listdir(home)), os.listdir(home)
            assert os.path.exists(os.path.join(info["workingDirectory"], "save.dat"))  # the root, as for Linux
    finally:
        s.stop()
