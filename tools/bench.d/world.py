"""Set up the write benchmark's stream group on a running server (plain HTTP, stdlib only).

Usage: world.py URL CAPACITY [QUEUED IDS_FILE]
Creates an application and a stream group with CAPACITY always-on slots in us-west-2 and
waits until both are ready. With QUEUED, starts CAPACITY + QUEUED sessions (the first
CAPACITY take the slots, the others wait for capacity) and writes their ids, oldest first,
to IDS_FILE. Prints "APP GROUP". With FROZEN=1 in the environment (a server run with --clock frozen), the
waits move the server's clock on (POST /_local/clock) instead of sleeping.
"""
import http.client
import json
import os
import sys
import time
from urllib.parse import urlparse


def main():
    url, capacity = urlparse(sys.argv[1]), int(sys.argv[2])
    queued = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    conn = http.client.HTTPConnection(url.hostname, url.port)
    frozen = os.environ.get("FROZEN") == "1"

    def call(method, path, body=None):
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def wait(path, status):
        for _ in range(600):
            if call("GET", path).get("Status") == status:
                return
            if frozen:
                call("POST", "/_local/clock", {"advanceSeconds": 5})
            else:
                time.sleep(0.05)
        raise SystemExit(f"{path} never became {status}")

    app = call("POST", "/applications", {
        "Description": "bench", "RuntimeEnvironment": {"Type": "PROTON", "Version": "20241007"},
        "ExecutablePath": "game/game.exe", "ApplicationSourceUri": "s3://bench-bucket/game/"})["Id"]
    wait(f"/applications/{app}", "READY")
    group = call("POST", "/streamgroups", {
        "Description": "bench", "StreamClass": "gen5n_ultra", "DefaultApplicationIdentifier": app,
        "LocationConfigurations": [{"LocationName": "us-west-2", "AlwaysOnCapacity": capacity,
                                    "MaximumCapacity": capacity}]})["Id"]
    wait(f"/streamgroups/{group}", "ACTIVE")
    if queued:
        with open(sys.argv[4], "w") as out:
            for i in range(capacity + queued):
                s = call("POST", f"/streamgroups/{group}/streamsessions", {
                    "Protocol": "WebRTC", "SignalRequest": "NO_CLIENT_CONNECTION",
                    "ApplicationIdentifier": app, "ClientToken": "bench-setup-%026d" % i})
                out.write(s["Arn"].rsplit("/", 1)[1] + "\n")
    print(app, group)


main()
