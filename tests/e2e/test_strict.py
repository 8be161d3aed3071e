"""Strict mode (`--credentials FILE`): every AWS route and the admin API need a valid SigV4
signature from a configured key; failures answer with AWS's codes and statuses."""

import datetime
import json
import os
import tempfile
import urllib.error
import urllib.request

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import Server
from test_conformance import OPERATIONS, call, cases_for

KEYS = [("AKIAEXAMPLE1", "secret-one", "123456789012"), ("AKIAEXAMPLE2", "secret-two", "210987654321")]
AUTH_CODES = {"InvalidSignatureException", "UnrecognizedClientException", "IncompleteSignatureException",
              "MissingAuthenticationTokenException"}


def credentials_file(d, extra=""):
    """A credentials file in `d` with the KEYS (and `extra` TOML); its path."""
    path = os.path.join(d, "credentials.toml")
    with open(path, "w") as f:
        for akid, secret, account in KEYS:
            f.write('[[credentials]]\naccess_key_id = "%s"\nsecret_access_key = "%s"\naccount_id = "%s"\n\n'
                    % (akid, secret, account))
        f.write(extra)
    return path


@pytest.fixture(scope="module")
def strict():
    with tempfile.TemporaryDirectory() as d:
        s = Server(os.path.join(d, "data"), "--credentials", credentials_file(d))
        yield s
        s.stop()


def client(server, key=KEYS[0][0], secret=KEYS[0][1], region="us-west-2"):
    c = server.client(access_key=key, region=region)
    c._request_signer._credentials = Credentials(key, secret)
    return c


def code_of(fn, *a, **kw):
    try:
        fn(*a, **kw)
        return None
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def signed_request(server, method, path, body=b"", key=KEYS[0][0], secret=KEYS[0][1], region="us-west-2"):
    req = AWSRequest(method=method, url=server.url + path, data=body,
                     headers={"Content-Type": "application/json"} if body else {})
    SigV4Auth(Credentials(key, secret), "gameliftstreams", region).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body or None, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_right_keys_work_for_every_operation(strict):
    c = client(strict)
    for op in OPERATIONS:
        code = call(c, op, cases_for(op)[0])
        assert code not in AUTH_CODES, (op, code)
    app = c.create_application(Description="Strict", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
                               ExecutablePath="Game.exe", ApplicationSourceUri="s3://bucket/game/")
    assert app["Arn"].split(":")[4] == "123456789012", "the account comes from the credentials file"
    other = client(strict, *KEYS[1][:2])
    assert other.list_applications()["Items"] == [] or all(
        i["Arn"].split(":")[4] == "210987654321" for i in other.list_applications()["Items"])


def test_wrong_secret_unknown_key_and_missing_signature(strict):
    assert code_of(client(strict, secret="wrong").list_applications) == ("InvalidSignatureException", 403)
    assert code_of(client(strict, key="AKIAUNKNOWN").list_applications) == ("UnrecognizedClientException", 403)
    req = urllib.request.Request(strict.url + "/applications")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403 and e.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    req = urllib.request.Request(strict.url + "/applications", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400 and e.value.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def tamper(c, event, fn):
    c.meta.events.register(event, fn)
    return c


def test_tampered_body_and_query_are_rejected(strict):
    def body(request, **kw):
        request.body = request.body.replace(b"Tampered", b"Tampere0")
    c = tamper(client(strict), "before-send.gameliftstreams.CreateApplication", body)
    assert code_of(c.create_application, Description="Tampered", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
                   ExecutablePath="Game.exe", ApplicationSourceUri="s3://bucket/game/") == ("InvalidSignatureException", 403)

    def query(request, **kw):
        request.url = request.url.replace("MaxResults=5", "MaxResults=6")
    c = tamper(client(strict), "before-send.gameliftstreams.ListApplications", query)
    assert code_of(c.list_applications, MaxResults=5) == ("InvalidSignatureException", 403)


def test_a_signature_from_20_minutes_ago_is_expired(strict, monkeypatch):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=20))
    e = code_of(client(strict).list_applications)
    assert e == ("InvalidSignatureException", 403)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=10))
    assert code_of(client(strict).list_applications) is None, "inside the 15-minute window"


def test_advancing_the_service_clock_does_not_lock_clients_out(strict):
    status, _ = signed_request(strict, "POST", "/_local/clock", json.dumps({"advanceSeconds": 7200}).encode())
    assert status == 200
    assert code_of(client(strict).list_applications) is None


def test_admin_api_needs_a_signature_except_health(strict):
    with urllib.request.urlopen(strict.url + "/_local/health") as r:
        assert r.status == 200
    req = urllib.request.Request(strict.url + "/_local/clock")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    status, body = signed_request(strict, "GET", "/_local/clock")
    assert status == 200 and "now" in json.loads(body)
    status, _ = signed_request(strict, "GET", "/_local/clock", secret="wrong")
    assert status == 403
    # Faults injected by a signed caller land in that caller's account.
    status, _ = signed_request(strict, "POST", "/_local/faults", json.dumps(
        {"target": "operation", "operation": "ListStreamGroups", "error": "ThrottlingException", "count": 1}).encode(),
        key=KEYS[1][0], secret=KEYS[1][1])
    assert status == 200
    assert code_of(client(strict).list_stream_groups) is None
    assert code_of(client(strict, *KEYS[1][:2]).list_stream_groups) == ("ThrottlingException", 429)


def test_the_dashboard_page_is_open_its_reads_are_signed_and_scoped(strict):
    for path, kind in [("/", "text/html"), ("/_local/ui", "text/html"), ("/_local/ui/app.js", "text/javascript"),
                       ("/_local/ui/app.css", "text/css")]:
        with urllib.request.urlopen(strict.url + path) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith(kind)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(strict.url + "/_local/partitions")
    assert e.value.code == 403
    client(strict).list_stream_groups()  # the signer's partition exists
    client(strict, *KEYS[1][:2]).list_stream_groups()
    status, body = signed_request(strict, "GET", "/_local/partitions")
    assert status == 200
    assert json.loads(body)["partitions"] == [{"account": KEYS[0][2], "region": "us-west-2"}]
    status, body = signed_request(strict, "GET", "/_local/counts?account=%s&region=us-west-2" % KEYS[0][2])
    assert status == 200 and json.loads(body)["account"] == KEYS[0][2]
    status, _ = signed_request(strict, "GET", "/_local/counts?account=%s&region=us-west-2" % KEYS[1][2])
    assert status == 403


def test_faults_are_listed_and_cleared_per_key(strict):
    body = json.dumps({"target": "operation", "operation": "ListApplications", "error": "InternalServerException",
                       "count": 5}).encode()
    assert signed_request(strict, "POST", "/_local/faults", body)[0] == 200
    assert signed_request(strict, "POST", "/_local/faults", body, key=KEYS[1][0], secret=KEYS[1][1])[0] == 200
    status, listed = signed_request(strict, "GET", "/_local/faults", key=KEYS[1][0], secret=KEYS[1][1])
    assert status == 200
    assert [(f["account"], f["operation"]) for f in json.loads(listed)["faults"]] == [(KEYS[1][2], "ListApplications")]
    assert signed_request(strict, "DELETE", "/_local/faults", key=KEYS[1][0], secret=KEYS[1][1])[0] == 200
    assert json.loads(signed_request(strict, "GET", "/_local/faults", key=KEYS[1][0], secret=KEYS[1][1])[1])["faults"] == []
    # The other key's fault is still there, and strikes.
    assert [f["account"] for f in json.loads(signed_request(strict, "GET", "/_local/faults")[1])["faults"]] == [KEYS[0][2]]
    assert code_of(client(strict).list_applications) == ("InternalServerException", 500)
    assert signed_request(strict, "DELETE", "/_local/faults")[0] == 200
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(strict.url + "/_local/faults", method="DELETE"))
    assert e.value.code == 403


def owned_session(strict, signal_request):
    """A placed session of the first key's account: (client, group, session)."""
    c = client(strict)
    app = c.create_application(Description="Owned", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
                               ExecutablePath="Game.exe", ApplicationSourceUri="s3://bucket/game/")
    assert signed_request(strict, "POST", "/_local/clock", json.dumps({"advanceSeconds": 2}).encode())[0] == 200
    g = c.create_stream_group(Description="Owned", StreamClass="gen5n_ultra", DefaultApplicationIdentifier=app["Id"],
                              LocationConfigurations=[{"LocationName": "us-west-2", "AlwaysOnCapacity": 1}])
    assert signed_request(strict, "POST", "/_local/clock", json.dumps({"advanceSeconds": 1}).encode())[0] == 200
    s = c.start_stream_session(Identifier=g["Id"], ApplicationIdentifier=app["Id"], Protocol="WebRTC",
                               SignalRequest=signal_request)
    assert signed_request(strict, "POST", "/_local/clock", json.dumps({"advanceSeconds": 2}).encode())[0] == 200
    return c, g, s


def test_admin_events_reach_only_the_signers_resources(strict):
    c, g, s = owned_session(strict, "o")
    path = "/_local/sessions/%s/events" % urllib.request.quote(s["Arn"], safe="")
    body = json.dumps({"event": "clientConnected"}).encode()
    assert signed_request(strict, "POST", path, body, key=KEYS[1][0], secret=KEYS[1][1])[0] == 404
    status, _ = signed_request(strict, "POST", "/_local/faults", json.dumps(
        {"target": "location", "streamGroup": g["Id"], "location": "us-west-2"}).encode(), key=KEYS[1][0], secret=KEYS[1][1])
    assert status == 404
    assert signed_request(strict, "POST", path, body)[0] == 200
    assert c.get_stream_session(Identifier=g["Id"], StreamSessionIdentifier=s["Arn"])["Status"] == "CONNECTED"


def test_presigned_urls(strict, monkeypatch):
    c = client(strict)
    url = c.generate_presigned_url("list_applications", Params={"MaxResults": 5}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url) as r:
        assert r.status == 200 and "Items" in json.loads(r.read())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace("MaxResults=5", "MaxResults=6"))
    assert e.value.code == 403 and e.value.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=20))
    old = client(strict).generate_presigned_url("list_applications", Params={"MaxResults": 5}, ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(old)
    assert e.value.code == 403 and "expired" in json.loads(e.value.read())["message"]
    wrong = client(strict, secret="nope").generate_presigned_url("list_applications", ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(wrong.replace("nope", ""))
    assert e.value.code == 403


def unsigned(server, method, path, body=None):
    r = urllib.request.Request(server.url + path, data=body, method=method)
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def test_the_play_page_is_for_signed_requests_and_its_token_connects(strict):
    c, g, s = owned_session(strict, "NO_CLIENT_CONNECTION")
    session = s["Arn"].rsplit("/", 1)[1]
    play = "/_local/play/" + session

    # The page: not unsigned, not for another account; a presigned URL (what a browser can open) works.
    assert unsigned(strict, "GET", play)[0] == 403
    assert signed_request(strict, "GET", play, key=KEYS[1][0], secret=KEYS[1][1])[0] == 404
    req = AWSRequest(method="GET", url=strict.url + play)
    botocore.auth.SigV4QueryAuth(Credentials(*KEYS[0][:2]), "gameliftstreams", "us-west-2", expires=300).add_auth(req)
    status, html, _ = unsigned(strict, "GET", req.prepare().url[len(strict.url):])
    assert status == 200
    token = html.split("/connect?token=", 1)[1].split('"', 1)[0]
    assert len(token) >= 32

    # Its connect request: the page's token or a signature; nothing else.
    body = json.dumps({"signalRequest": "NO_CLIENT_CONNECTION"}).encode()
    assert unsigned(strict, "POST", play + "/connect", body)[0] == 403
    assert unsigned(strict, "POST", play + "/connect?token=" + "0" * len(token), body)[0] == 403
    status, text, _ = unsigned(strict, "POST", play + "/connect?token=" + token, body)
    assert status == 200, text
    assert "signalResponse" in json.loads(text)

    # The protocol script stays open, as AWS's is, with CORS for the game's own origin.
    url = c.get_stream_session(Identifier=g["Id"], StreamSessionIdentifier=s["Arn"]).get("WebSdkProtocolUrl")
    path = url[len(strict.url):] if url else "/_local/webrtc/x.js"
    status, script, headers = unsigned(strict, "GET", path)
    assert status == 200 and "GameCastInputModule" in script
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_a_reset_empties_only_the_signers_account_and_region_unless_the_key_is_admin():
    with tempfile.TemporaryDirectory() as d:
        admin = '[[credentials]]\naccess_key_id = "AKIAADMIN"\nsecret_access_key = "root"\n' \
                'account_id = "999999999999"\nadmin = true\n'
        s = Server(os.path.join(d, "data"), "--credentials", credentials_file(d, admin))
        try:
            def app(key, secret, region):
                c = client(s, key, secret, region)
                c.create_application(Description="Kept or not", RuntimeEnvironment={"Type": "PROTON", "Version": "20241007"},
                                     ExecutablePath="Game.exe", ApplicationSourceUri="s3://bucket/game/")
                return c
            one_west = app(KEYS[0][0], KEYS[0][1], "us-west-2")
            one_east = app(KEYS[0][0], KEYS[0][1], "us-east-1")
            two_west = app(KEYS[1][0], KEYS[1][1], "us-west-2")

            status, body = signed_request(s, "POST", "/_local/reset", key=KEYS[1][0], secret=KEYS[1][1])
            assert status == 200
            assert json.loads(body) == {"status": "reset", "account": KEYS[1][2], "region": "us-west-2"}
            assert two_west.list_applications()["Items"] == []
            assert len(one_west.list_applications()["Items"]) == 1
            assert len(one_east.list_applications()["Items"]) == 1

            status, _ = signed_request(s, "POST", "/_local/reset", region="us-east-1")
            assert status == 200
            assert one_east.list_applications()["Items"] == []
            assert len(one_west.list_applications()["Items"]) == 1

            status, body = signed_request(s, "POST", "/_local/reset", key="AKIAADMIN", secret="root")
            assert status == 200 and json.loads(body) == {"status": "reset"}
            assert one_west.list_applications()["Items"] == []
        finally:
            s.stop()
