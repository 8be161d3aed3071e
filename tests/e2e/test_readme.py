"""The README's examples, pasted as a newcomer would: the pytest example through the plugin,
the boto3 example and the AWS CLI example against a fresh server."""

import os
import subprocess
import sys
import tempfile
import urllib.request

from conftest import BIN, ROOT, Server, venv_tool

README = open(os.path.join(ROOT, "README.md")).read()


def blocks(lang):
    """The fenced blocks of the README whose info string is `lang`."""
    found, current, info = [], None, None
    for line in README.splitlines(keepends=True):
        if line.startswith("```"):
            if current is None:
                current, info = [], line[3:].strip()
            else:
                if info == lang:
                    found.append("".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return found


def block_with(lang, needle):
    found = [b for b in blocks(lang) if needle in b]
    assert found, "no ```%s block with %r in the README" % (lang, needle)
    return found[0]


def test_the_pytest_example_passes_with_the_plugin(tmp_path):
    code = block_with("python", "def test_a_session_that_loses_its_client_ends")
    code = code.replace("    ...\n", "    assert gameliftstreams.list_stream_groups()[\"Items\"] == []\n")
    (tmp_path / "test_readme_example.py").write_text(code)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python"), "GLS_BIN": BIN}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                          "gameliftstreams_local.pytest_plugin", str(tmp_path)], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout, out.stdout


def test_the_boto3_example_prints_the_session_it_started():
    code = block_with("python", "stream_session_active")
    with tempfile.TemporaryDirectory() as d:
        s = Server(os.path.join(d, "data"))
        try:
            out = subprocess.run([sys.executable, "-c", code.replace("http://127.0.0.1:9080", s.url)],
                                 capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stderr
            lines = out.stdout.strip().splitlines()
            assert len(lines) == 1 and lines[0].endswith(" ACTIVE"), out.stdout
        finally:
            s.stop()


def test_the_cli_example_lists_the_demo_sessions():
    code = block_with("", "export AWS_ACCESS_KEY_ID")
    env = dict(os.environ, AWS_PAGER="")
    for line in code.replace("\\\n", " ").splitlines():
        if line.startswith("export "):
            for pair in line.split()[1:]:
                k, v = pair.split("=", 1)
                env[k] = v
    command = next(l for l in code.replace("\\\n", " ").splitlines() if l.startswith("aws "))
    with tempfile.TemporaryDirectory() as d:
        s = Server(os.path.join(d, "data"), "--demo")
        try:
            args = command.replace("http://127.0.0.1:9080", s.url).split()
            out = subprocess.run([venv_tool("aws"), *args[1:]], capture_output=True, text=True, env=env, timeout=120)
            assert out.returncode == 0, out.stderr
            assert '"Status": "ACTIVE"' in out.stdout, out.stdout
        finally:
            s.stop()


def test_the_suite_runs_from_a_venv_of_the_system_python():
    # scripts/test makes .venv from Debian's /usr/bin/python3 when there is one, never from the
    # python3 that PATH finds first: nothing of this machine's other Pythons is used.
    assert sys.prefix != sys.base_prefix, "not in a virtualenv"
    if os.path.exists("/usr/bin/python3"):
        assert os.path.realpath(sys.base_prefix) == "/usr", sys.base_prefix


def test_the_service_endpoint_variable_points_boto3_and_the_aws_cli_here():
    import json

    with tempfile.TemporaryDirectory() as d:
        s = Server(os.path.join(d, "data"), "--demo")
        try:
            env = dict(os.environ, AWS_ENDPOINT_URL_GAMELIFTSTREAMS=s.url, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                       AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-west-2", AWS_PAGER="")
            out = subprocess.run([venv_tool("aws"), "gameliftstreams", "list-stream-groups"], capture_output=True,
                                 text=True, env=env, timeout=120)
            assert out.returncode == 0, out.stderr
            assert len(json.loads(out.stdout)["Items"]) == 1
            code = ("import boto3; c = boto3.client('gameliftstreams'); "
                    "print(len(c.list_stream_groups()['Items']))")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
            assert out.returncode == 0 and out.stdout.strip() == "1", out.stderr
        finally:
            s.stop()


def sample_game_build(dest):
    """The sample game's build at `dest`: the one the test command built, else built here."""
    import shutil

    built = os.environ.get("GLS_SAMPLE_GAME")
    if built and os.path.isdir(built):
        shutil.copytree(built, dest)
    else:
        subprocess.run([os.path.join(ROOT, "games", "sample", "build.sh"), dest], check=True, capture_output=True)


def needs_games(f):
    import pytest

    missing = [p for p in ("/usr/bin/Xvfb", "/usr/bin/sdl2-config") if not os.path.exists(p)]
    return pytest.mark.skipif(bool(missing) and not os.environ.get("GLS_SAMPLE_GAME"), reason="no Xvfb or SDL2")(f)


@needs_games
def test_the_own_game_example_plays_the_sample_game(tmp_path):
    import json
    import time
    import urllib.request

    code = block_with("python", "# Streaming your own game")
    data = str(tmp_path / "data")
    sample_game_build(os.path.join(data, "s3", "my-bucket", "sample-game"))
    s = Server(data)
    try:
        out = subprocess.run([sys.executable, "-c", code.replace("http://127.0.0.1:9080", s.url)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        play = out.stdout.strip()
        assert play.startswith(s.url + "/_local/play/"), out.stdout
        session = play.rsplit("/", 1)[1]
        with urllib.request.urlopen(play) as r:
            assert r.status == 200
        end = time.time() + 30
        while time.time() < end:
            info = s.admin("GET", "/_local/sessions/%s/app" % session)
            if info.get("windowMapped") and "GAME_MODE=local" in info["logTail"]:
                break
            time.sleep(0.1)
        assert info["state"] == "running" and info["windowMapped"], info
        assert info["command"] == ["run-game.sh", "--exit-code", "3"]
        assert (info["width"], info["height"]) == (1280, 720)
        assert "GAME_MODE=local" in info["logTail"], info["logTail"]
    finally:
        s.stop()


@needs_games
def test_the_message_clients_of_the_readme_talk_to_the_endpoint(tmp_path):
    import base64
    import time

    python_client = block_with("python", "def receive(sock)")
    c_client = block_with("c", "int gls_connect(void)")
    data = str(tmp_path / "data")
    folder = os.path.join(data, "s3", "games", "clients")
    os.makedirs(folder)
    with open(os.path.join(folder, "py-game"), "w") as f:
        f.write("#!/usr/bin/env python3\n" + python_client + "\nimport time\nsock = connect()\n"
                "message = receive(sock)\nprint('got', message.decode(), flush=True)\n"
                "send(sock, b'py:' + message)\ntime.sleep(600)\n")
    with open(str(tmp_path / "c-game.c"), "w") as f:
        f.write(c_client + "\nint main(void) { int fd = gls_connect(); if (fd < 0) return 2;\n"
                "gls_send(fd, \"from C\", 6); sleep(600); return 0; }\n")
    out = subprocess.run(["cc", "-Wall", "-Werror", "-o", os.path.join(folder, "c-game"), str(tmp_path / "c-game.c")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    s = Server(data, "--clock", "frozen")
    try:
        c = s.client()
        ubuntu = {"Type": "UBUNTU", "Version": "22_04_LTS"}
        apps = [c.create_application(Description=e, RuntimeEnvironment=ubuntu, ExecutablePath=e,
                                     ApplicationSourceUri="s3://games/clients")["Id"] for e in ("py-game", "c-game")]
        s.advance(5)
        group = c.create_stream_group(Description="g", StreamClass="gen4n_high", DefaultApplicationIdentifier=apps[0],
                                      LocationConfigurations=[{"LocationName": "us-west-2", "AlwaysOnCapacity": 2,
                                                               "MaximumCapacity": 2}])["Id"]
        c.associate_applications(Identifier=group, ApplicationIdentifiers=[apps[1]])
        s.advance(1)
        arns = [c.start_stream_session(Identifier=group, ApplicationIdentifier=a, Protocol="WebRTC",
                                       SignalRequest="NO_CLIENT_CONNECTION")["Arn"] for a in apps]
        s.advance(2)
        path = "/_local/sessions/%s/app"
        quote = lambda a: urllib.request.quote(a, safe="")  # noqa: E731
        # What a page would send reaches the Python client (queued until it connects); its answer
        # and the C client's message are counted (and dropped: no page is connected).
        status, _ = s.post("/_local/sessions/%s/messages" % quote(arns[0]),
                           {"data": base64.b64encode(b"hello").decode(), "to": "application"})
        assert status == 200
        end = time.time() + 30
        while time.time() < end:
            py, cc = (s.admin("GET", path % quote(a)) for a in arns)
            if py["messagesFromGame"] == 1 and cc["messagesFromGame"] == 1:
                break
            time.sleep(0.1)
        assert "got hello" in py["logTail"] and py["messagesToGame"] == 1, py
        assert cc["messagesFromGame"] == 1 and cc["messagesConnected"], cc
    finally:
        s.stop()
