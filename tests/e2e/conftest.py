"""End-to-end fixtures: the real gameliftstreams-local binary on port 0, and boto3 / AWS CLI
clients pointed at it."""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("GLS_BIN", os.path.join(ROOT, "target", "debug", "gameliftstreams-local"))


def venv_tool(name):
    """A command installed into this test run's own virtualenv (sys.prefix), never one found
    elsewhere on the machine: the suite must pass with exactly the pinned packages."""
    path = os.path.join(sys.prefix, "bin", name)
    assert os.path.exists(path), "%s is not installed in the test virtualenv %s (run ./scripts/test)" % (
        name, sys.prefix)
    return path


# GLS_E2E_POSTGRES (a PostgreSQL server's URL, e.g. the test command's private cluster): every
# Server keeps its state there, in a database of its own per data dir (a restart on the same
# data dir finds its state again), instead of the data dir's SQLite file.
POSTGRES = os.environ.get("GLS_E2E_POSTGRES")


def postgres_store(data_dir):
    """The `--store` URL of `data_dir`'s database on POSTGRES, made on first use."""
    import hashlib
    name = "e2e_" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]
    exists = subprocess.run(["psql", "-qtA", POSTGRES, "-c", "SELECT 1 FROM pg_database WHERE datname = '%s'" % name],
                            check=True, capture_output=True, text=True).stdout.strip()
    if not exists:
        subprocess.run(["psql", "-q", POSTGRES, "-c", "CREATE DATABASE %s" % name], check=True, capture_output=True)
    return POSTGRES.rsplit("/", 1)[0] + "/" + name


def store_args(data_dir):
    """What `seed` (or anything else that opens a data dir's store) adds to reach the store a
    Server on `data_dir` uses."""
    return ["--store", postgres_store(data_dir)] if POSTGRES else []


# Tests that read or write a data dir's SQLite file itself, or copy a data dir whole (with a
# PostgreSQL store, its state is not in it).
sqlite_only = pytest.mark.skipif(bool(POSTGRES), reason="the data dir's SQLite file itself")


class Server:
    def __init__(self, data_dir, *extra, log=None):
        """`log`: a file that gets the server's stderr (else the test's own)."""
        self.data_dir = data_dir
        if POSTGRES and "--in-memory" not in extra and "--store" not in extra:
            extra = (*extra, "--store", postgres_store(data_dir))
        self.log = log
        stderr = open(log, "ab") if log else None
        try:
            self.proc = subprocess.Popen(
                [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, *extra],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        finally:
            if stderr:
                stderr.close()
        line = self.proc.stdout.readline()
        assert line.startswith("listening on http://"), line
        self.url = line.strip().split(" ")[-1]

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def logged(self):
        """What the server wrote to its `log` so far."""
        with open(self.log, errors="replace") as f:
            return f.read()

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"{}")

    def post(self, path, body):
        """A POST to the admin API: (status, body), errors included."""
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def event(self, session, event, **extra):
        """A client or application event through the admin API: (status, body)."""
        return self.post("/_local/sessions/%s/events" % urllib.request.quote(session, safe=""),
                         {"event": event, **extra})

    def fault(self, **body):
        return self.post("/_local/faults", body)

    def advance(self, seconds):
        return self.admin("POST", "/_local/clock", {"advanceSeconds": seconds})

    def client(self, access_key="AKIDEXAMPLE", region="us-west-2", validate=True):
        return boto3.client(
            "gameliftstreams",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key="secret",
            config=Config(parameter_validation=validate, retries={"mode": "standard", "total_max_attempts": 1}),
        )

    def cli(self, *args, access_key="AKIDEXAMPLE"):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY="secret",
                   AWS_DEFAULT_REGION="us-west-2", AWS_PAGER="")
        out = subprocess.run([venv_tool("aws"), "--endpoint-url", self.url, "--output", "json", "gameliftstreams", *args],
                             env=env, capture_output=True, text=True)
        return out


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        yield s
        s.stop()


def make_app_and_group(server, client):
    app = client.create_application(
        Description="E2E game",
        RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
        ExecutablePath="Game/Game.exe",
        ApplicationSourceUri="s3://e2e-bucket/game/",
    )
    server.advance(5)
    group = client.create_stream_group(Description="E2E group", StreamClass="gen5n_ultra",
                                       DefaultApplicationIdentifier=app["Id"],
                                       LocationConfigurations=[{"LocationName": client.meta.region_name,
                                                                "AlwaysOnCapacity": 30, "MaximumCapacity": 30}])
    server.advance(1)
    return app["Id"], group["Id"]


def start_sessions(client, group, app, n):
    ids = []
    for i in range(n):
        s = client.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                        SignalRequest="NO_CLIENT_CONNECTION", UserId="player-%d" % i)
        ids.append(s["Arn"].rsplit("/", 1)[1])
    return ids


def session_id(item):
    return item["Arn"].rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def populated(server):
    """23 sessions: every third terminated, every fourth live one exporting."""
    c = server.client()
    app, group = make_app_and_group(server, c)
    ids = start_sessions(c, group, app, 23)
    server.advance(2)
    for i, sid in enumerate(ids):
        if i % 3 == 0:
            c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=sid)
        elif i % 4 == 0:
            c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=sid,
                                          OutputUri="s3://e2e-exports/out/")
    server.advance(2)
    terminated = [s for i, s in enumerate(ids) if i % 3 == 0]
    exporting = [s for i, s in enumerate(ids) if i % 3 != 0 and i % 4 == 0]
    return {"app": app, "group": group, "ids": ids, "terminated": terminated, "exporting": exporting}
