"""A newcomer's first run: on the demo account (`serve --demo`) and on a seeded data dir
(`seed --sessions 2000`), what the README and `python/examples` do next works in the default
account (the seeded stream groups leave GPU quota free), and seeded sessions' addresses name the
endpoint that serves them, also in a data dir written before addresses were derived on read."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, ROOT, Server, venv_tool, sqlite_only
from test_readme import block_with


# (Each test runs on a copy of a data dir.)
pytestmark = sqlite_only


@pytest.fixture(scope="module", params=["demo", "seed"])
def world(request, tmp_path_factory):
    """A data dir as a newcomer has it after `serve --demo`, or after `seed --sessions 2000`;
    each test runs on a copy of it."""
    d = str(tmp_path_factory.mktemp("world-" + request.param) / "data")
    if request.param == "demo":
        s = Server(d, "--demo")
        s.stop()
    else:
        subprocess.run([BIN, "seed", "--data-dir", d, "--sessions", "2000", "--rng-seed", "22"],
                       capture_output=True, text=True, check=True)
    return d


@pytest.fixture
def served(world, tmp_path):
    """A server on a copy of the world."""
    d = str(tmp_path / "data")
    shutil.copytree(world, d, ignore=shutil.ignore_patterns("lock"))
    s = Server(d)
    yield s
    s.stop()


def test_the_readme_boto3_example_runs(served):
    code = block_with("python", "stream_session_active").replace("http://127.0.0.1:9080", served.url)
    code += '\nprint("started", s["Arn"], group["Id"])\n'
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    *listed, started = out.stdout.strip().splitlines()
    arn = started.split()[1]
    assert arn + " ACTIVE" in listed, out.stdout
    # What the example created fits the quota beside the seeded group, and so does more of it.
    c = served.client()
    group = c.get_stream_group(Identifier=started.split()[2])
    assert group["Status"] == "ACTIVE"
    for _ in range(3):
        more = c.create_stream_group(Description="more", StreamClass="gen5n_ultra",
                                     LocationConfigurations=[{"LocationName": "us-west-2", "AlwaysOnCapacity": 30,
                                                              "MaximumCapacity": 100}])
        assert more["Status"] == "ACTIVATING"


def test_the_readme_cli_example_runs(served):
    code = block_with("", "export AWS_ACCESS_KEY_ID").replace("\\\n", " ")
    env = dict(os.environ, AWS_PAGER="")
    for line in code.splitlines():
        if line.startswith("export "):
            env.update(pair.split("=", 1) for pair in line.split()[1:])
    command = next(line for line in code.splitlines() if line.startswith("aws "))
    args = command.replace("http://127.0.0.1:9080", served.url).split()
    out = subprocess.run([venv_tool("aws"), *args[1:]], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)["Items"]
    assert items and all(i["Status"] == "ACTIVE" for i in items)


def test_the_python_examples_run_on_it(world, tmp_path):
    # Every example but the one about a fresh server being empty, each on its own copy of the
    # world (the plugin's --gameliftstreams-data-from), in the default account.
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python"), "GLS_BIN": BIN}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                          "gameliftstreams_local.pytest_plugin", "--gameliftstreams-data-from", world,
                          "-k", "not fresh_server_is_empty", os.path.join(ROOT, "python", "examples")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "9 passed, 1 deselected" in out.stdout, out.stdout


def with_host(url, host):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def test_seeded_sessions_name_the_endpoint_that_serves_them(served):
    port = urllib.parse.urlsplit(served.url).port
    # What the store holds names no particular endpoint (an older seed wrote 127.0.0.1:9080).
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(served.data_dir, "state.db"), uri=True)
    try:
        stored = db.execute("SELECT count(*) FROM sessions WHERE doc LIKE '%127.0.0.1:9080/_local/webrtc/%'")
        assert stored.fetchone()[0] > 0
    finally:
        db.close()
    c = served.client()
    [group] = [g for g in c.list_stream_groups()["Items"]]
    items = c.list_stream_sessions_by_account(MaxResults=100)["Items"]
    checked = 0
    for item in items[:20]:
        got = c.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=item["Arn"])
        url = got["WebSdkProtocolUrl"]
        assert urllib.parse.urlsplit(url).netloc == "127.0.0.1:%d" % port, url
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200 and b"function" in r.read()
        # Reached by another name, the same session names that one.
        other = served.client()
        other.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__(
            "Host", "localhost:%d" % port))
        again = other.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=item["Arn"])
        assert again["WebSdkProtocolUrl"] == with_host(url, "localhost:%d" % port)
        checked += 1
    assert checked == 20


def test_stream_urls_and_new_sessions_name_the_endpoint_a_read_reached(served):
    port = urllib.parse.urlsplit(served.url).port
    c = served.client()
    [group] = c.list_stream_groups()["Items"]
    app = group["DefaultApplication"]["Id"]
    made = c.create_stream_url(Identifier=group["Id"], ApplicationIdentifier=app, Protocol="WebRTC",
                               UrlExpiresAfterMinutes=60, Locations=["us-west-2"])
    assert urllib.parse.urlsplit(made["StreamUrl"]).netloc == "127.0.0.1:%d" % port
    started = c.start_stream_session(Identifier=group["Id"], ApplicationIdentifier=app, Protocol="WebRTC",
                                     SignalRequest="NO_CLIENT_CONNECTION")
    other = served.client()
    other.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__(
        "Host", "localhost:%d" % port))
    got = other.get_stream_url(Identifier=group["Id"], StreamUrlIdentifier=made["StreamUrlId"])
    assert got["StreamUrl"] == with_host(made["StreamUrl"], "localhost:%d" % port)
    listed = other.list_stream_urls(StreamGroupIdentifier=group["Id"])["Items"]
    assert [u["StreamUrl"] for u in listed] == [got["StreamUrl"]]
    session = other.get_stream_session(Identifier=group["Id"], StreamSessionIdentifier=started["Arn"])
    assert session["WebSdkProtocolUrl"] == with_host(started["WebSdkProtocolUrl"], "localhost:%d" % port)
