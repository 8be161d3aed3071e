"""Reliability: signals, slow and stuck clients, connection bounds, oversized requests in the
AWS error shape, and one process per data dir. Each test is a defect found from outside."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, Server, store_args


def addr(server):
    host, port = server.url.split("//")[1].split(":")
    return host, int(port)


def connect(server):
    s = socket.create_connection(addr(server), timeout=5)
    s.settimeout(5)
    return s


def read_response(sock, limit=5.0):
    """Read one whole response (headers and Content-Length body): (status, headers, body)."""
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    want = int(headers.get("content-length", "0"))
    while len(body) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def closed_within(sock, seconds):
    """Whether the server closes the connection within `seconds` (reads until EOF)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def aws_error(status, headers, body, code):
    assert headers.get("x-amzn-errortype") == code, (status, headers, body)
    assert headers.get("content-type") == "application/json"
    assert json.loads(body)["message"]


def stop_with(server, sig):
    """Send `sig`; return (exit code, seconds until exit, stdout after the ready lines)."""
    t0 = time.monotonic()
    server.proc.send_signal(sig)
    code = server.proc.wait(timeout=20)
    took = time.monotonic() - t0
    return code, took, server.proc.stdout.read()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_with_a_stuck_client_exits_0_at_once(sig):
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        stuck = connect(s)
        stuck.sendall(b"GET /streamsessions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        time.sleep(0.2)
        code, took, out = stop_with(s, sig)
        assert code == 0
        assert took < 3, took
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        assert "shutting down (%s)" % name in out and out.rstrip().endswith("stopped"), out
        stuck.close()


def test_a_request_in_flight_at_sigterm_is_answered_and_durable():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        body = json.dumps({"Description": "Made during shutdown", "RuntimeEnvironment": {"Type": "PROTON", "Version": "20241007"},
                           "ExecutablePath": "Game.exe", "ApplicationSourceUri": "s3://bucket/game/"}).encode()
        sock = connect(s)
        sock.sendall(b"POST /applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert s.proc.poll() is None, "the server left before the request in flight was answered"
        sock.sendall(body[10:])
        status, _, answer = read_response(sock)
        assert status == 201, answer
        arn = json.loads(answer)["Arn"]
        assert s.proc.wait(timeout=10) == 0
        again = Server(d)
        try:
            got = again.client().get_application(Identifier=arn)
            assert got["Description"] == "Made during shutdown"
        finally:
            again.stop()


def test_headers_must_arrive_in_time_and_idle_connections_close():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--header-read-timeout-ms", "400")
        try:
            half = connect(s)
            half.sendall(b"GET /streamsessions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            assert closed_within(half, 3)
            idle = connect(s)
            idle.sendall(b"GET /_local/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(idle)[0] == 200
            assert closed_within(idle, 3), "a kept-alive connection stays only as long as the header timeout"
            # The server still serves.
            assert s.admin("GET", "/_local/health")["status"] == "ok"
        finally:
            s.stop()


def test_a_body_that_does_not_arrive_is_a_408_in_the_aws_shape():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--body-read-timeout-ms", "300")
        try:
            sock = connect(s)
            sock.sendall(b"POST /applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"Desc")
            status, headers, body = read_response(sock)
            assert status == 408
            aws_error(status, headers, body, "RequestTimeoutException")
            assert headers.get("connection") == "close"
        finally:
            s.stop()


def closed(sock, within=3.0):
    """Whether the server closed `sock` (it reads end of stream) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True


def test_at_the_bound_idle_connections_make_room_and_busy_ones_refuse_in_the_aws_shape():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--max-connections", "2")
        try:
            # Two connections that send nothing: the longest idle makes room for a third.
            held = [connect(s), connect(s)]
            time.sleep(0.2)
            third = connect(s)
            third.sendall(b"GET /_local/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = read_response(third)
            assert status == 200
            assert closed(held[0]), "the oldest idle connection was closed"
            for c in held + [third]:
                c.close()
            time.sleep(0.3)
            # Two connections with a request in flight (a body still coming): the third is
            # refused, in the AWS shape.
            busy = [connect(s), connect(s)]
            for b in busy:
                b.sendall(b"POST /applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{\"Desc")
            time.sleep(0.3)
            fourth = connect(s)
            fourth.sendall(b"GET /_local/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = read_response(fourth)
            assert status == 503
            aws_error(status, headers, body, "ServiceUnavailableException")
            assert not closed(busy[0], 0.5) and not closed(busy[1], 0.1), "requests in flight are kept"
            for b in busy:
                b.close()
            time.sleep(0.3)
            assert s.admin("GET", "/_local/health")["status"] == "ok"
        finally:
            s.stop()


def test_slow_and_idle_connections_do_not_shut_clients_out():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, "--max-connections", "50")
        try:
            # More connections than the bound, each still sending its headers (slowloris).
            slow = []
            for _ in range(60):
                c = connect(s)
                c.sendall(b"GET /applications HTTP/1.1\r\nHost: x\r\n")
                slow.append(c)
            time.sleep(0.3)
            client = s.client()
            for _ in range(5):
                assert client.list_applications()["Items"] == []
            gone = sum(closed(c, 0.05) for c in slow)
            assert gone >= 10, gone
            for c in slow:
                c.close()
        finally:
            s.stop()


def raw(server, request):
    sock = connect(server)
    sock.sendall(request)
    try:
        return read_response(sock)
    finally:
        sock.close()


def test_oversized_targets_headers_and_bodies_answer_in_the_aws_shape(server):
    status, headers, body = raw(server, b"POST /applications HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (3 << 20))
    assert status == 413
    aws_error(status, headers, body, "RequestEntityTooLargeException")
    # The same without a declared length: the body is read up to the limit, then refused.
    chunk = b"x" * (1 << 20)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    status, headers, body = raw(server, b"POST /applications HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert status == 413
    aws_error(status, headers, body, "RequestEntityTooLargeException")
    status, headers, body = raw(server, b"GET /applications?x=" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414
    aws_error(status, headers, body, "RequestURITooLongException")
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(300))
    status, headers, body = raw(server, b"GET /applications HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431
    aws_error(status, headers, body, "RequestHeaderFieldsTooLargeException")
    big = b"X-Big: " + b"v" * 70000 + b"\r\n"
    status, headers, body = raw(server, b"GET /applications HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert status == 431
    aws_error(status, headers, body, "RequestHeaderFieldsTooLargeException")
    assert server.client().list_applications()["Items"] is not None


def test_strict_mode_refuses_an_unsigned_request_before_reading_its_body():
    with tempfile.TemporaryDirectory() as d:
        creds = os.path.join(d, "credentials.toml")
        with open(creds, "w") as f:
            f.write('[[credentials]]\naccess_key_id = "AKIAONE"\nsecret_access_key = "s"\naccount_id = "111111111111"\n')
        s = Server(os.path.join(d, "data"), "--credentials", creds)
        try:
            sock = connect(s)
            # Declares 1.5 MiB (under the body limit) and sends none of it: the answer must not wait.
            sock.sendall(b"POST /applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % (3 << 19))
            status, headers, body = read_response(sock, limit=3)
            assert status == 403
            aws_error(status, headers, body, "MissingAuthenticationTokenException")
        finally:
            s.stop()


def test_one_process_per_data_dir():
    with tempfile.TemporaryDirectory() as d:
        s = Server(d)
        try:
            second = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", d],
                                    capture_output=True, text=True, timeout=20)
            assert second.returncode != 0
            assert "is in use by process %d" % s.proc.pid in second.stderr, second.stderr
            seed = subprocess.run([BIN, "seed", "--data-dir", d, "--sessions", "10", *store_args(d)],
                                  capture_output=True, text=True, timeout=20)
            assert seed.returncode != 0
            assert "is in use by process %d" % s.proc.pid in seed.stderr, seed.stderr
            assert s.admin("GET", "/_local/health")["status"] == "ok"
        finally:
            s.stop()
        # Once the holder is gone (even by SIGKILL), the data dir is free again.
        again = Server(d)
        again.stop()
