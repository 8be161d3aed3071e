"""A local Amazon GameLift Streams for tests: start the ``gameliftstreams-local`` server that
this package installs, point boto3 at it, and drive what AWS would do on its own (time, client
connections, failures) through its admin API.

>>> with Server() as server:                      # a fresh server, frozen clock, temp data dir
...     client = server.client()                  # boto3 GameLift Streams client bound to it
...     client.list_stream_groups()["Items"]
[]

The pytest plugin (loaded by pytest on its own once the package is installed) gives the same as
fixtures: ``gameliftstreams_server`` and ``gameliftstreams``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sysconfig
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

__all__ = ["AdminError", "Credential", "Server", "binary"]

BINARY_NAME = "gameliftstreams-local"

#: The account of an access key that is not 12 digits (the server's default mode).
DEFAULT_ACCOUNT = "111122223333"


def binary() -> str:
    """The server binary: ``$GLS_BIN`` when set, else the one this package installed beside the
    Python interpreter's scripts, else the first on ``PATH``."""
    explicit = os.environ.get("GLS_BIN")
    if explicit:
        return explicit
    beside = os.path.join(sysconfig.get_path("scripts"), BINARY_NAME)
    if os.path.exists(beside):
        return beside
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    raise FileNotFoundError(
        "%s is not installed: pip install gameliftstreams-local (or set GLS_BIN)" % BINARY_NAME)


class AdminError(Exception):
    """An admin API request that the server refused: its HTTP status and JSON body."""

    def __init__(self, status: int, body: Any, path: str) -> None:
        super().__init__("%s answered %d: %s" % (path, status, body))
        self.status = status
        self.body = body
        self.path = path


class Credential:
    """A key of strict mode (``--credentials``): the signer's access key, secret and account."""

    def __init__(self, access_key_id: str, secret_access_key: str, account_id: str, admin: bool = False) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.account_id = account_id
        self.admin = admin

    def toml(self) -> str:
        lines = ["[[credentials]]", "access_key_id = %s" % json.dumps(self.access_key_id),
                 "secret_access_key = %s" % json.dumps(self.secret_access_key),
                 "account_id = %s" % json.dumps(self.account_id)]
        if self.admin:
            lines.append("admin = true")
        return "\n".join(lines) + "\n"


Options = Union[str, int, bool, None]


class Server:
    """One ``gameliftstreams-local serve`` process on a free port of 127.0.0.1.

    :param data_dir: where state is kept; default a new temporary directory, deleted on stop
        (a given one is kept).
    :param clock: ``"frozen"`` (service time moves only through :meth:`advance`) or ``"system"``.
    :param timing: ``"fast"`` (waiters succeed at once) or ``"realistic"``.
    :param quotas: ``"generous"`` or ``"realistic"`` (a new AWS account's).
    :param credentials: keys for strict mode (every request must be SigV4-signed by one of them);
        ``None``: default mode, any credentials.
    :param options: any other ``serve`` flag by name, e.g. ``{"session_placed_ms": 5000,
        "throttle": True}`` (``True`` for a bare flag, ``None`` or ``False`` leaves it out).
    :param binary_path: the server binary (default :func:`binary`).
    :param data_from: a data dir to start from: it is copied into the server's data dir (which
        must not exist yet) before the server starts, so that every test gets the same world
        and changes none. Make one with ``gameliftstreams-local seed --data-dir DIR ...`` or by
        running ``serve --data-dir DIR --demo`` once; no server may be using it while it is
        copied.
    """

    def __init__(self, data_dir: Optional[str] = None, *, clock: str = "frozen", timing: str = "fast",
                 quotas: str = "generous", credentials: Optional[Sequence[Credential]] = None,
                 options: Optional[Mapping[str, Options]] = None, binary_path: Optional[str] = None,
                 data_from: Optional[str] = None) -> None:
        # The server's log, the strict-mode key file and (by default) the data dir live in a
        # directory of this server's own, deleted on stop.
        self._work: Optional["tempfile.TemporaryDirectory[str]"] = tempfile.TemporaryDirectory(prefix="gameliftstreams-")
        if data_dir is None:
            data_dir = os.path.join(self._work.name, "data")
        self.data_dir = data_dir
        self.credentials = list(credentials or [])
        self.url = ""
        self.streaming = ""
        self.log_path = os.path.join(self._work.name, "server.log")
        args = [binary_path or binary(), "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                "--clock", clock, "--timing", timing, "--quotas", quotas]
        if self.credentials:
            path = os.path.join(self._work.name, "credentials.toml")
            with open(path, "w") as f:
                f.write("\n".join(c.toml() for c in self.credentials))
            args += ["--credentials", path]
        for name, value in (options or {}).items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is not None and value is not False:
                args += [flag, str(value)]
        self._args = args
        self.data_from = data_from
        self._proc: Optional["subprocess.Popen[str]"] = None

    def start(self) -> "Server":
        """Start the process and wait until it listens."""
        if self.data_from is not None:
            if os.path.exists(self.data_dir):
                raise FileExistsError("data_from copies into a new data dir; %s exists" % self.data_dir)
            if not os.path.isfile(os.path.join(self.data_from, "state.db")):
                raise FileNotFoundError("%s is not a gameliftstreams-local data dir (no state.db)" % self.data_from)
            # The lock file names the process that held the source; the copy gets its own.
            shutil.copytree(self.data_from, self.data_dir, ignore=shutil.ignore_patterns("lock"))
        log = open(self.log_path, "ab")
        try:
            self._proc = subprocess.Popen(self._args, stdout=subprocess.PIPE, stderr=log, text=True)
        finally:
            log.close()
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        if not first.startswith("listening on "):
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            raise RuntimeError("gameliftstreams-local did not start: %s" % (self.log().strip() or first))
        self.url = first.split()[-1]
        second = self._proc.stdout.readline()
        if second.startswith("streaming on "):
            self.streaming = second.split()[-1]
        return self

    def log(self) -> str:
        """What the server wrote to stderr so far (warnings, its start-up line; every request
        when started with ``GLS_LOG=info`` in the environment)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop gracefully (SIGTERM; SIGKILL after 10 s), then delete the server's own
        directory (its log, and the data dir unless one was given)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None
        if self._work is not None:
            self._work.cleanup()
            self._work = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Clients

    def client(self, service: str = "gameliftstreams", *, region: str = "us-west-2",
               access_key: Optional[str] = None, secret_key: Optional[str] = None, **config: Any) -> Any:
        """A boto3 client of this server (the first strict-mode key when there are keys). Extra
        keyword arguments go to ``botocore.config.Config`` (default: one attempt, no retries)."""
        import boto3
        from botocore.config import Config

        if access_key is None:
            key = self.credentials[0] if self.credentials else None
            access_key = key.access_key_id if key else "AKIDEXAMPLE"
            secret_key = secret_key or (key.secret_access_key if key else "secret")
        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        return boto3.client(service, endpoint_url=self.url, region_name=region, aws_access_key_id=access_key,
                            aws_secret_access_key=secret_key or "secret", config=Config(**config))

    # The admin API

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One admin request; the JSON answer, or :class:`AdminError` for a status >= 400. In
        strict mode the request is signed with the first key."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.credentials:
            headers = self._signed(method, path, data, headers)
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise AdminError(e.code, parsed, path) from None
        return json.loads(raw) if raw else {}

    def _signed(self, method: str, path: str, data: Optional[bytes], headers: Dict[str, str]) -> Dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        key = self.credentials[0]
        req = AWSRequest(method=method, url=self.url + path, data=data or b"", headers=headers)
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "gameliftstreams", "us-west-2").add_auth(req)
        return dict(req.headers.items())

    def health(self) -> Dict[str, Any]:
        """``GET /_local/health``: version, clock, effective settings."""
        return dict(self.request("GET", "/_local/health"))

    def now(self) -> float:
        """Service time, epoch seconds."""
        return float(self.request("GET", "/_local/clock")["now"])

    def advance(self, seconds: int) -> float:
        """Move service time forward; every timer that falls due fires, in order. The new time."""
        return float(self.request("POST", "/_local/clock", {"advanceSeconds": int(seconds)})["now"])

    def event(self, session: str, event: str, exit_code: Optional[int] = None) -> Dict[str, Any]:
        """What a client or the game would cause: ``"clientConnected"``, ``"clientDisconnected"``,
        ``"userInput"`` or ``"applicationExited"`` (with ``exit_code``). ``session``: ID or ARN."""
        body: Dict[str, Any] = {"event": event}
        if exit_code is not None:
            body["exitCode"] = exit_code
        return dict(self.request("POST", "/_local/sessions/%s/events" % _segment(session), body))

    def fault(self, target: str, **fields: Any) -> str:
        """Inject one failure (``target``: operation, session, export, location or placement;
        fields in the admin API's camelCase or as snake_case). Its fault id."""
        body = {"target": target}
        body.update({_camel(k): v for k, v in fields.items()})
        return str(self.request("POST", "/_local/faults", body)["faultId"])

    def faults(self) -> List[Dict[str, Any]]:
        """The injected failures still pending."""
        return list(self.request("GET", "/_local/faults")["faults"])

    def clear_faults(self) -> None:
        """Forget every pending injected failure."""
        self.request("DELETE", "/_local/faults")

    def messages(self, session: str) -> List[bytes]:
        """The application messages the session's page sent, oldest first."""
        got = self.request("GET", "/_local/sessions/%s/messages" % _segment(session))
        return [base64.b64decode(m["data"]) for m in got.get("messages", [])]

    def send_message(self, session: str, data: bytes) -> None:
        """Send an application message to the session's connected page."""
        self.request("POST", "/_local/sessions/%s/messages" % _segment(session),
                     {"data": base64.b64encode(data).decode()})

    def reset(self) -> None:
        """Empty the store, forget injected faults and set the clock back to wall time."""
        self.request("POST", "/_local/reset")

    def metrics(self) -> str:
        """``GET /_local/metrics``: the Prometheus text format."""
        with urllib.request.urlopen(self.url + "/_local/metrics", timeout=60) as r:
            raw: bytes = r.read()
        return raw.decode()


def _segment(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)
