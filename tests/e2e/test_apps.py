"""Each placed session runs its application's build: on its own Xvfb display, in a copy of the
build, with its own HOME/TMPDIR, a clean environment plus AdditionalEnvironmentVariables, and
AdditionalLaunchArgs; its exit ends the session TERMINATED/applicationExit; a session that ends
otherwise stops it; nothing outlives the server, not even a `kill -9` of it (the next start
ends what was left). GET /_local/sessions/{session}/app shows the process."""

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import Server

UBUNTU = {"Type": "UBUNTU", "Version": "22_04_LTS"}

GAME = """#!/bin/sh
echo "args: $*"
echo "pwd: $(pwd)"
env | sort > "$HOME/env.txt"
echo written > "$TMPDIR/tmp.txt"
echo mine > save.txt
if [ "$1" = "exit" ]; then exit "$2"; fi
if [ "$1" = "fork" ]; then sleep 600 & echo $! > "$HOME/child.pid"; wait; fi
exec sleep 600
"""

needs_xvfb = pytest.mark.skipif(not os.path.exists("/usr/bin/Xvfb"), reason="Xvfb is not installed")


def make_game(data):
    folder = os.path.join(data, "s3", "games", "script")
    os.makedirs(folder)
    with open(os.path.join(folder, "run.sh"), "w") as f:
        f.write(GAME)
    with open(os.path.join(folder, "save.txt"), "w") as f:
        f.write("from the build\n")


def until(what, f, seconds=30):
    end = time.time() + seconds
    last = None
    while time.time() < end:
        last = f()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def app_info(server, arn):
    return server.admin("GET", "/_local/sessions/%s/app" % urllib.request.quote(arn, safe=""))


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A zombie nobody reaped yet is not alive.
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                return True
    return False


def setup(server, source="s3://games/script", executable="run.sh", stream_class="gen4n_high", capacity=4,
          **app_options):
    """A READY UBUNTU application of the build at `source`, and a stream group of
    `stream_class` with `capacity` always on for it."""
    c = server.client()
    app = c.create_application(Description="game", RuntimeEnvironment=UBUNTU, ExecutablePath=executable,
                               ApplicationSourceUri=source, **app_options)["Id"]
    server.advance(5)
    assert c.get_application(Identifier=app)["Status"] == "READY"
    group = c.create_stream_group(Description="g", StreamClass=stream_class, DefaultApplicationIdentifier=app,
                                  LocationConfigurations=[{"LocationName": "us-west-2", "AlwaysOnCapacity": capacity,
                                                           "MaximumCapacity": capacity}])["Id"]
    server.advance(1)
    return c, app, group


def start(c, group, app, **extra):
    return c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                  SignalRequest="NO_CLIENT_CONNECTION", **extra)["Arn"]


@needs_xvfb
def test_a_session_runs_its_build_with_its_arguments_environment_and_folders(tmp_path):
    data = str(tmp_path / "data")
    make_game(data)
    s = Server(data, "--clock", "frozen")
    try:
        c, app, group = setup(s)
        arn = start(c, group, app, AdditionalLaunchArgs=["--level", "3 4"],
                    AdditionalEnvironmentVariables={"MY_VAR": "hello", "LANG": "fr_FR.UTF-8"},
                    DisplayConfiguration={"Resolution": {"Width": 1280, "Height": 720}})
        other = start(c, group, app)
        s.advance(2)
        info = until("running", lambda: (lambda i: i["state"] == "running" and i)(app_info(s, arn)))
        assert info["command"] == ["run.sh", "--level", "3 4"]
        assert (info["width"], info["height"]) == (1280, 720) and info["display"].startswith(":")
        env_file = os.path.join(info["workingDirectory"], "..", "home", "env.txt")
        until("the environment written", lambda: os.path.exists(env_file))
        time.sleep(0.2)
        env = dict(line.split("=", 1) for line in open(env_file).read().splitlines() if "=" in line)
        assert env["MY_VAR"] == "hello" and env["LANG"] == "fr_FR.UTF-8"
        assert env["DISPLAY"] == info["display"]
        assert env["GAMELIFTSTREAMS_SESSION_ARN"] == arn
        assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
        assert env["HOME"].endswith("/home") and env["TMPDIR"].endswith("/tmp") and env["XDG_RUNTIME_DIR"]
        assert os.path.realpath(env["PWD"]) == os.path.realpath(info["workingDirectory"])
        assert not any(k.startswith(("AWS_", "GLS_", "PYTEST")) for k in env), "nothing of the server's own"
        assert "args: --level 3 4" in info["logTail"] or "args: --level 3 4" in app_info(s, arn)["logTail"]
        # Each session has its own copy of the build; the snapshot stays as it was.
        other_info = until("the other running", lambda: (lambda i: i["state"] == "running" and i)(app_info(s, other)))
        assert other_info["display"] != info["display"]
        for i in (info, other_info):
            until("its save", lambda: open(os.path.join(i["workingDirectory"], "save.txt")).read() == "mine\n")
        with open(os.path.join(data, "builds", app, "save.txt")) as f:
            assert f.read() == "from the build\n"
        assert app_info(s, arn)["memoryBytes"] > 0
    finally:
        s.stop()


@needs_xvfb
def test_the_applications_exit_ends_the_session_and_its_end_stops_the_application(tmp_path):
    data = str(tmp_path / "data")
    make_game(data)
    s = Server(data, "--clock", "frozen", "--app-stop-grace-ms", "500")
    try:
        c, app, group = setup(s)
        exits = start(c, group, app, AdditionalLaunchArgs=["exit", "7"])
        runs = start(c, group, app)
        s.advance(2)
        got = until("TERMINATED", lambda: (lambda g: g["Status"] == "TERMINATED" and g)(
            c.get_stream_session(Identifier=group, StreamSessionIdentifier=exits)))
        assert got["StatusReason"] == "applicationExit"
        info = app_info(s, exits)
        assert (info["state"], info["exitCode"]) == ("exited", 7)
        running = until("running", lambda: (lambda i: i["state"] == "running" and i)(app_info(s, runs)))
        pid = running["pid"]
        assert group_alive(pid)
        # A game that shows no window keeps its session ACTIVATING until the launch grace
        # (30 s of service time) is over.
        assert c.get_stream_session(Identifier=group, StreamSessionIdentifier=runs)["Status"] == "ACTIVATING"
        s.advance(31)
        assert c.get_stream_session(Identifier=group, StreamSessionIdentifier=runs)["Status"] == "ACTIVE"
        c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=runs)
        until("the application gone", lambda: not group_alive(pid), 15)
        assert app_info(s, runs)["state"] == "stopped"
        assert c.get_stream_session(Identifier=group, StreamSessionIdentifier=runs)["Status"] in ("TERMINATING",
                                                                                                 "TERMINATED")
    finally:
        s.stop()


@needs_xvfb
@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_no_application_outlives_the_server(tmp_path, sandbox):
    data = str(tmp_path / "data")
    make_game(data)
    s = Server(data, "--clock", "frozen", "--app-sandbox", sandbox)
    pids = []
    try:
        c, app, group = setup(s)
        # Games that start processes of their own: those are not ended with the server by
        # the kernel (the games themselves and their displays are), but by the next start.
        arns = [start(c, group, app, AdditionalLaunchArgs=["fork"]) for _ in range(3)]
        s.advance(2)
        infos = [until("running", lambda a=a: (lambda i: i["state"] == "running" and i)(app_info(s, a)))
                 for a in arns]
        pids = [i["pid"] for i in infos]
        displays = [i["display"] for i in infos]
        assert len(set(displays)) == 3
        children = [os.path.join(i["workingDirectory"], "..", "home", "child.pid") for i in infos]
        until("the games' own processes", lambda: all(os.path.exists(p) and open(p).read().strip() for p in children))
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        assert infos[0]["sandboxed"] == (sandbox == "on" and os.path.exists("/usr/bin/bwrap"))
        if infos[0]["sandboxed"]:
            # A sandbox is a PID namespace: its end (with the server) ends all it holds.
            until("everything ended with the server", lambda: not any(group_alive(p) for p in pids), 10)
        else:
            assert any(group_alive(p) for p in pids), "a kill -9 leaves the games' own processes, until the next start"
        s = Server(data, "--clock", "frozen", "--app-sandbox", sandbox)
        until("every leftover ended", lambda: not any(group_alive(p) for p in pids), 10)
        # And a graceful stop stops what runs.
        c = s.client()
        arn = start(c, group, app)
        s.advance(2)
        pid = until("running", lambda: (lambda i: i["state"] == "running" and i)(app_info(s, arn)))["pid"]
        s.proc.send_signal(signal.SIGTERM)
        s.proc.wait(timeout=30)
        assert not group_alive(pid)
    finally:
        s.stop()
        for p in pids:
            if group_alive(p):
                os.killpg(p, signal.SIGKILL)


def test_with_apps_off_sessions_stream_the_card_and_say_why(tmp_path):
    data = str(tmp_path / "data")
    make_game(data)
    s = Server(data, "--clock", "frozen", "--apps", "off")
    try:
        c, app, group = setup(s)
        arn = start(c, group, app)
        s.advance(2)
        time.sleep(0.5)
        info = app_info(s, arn)
        assert info["state"] == "none" and "serve --apps off" in info["reason"], info
        assert s.admin("GET", "/_local/health")["settings"]["apps"].startswith("off: applications are off")
        assert c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)["Status"] == "ACTIVE"
    finally:
        s.stop()


def test_a_session_of_an_application_without_a_build_runs_nothing(tmp_path):
    s = Server(str(tmp_path / "data"), "--clock", "frozen")
    try:
        c, app, group = setup(s, "s3://my-bucket/game/")
        arn = start(c, group, app)
        s.advance(2)
        time.sleep(0.5)
        info = app_info(s, arn)
        assert info["state"] == "none" and "no build" in info["reason"], info
    finally:
        s.stop()


PY_GAME = """#!/usr/bin/env python3
import os, socket, struct, time
host, port = os.environ["GAMELIFTSTREAMS_MESSAGE_ENDPOINT"].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
body = b"hello page"
s.sendall(struct.pack(">I", len(body)) + body)
print("sent", flush=True)
time.sleep(600)
"""


@needs_xvfb
def test_what_the_game_sends_with_no_client_connected_is_dropped(tmp_path):
    data = str(tmp_path / "data")
    folder = os.path.join(data, "s3", "games", "py")
    os.makedirs(folder)
    with open(os.path.join(folder, "game.py"), "w") as f:
        f.write(PY_GAME)
    s = Server(data, "--clock", "frozen", "--app-stop-grace-ms", "500")
    try:
        c, app, group = setup(s, "s3://games/py", "game.py")
        arn = start(c, group, app)
        s.advance(2)
        info = until("the game's message", lambda: (lambda i: i["messagesFromGame"] == 1 and i)(app_info(s, arn)))
        assert info["messagesConnected"] and info["messageEndpoint"].startswith("127.0.0.1:")
        got = s.admin("GET", "/_local/sessions/%s/messages" % urllib.request.quote(arn, safe=""))
        assert got == {"messages": [], "toPage": []}, got
    finally:
        s.stop()


LOG_GAME = """#!/bin/sh
mkdir -p logs "$HOME/saved"
echo "game log line" > logs/game.log
echo "not a log" > logs/data.bin
echo "player" > "$HOME/saved/player.log"
echo "temp" > "$TMPDIR/t.txt"
echo "changed" > save.txt
echo "to stdout"
exec sleep 600
"""


@needs_xvfb
def test_logs_are_uploaded_and_exports_hold_what_the_game_wrote(tmp_path):
    import zipfile

    data = str(tmp_path / "data")
    folder = os.path.join(data, "s3", "games", "logs")
    os.makedirs(folder)
    with open(os.path.join(folder, "run.sh"), "w") as f:
        f.write(LOG_GAME)
    with open(os.path.join(folder, "save.txt"), "w") as f:
        f.write("original\n")
    s = Server(data, "--clock", "frozen", "--app-stop-grace-ms", "300")
    try:
        c, app, group = setup(s, "s3://games/logs", ApplicationLogPaths=["logs/", "~/saved"],
                              ApplicationLogOutputUri="s3://game-logs/out")
        arn = start(c, group, app)
        s.advance(2)
        info = until("running", lambda: (lambda i: i["state"] == "running" and i)(app_info(s, arn)))
        until("the game's files", lambda: os.path.exists(os.path.join(info["workingDirectory"], "save.txt"))
              and open(os.path.join(info["workingDirectory"], "save.txt")).read() == "changed\n")
        time.sleep(1.2)  # a line of statistics
        s.advance(31)  # no window: ACTIVE after the launch grace
        s.event(arn, "clientConnected")
        c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=arn, OutputUri="s3://exports/x.zip")
        c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=arn)
        s.advance(2)
        got = c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)
        assert got["ExportFilesMetadata"]["Status"] == "SUCCEEDED", got
        session_id = arn.rsplit("/", 1)[1]
        assert got["LogFileLocationUri"] == "s3://game-logs/out/%s/%s/" % (group, session_id)
        logs = os.path.join(data, "s3", "game-logs", "out", group, session_id)
        until("the logs uploaded", lambda: sorted(os.listdir(logs)) == ["game.log", "player.log"]
              if os.path.isdir(logs) else False)
        assert open(os.path.join(logs, "game.log")).read() == "game log line\n"
        with zipfile.ZipFile(os.path.join(data, "s3", "exports", "x.zip")) as z:
            names = set(z.namelist())
            for want in ["session.json", "application/logs/game.log", "application/logs/data.bin",
                         "application/save.txt", "profile/saved/player.log", "temp/t.txt",
                         "application-output.log", "performance-stats.csv"]:
                assert want in names, (want, sorted(names))
            assert "application/run.sh" not in names, "only what the session created or changed"
            assert z.read("application/save.txt") == b"changed\n"
            assert b"to stdout" in z.read("application-output.log")
            stats = z.read("performance-stats.csv").decode().splitlines()
            assert stats[0].startswith("timestamp,cpu_percent,memory_mb") and len(stats) >= 2, stats
    finally:
        s.stop()


@needs_xvfb
@pytest.mark.skipif(not os.path.exists("/usr/bin/sdl2-config"), reason="libsdl2-dev is not installed")
def test_the_demo_application_is_the_sample_game(tmp_path):
    data = str(tmp_path / "data")
    s = Server(data, "--demo", "--clock", "frozen")
    try:
        c = s.client()
        [app] = c.list_applications()["Items"]
        got = c.get_application(Identifier=app["Id"])
        assert (got["RuntimeEnvironment"]["Type"], got["ExecutablePath"]) == ("UBUNTU", "run-game.sh")
        assert got["ApplicationSourceUri"] == "s3://gameliftstreams-local-demo/sample-game/"
        until("the demo's build snapshotted", lambda: os.path.exists(os.path.join(data, "builds", app["Id"], "bin", "game")))
        [group] = c.list_stream_groups()["Items"]
        arn = start(c, group["Id"], app["Id"])
        s.advance(2)
        info = until("the game's window", lambda: (lambda i: i["windowMapped"] and i)(app_info(s, arn)))
        assert info["state"] == "running" and info["command"] == ["run-game.sh"]
        # A session the demo seeded as live gets its game when someone watches it.
        live = [i for i in c.list_stream_sessions_by_account(Status="ACTIVE")["Items"] if i["Arn"] != arn]
        assert live and app_info(s, live[0]["Arn"])["state"] == "none"
    finally:
        s.stop()


@needs_xvfb
def test_logs_that_cannot_be_stored_end_the_session_in_error(tmp_path):
    data = str(tmp_path / "data")
    folder = os.path.join(data, "s3", "games", "quits")
    os.makedirs(folder)
    with open(os.path.join(folder, "run.sh"), "w") as f:
        f.write("#!/bin/sh\nmkdir -p logs\necho line > logs/game.log\nsleep 0.5\nexit 0\n")
    # Where the logs should go is a file: nothing can be written under it.
    with open(os.path.join(data, "s3", "game-logs"), "w") as f:
        f.write("in the way\n")
    s = Server(data, "--clock", "frozen", "--app-stop-grace-ms", "300", log=str(tmp_path / "log"))
    try:
        c, app, group = setup(s, "s3://games/quits", ApplicationLogPaths=["logs/"],
                              ApplicationLogOutputUri="s3://game-logs/out")
        arn = start(c, group, app)
        s.advance(2)
        got = until("ERROR", lambda: (lambda g: g["Status"] == "ERROR" and g)(
            c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)))
        assert got["StatusReason"] == "applicationLogS3DestinationError", got
        assert "an application log could not be uploaded" in s.logged()
    finally:
        s.stop()
