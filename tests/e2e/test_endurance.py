"""The evidence, kept: crash consistency under kill -9, pagination under churn, a sweep of
mutated HTTP requests, graceful shutdown under load, and a soak with RSS sampled. Short in
CI; `GLS_LONG=1` runs the long versions (README, "Tests"). Every loop is bounded in count and
time, and all traffic stays on 127.0.0.1."""

import json
import os
import random
import signal
import socket
import sqlite3
import tempfile
import threading
import time

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ConnectionClosedError
from urllib3.exceptions import ProtocolError

from conftest import Server, make_app_and_group

LONG = os.environ.get("GLS_LONG") == "1"
RNG_SEED = int(os.environ.get("GLS_SEED", "1234"))


def address(server):
    host, port = server.url.split("//")[1].split(":")
    return host, int(port)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Ledger:
    """What the server acknowledged (answered 2xx), shared by the load threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.apps = {}          # arn -> {tag key: value acknowledged last}
        self.sessions = set()   # arns started
        self.terminated = set()
        self.exported = set()
        self.live = {}          # arn -> when started (monotonic), not yet terminated
        self.errors = []
        self.refused = {}       # 4xx codes seen, by code
        self.unacknowledged = {}  # (arn, tag key) -> values sent after the last acknowledged one

    def add(self, kind, value):
        with self.lock:
            getattr(self, kind).add(value)


TRANSPORT = (EndpointConnectionError, ConnectionClosedError, ProtocolError, ConnectionError, OSError)


def write_load(server, group, app, ledger, stop, rng):
    """Creates, starts, terminates, exports and tags until `stop` is set or the server is gone."""
    c = server.client()
    while not stop.is_set():
        op = rng.random()
        try:
            if op < 0.2 and len(ledger.apps) < 60:
                tag = "v%d" % rng.randrange(10**6)
                a = c.create_application(Description="Load", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
                                         ExecutablePath="Game.exe", ApplicationSourceUri="s3://bucket/game/",
                                         Tags={"load": tag})
                with ledger.lock:
                    ledger.apps[a["Arn"]] = {"load": tag}
            elif op < 0.3 and ledger.apps:
                with ledger.lock:
                    arn = rng.choice(sorted(ledger.apps))
                # A key of this thread's own: its requests are sequential, so its last
                # acknowledged value is the stored one.
                key, tag = "load-%d" % threading.get_ident(), "t%d" % rng.randrange(10**6)
                with ledger.lock:
                    ledger.unacknowledged.setdefault((arn, key), set()).add(tag)
                c.tag_resource(ResourceArn=arn, Tags={key: tag})
                with ledger.lock:
                    ledger.apps[arn][key] = tag
                    ledger.unacknowledged.pop((arn, key), None)
            elif op < 0.8:
                # A bounded pool of live sessions (the group has capacity for all of them), each
                # ended once placed: sessions cannot be terminated while ACTIVATING.
                with ledger.lock:
                    placed = [a for a, t in ledger.live.items() if time.monotonic() - t > 1.5]
                    full = len(ledger.live) >= 20
                if not full and (rng.random() < 0.5 or not placed):
                    s = c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                               SignalRequest="NO_CLIENT_CONNECTION")
                    with ledger.lock:
                        ledger.sessions.add(s["Arn"])
                        ledger.live[s["Arn"]] = time.monotonic()
                elif placed:
                    arn = rng.choice(placed)
                    with ledger.lock:
                        if ledger.live.pop(arn, None) is None:
                            continue  # another thread took it
                    try:
                        if rng.random() < 0.5:
                            c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=arn,
                                                          OutputUri="s3://exports-bucket/load/%s.zip" % arn.rsplit("/", 1)[1])
                            ledger.add("exported", arn)
                        c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=arn)
                        ledger.add("terminated", arn)
                    except ClientError:
                        with ledger.lock:
                            ledger.live[arn] = time.monotonic()  # not placed yet (after a restart): later
                        raise
            else:
                c.list_stream_sessions_by_account(MaxResults=25)
        except TRANSPORT:
            return  # the server is gone (killed or stopping): what was acknowledged is in the ledger
        except ClientError as e:
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
            if status >= 500:
                ledger.errors.append(str(e))
            # 4xx under load (e.g. a quota) acknowledges nothing and is not an error of ours
            code = e.response["Error"]["Code"]
            with ledger.lock:
                ledger.refused[code] = ledger.refused.get(code, 0) + 1


def start_load(server, group, app, ledger, rng, n):
    """`n` write_load threads, started; returns (the event that stops them, the threads)."""
    stop = threading.Event()
    threads = [threading.Thread(target=write_load, args=(server, group, app, ledger, stop, random.Random(rng.random())))
               for _ in range(n)]
    for t in threads:
        t.start()
    return stop, threads


def check_ledger(server, group, ledger, wait_timers=True):
    c = server.client()
    for arn, tags in ledger.apps.items():
        got = c.list_tags_for_resource(ResourceArn=arn)["Tags"]
        for k, v in tags.items():
            # The last acknowledged value, or one sent after it whose answer the kill cut off.
            assert got.get(k) == v or got.get(k) in ledger.unacknowledged.get((arn, k), ()), (arn, k, got.get(k), v)
    for arn in ledger.sessions:
        s = c.get_stream_session(Identifier=group, StreamSessionIdentifier=arn)
        if arn in ledger.terminated:
            assert s["Status"] in ("TERMINATING", "TERMINATED"), (arn, s["Status"])
        if arn in ledger.exported:
            assert "ExportFilesMetadata" in s, arn
    if wait_timers:
        # Timers due while the server was down fire after the restart.
        end = time.monotonic() + 20
        pending = set(ledger.terminated)
        while pending and time.monotonic() < end:
            pending = {a for a in pending if c.get_stream_session(
                Identifier=group, StreamSessionIdentifier=a)["Status"] != "TERMINATED"}
            time.sleep(0.2)
        assert not pending, "terminations never completed: %d" % len(pending)


def integrity(data_dir):
    conn = sqlite3.connect(os.path.join(data_dir, "state.db"))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_acknowledged_writes_survive_kill_9_at_random_moments():
    cycles = 50 if LONG else 5
    rng = random.Random(RNG_SEED)
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        app, group = make_app_and_group(s, s.client())
        s.stop()
        ledger = Ledger()
        for _ in range(cycles):
            s = Server(d)
            stop, threads = start_load(s, group, app, ledger, rng, 4)
            time.sleep(rng.uniform(0.3, 1.5))
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait()
            stop.set()
            for t in threads:
                t.join(timeout=30)
            assert integrity(d) == "ok"
        s = Server(d)
        try:
            check_ledger(s, group, ledger)
        finally:
            s.stop()
        assert not ledger.errors, ledger.errors[:3]
        assert integrity(d) == "ok"
        assert len(ledger.sessions) > cycles and ledger.apps, "the load did too little to prove anything"
        print("kill -9 cycles: %d; acknowledged: %d applications, %d sessions, %d terminations, %d exports; none lost;"
              " refused: %s" % (cycles, len(ledger.apps), len(ledger.sessions), len(ledger.terminated),
                               len(ledger.exported), ledger.refused))


def test_sigterm_under_load_keeps_every_acknowledged_write():
    rng = random.Random(RNG_SEED + 1)
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        app, group = make_app_and_group(s, s.client())
        ledger = Ledger()
        stop, threads = start_load(s, group, app, ledger, rng, 4)
        stuck = socket.create_connection(address(s))
        stuck.sendall(b"POST /applications HTTP/1.1\r\nHost: x\r\nContent-")
        time.sleep(1.0)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        code = s.proc.wait(timeout=15)
        took = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join(timeout=30)
        stuck.close()
        assert code == 0 and took < 11, (code, took)
        again = Server(d)
        try:
            check_ledger(again, group, ledger)
        finally:
            again.stop()
        assert not ledger.errors, ledger.errors[:3]
        assert integrity(d) == "ok"


def test_pagination_under_churn_has_no_duplicate_and_no_miss():
    walks = 10_000 if LONG else 100
    rng = random.Random(RNG_SEED + 2)
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        try:
            c = s.client()
            app, group = make_app_and_group(s, c)
            c.update_stream_group(Identifier=group, LocationConfigurations=[
                {"LocationName": "us-west-2", "AlwaysOnCapacity": 100, "MaximumCapacity": 100}])
            s.advance(1)
            stable = {"TERMINATED": set(), "CONNECTED": set()}
            for i in range(80):
                arn = c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                             SignalRequest="NO_CLIENT_CONNECTION")["Arn"]
                (stable["TERMINATED"] if i % 2 else stable["CONNECTED"]).add(arn)
            s.advance(2)
            for arn in stable["CONNECTED"]:
                assert s.event(arn, "clientConnected")[0] == 200
            for arn in stable["TERMINATED"]:
                c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=arn)
            s.advance(5)
            assert all(c.get_stream_session(Identifier=group, StreamSessionIdentifier=a)["Status"] == "TERMINATED"
                       for a in stable["TERMINATED"])

            stop = threading.Event()
            errors = []

            def churn(seed):
                r = random.Random(seed)
                cc = s.client()
                mine = []
                while not stop.is_set():
                    try:
                        # A few live sessions at a time, ended once placed; paced so that the
                        # account grows by a few sessions a second however long the run.
                        if len(mine) >= 8 or (mine and r.random() < 0.5):
                            cc.terminate_stream_session(Identifier=group, StreamSessionIdentifier=mine[0])
                            mine.pop(0)
                        else:
                            mine.append(cc.start_stream_session(Identifier=group, ApplicationIdentifier=app,
                                                                Protocol="WebRTC", SignalRequest="NO_CLIENT_CONNECTION")["Arn"])
                    except ClientError as e:
                        if e.response["ResponseMetadata"]["HTTPStatusCode"] >= 500:
                            errors.append(str(e))
                    stop.wait(0.1)

            churners = [threading.Thread(target=churn, args=(rng.random(),)) for _ in range(2)]
            for t in churners:
                t.start()
            deadline = time.monotonic() + (3600 if LONG else 120)
            done = 0
            try:
                for _ in range(walks):
                    assert time.monotonic() < deadline, "walks took too long"
                    status = rng.choice([None, "TERMINATED", "CONNECTED", "ACTIVE", "ACTIVATING"])
                    args = {"Status": status} if status else {}
                    seen, token = [], None
                    for _ in range(10_000):
                        page = c.list_stream_sessions_by_account(MaxResults=rng.randint(1, 100), **args,
                                                                 **({"NextToken": token} if token else {}))
                        seen += [i["Arn"] for i in page["Items"]]
                        token = page.get("NextToken")
                        if not token:
                            break
                    assert len(seen) == len(set(seen)), "an item came twice (status %s)" % status
                    want = set().union(*stable.values()) if status is None else stable.get(status, set())
                    assert want <= set(seen), "missed %d sessions (status %s)" % (len(want - set(seen)), status)
                    done += 1
            finally:
                stop.set()
                for t in churners:
                    t.join(timeout=30)
            assert not errors, errors[:3]
            print("pagination walks under churn: %d, no duplicate, no miss" % done)
        finally:
            s.stop()


# --- the HTTP sweep ------------------------------------------------------------------------

MODEL = botocore.session.get_session().get_service_model("gameliftstreams")
ADMIN = [("GET", "/_local/health"), ("GET", "/_local/clock"), ("POST", "/_local/clock"),
         ("POST", "/_local/faults"), ("POST", "/_local/sessions/x/events"), ("GET", "/_local/sessions/x/messages"),
         ("POST", "/_local/sessions/x/messages"), ("GET", "/_local/sessions/x/stream"), ("GET", "/_local/play/x"),
         ("POST", "/_local/play/x/connect"), ("GET", "/_local/webrtc/x.js"), ("GET", "/_local/streamurls/x?token=y")]


def routes():
    out = []
    for name in MODEL.operation_names:
        http = MODEL.operation_model(name).http
        path = http["requestUri"].split("?")[0]
        out.append((http["method"], path.replace("{", "").replace("}", "").replace("+", "")))
    return out + ADMIN


VALUES = [None, True, -1, 0, 2**63, 2**64, -2**63 - 1, 1e308, "1e400", "", "x" * 5000, [], {}, [[]], {"a": {"b": None}},
          "\u0000", "\ud83d\ude00", "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-000000000"]
MEMBERS = ["Description", "Identifier", "MaxResults", "NextToken", "Tags", "LocationConfigurations", "Status",
           "SignalRequest", "advanceSeconds", "event", "target", "data", "signalRequest", "ClientToken",
           "DefaultApplicationIdentifier", "StreamClass", "RuntimeEnvironment", "AdditionalEnvironmentVariables"]


def mutated(rng, method, path):
    """One malformed request to `method path`, as raw bytes."""
    kind = rng.randrange(12)
    body = b""
    headers = [b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if kind == 0:
        body = json.dumps({rng.choice(MEMBERS): rng.choice(VALUES) for _ in range(rng.randint(1, 5))}).encode()
    elif kind == 1:
        depth = rng.choice([100, 1000, 20000])
        body = b"[" * depth + b"]" * depth if rng.random() < 0.5 else b'{"a":' * depth + b"1" + b"}" * depth
    elif kind == 2:
        body = b'{"Description": "\xff\xfe\xc0\xaf", "x": "\xed\xa0\x80"}'
    elif kind == 3:
        path = path + rng.choice(["/%ZZ", "%", "/%C0%AF", "/%00", "/..%2F..", "?MaxResults=%", "?NextToken=%E0%A4%A"])
    elif kind == 4:
        body = b'{"Description": "a", "Description": "b", "MaxResults": 5, "MaxResults": "5"}'
    elif kind == 5:
        body = json.dumps({rng.choice(MEMBERS): rng.choice([1e308, -1e308, 2**200, 0.5, -0.0])}).encode()
        body = body.replace(b"1e+308", b"1e999")
    elif kind == 6:
        body = b'{"Description": "' + b"x" * rng.choice([100_000, 1_500_000]) + b'"}'
    elif kind == 7:
        return rng.choice([b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
                           b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                           b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
                           b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                           b"POST /applications HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]), "raw"
    elif kind == 8:
        return (method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"Des"), "unfinished"
    elif kind == 9:
        headers.append(b"Authorization: " + rng.choice([b"AWS4-HMAC-SHA256", b"AWS4-HMAC-SHA256 Credential=/,",
                                                        b"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=zz",
                                                        b"\xff\xfe", b"Basic abc"]))
        body = b"{}"
    elif kind == 10:
        path = path + "?" + "&".join("%s=%s" % (rng.choice(MEMBERS), rng.choice(["-1", "99999999999999999999", "", "%FF", "a" * 3000]))
                                     for _ in range(rng.randint(1, 6)))
    else:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    head = b"%s %s HTTP/1.1\r\n" % (rng.choice([method, method, "PUT", "DELETE", "PATCH", "OPTIONS"]).encode(), path.encode())
    head += b"\r\n".join(headers) + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    return head + body, "whole"


def send(addr, data, mode):
    """Send one request; the status (None if the server closed without one)."""
    s = socket.create_connection(addr, timeout=10)
    s.settimeout(10)
    try:
        s.sendall(data)
        if mode == "unfinished":
            return None  # the client goes away half-way
        resp = b""
        while b"\r\n" not in resp:
            chunk = s.recv(4096)
            if not chunk:
                return None
            resp += chunk
        return int(resp.split(b" ", 2)[1])
    except (ConnectionResetError, BrokenPipeError):
        return None
    finally:
        s.close()


def test_a_sweep_of_mutated_requests_answers_no_5xx_and_loses_nothing():
    count = 100_000 if LONG else 3_000
    rng = random.Random(RNG_SEED + 3)
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        c = s.client()
        app, group = make_app_and_group(s, c)
        arn = c.start_stream_session(Identifier=group, ApplicationIdentifier=app, Protocol="WebRTC",
                                     SignalRequest="NO_CLIENT_CONNECTION")["Arn"]
        before = c.list_stream_sessions_by_account()["Items"]
        addr = address(s)
        table = routes()
        statuses = {}
        deadline = time.monotonic() + (7200 if LONG else 240)
        try:
            for i in range(count):
                assert time.monotonic() < deadline, "the sweep took too long (%d sent)" % i
                method, path = rng.choice(table)
                data, mode = mutated(rng, method, path)
                status = send(addr, data, mode)
                statuses[status] = statuses.get(status, 0) + 1
                assert status is None or status < 500, (status, data[:300])
            assert s.proc.poll() is None
            after = c.list_stream_sessions_by_account()["Items"]
            assert [i["Arn"] for i in after] == [i["Arn"] for i in before]
        finally:
            s.stop()
        again = Server(d)
        try:
            got = again.client().get_stream_session(Identifier=group, StreamSessionIdentifier=arn)
            assert got["Arn"] == arn
            assert [i["Arn"] for i in again.client().list_stream_sessions_by_account()["Items"]] == [i["Arn"] for i in before]
        finally:
            again.stop()
        print("mutated requests: %d, statuses %s" % (count, dict(sorted(statuses.items(), key=lambda kv: str(kv[0])))))


def test_a_soak_of_mixed_load_has_no_errors_and_bounded_memory():
    seconds = 600 if LONG else 30
    rng = random.Random(RNG_SEED + 4)
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        try:
            app, group = make_app_and_group(s, s.client())
            ledger = Ledger()
            stop, threads = start_load(s, group, app, ledger, rng, 3)
            samples = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                samples.append(rss_kib(s.proc.pid))
                time.sleep(1)
            stop.set()
            for t in threads:
                t.join(timeout=30)
            assert not ledger.errors, ledger.errors[:3]
            check_ledger(s, group, ledger, wait_timers=False)
            warm = max(samples[: max(len(samples) // 3, 1)])
            last = max(samples[-max(len(samples) // 6, 1):])
            growth = (last - warm) / warm
            print("soak %d s: %d sessions; RSS %d KiB after warm-up, %d KiB at the end (%+.1f %%)"
                  % (seconds, len(ledger.sessions), warm, last, growth * 100))
            if LONG:
                assert growth < 0.10, growth
            assert all(t.is_alive() is False for t in threads)
        finally:
            s.stop()
