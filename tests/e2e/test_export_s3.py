"""`--s3-endpoint`: export archives are uploaded with the official S3 SDK to a real S3 API
server on loopback (moto_server) instead of being written under the data dir."""

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
import pytest

from conftest import Server, session_id, venv_tool
from test_lifecycle import ok_event, setup, start


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def s3():
    port = free_port()
    proc = subprocess.Popen([venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    for _ in range(100):
        try:
            client.list_buckets()
            break
        except Exception:
            time.sleep(0.1)
    yield url, client
    proc.kill()
    proc.wait()


def test_exports_are_uploaded_to_the_s3_endpoint(s3):
    url, client = s3
    client.create_bucket(Bucket="exports-bucket")
    with tempfile.TemporaryDirectory() as d:
        server = Server(d, "--s3-endpoint", url)
        try:
            c, app, group = setup(server)
            good, missing_bucket = start(c, group, app), start(c, group, app)
            server.advance(2)
            for arn in (good, missing_bucket):
                ok_event(server, arn, "clientConnected")
            c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=good,
                                          OutputUri="s3://exports-bucket/sessions/")
            c.export_stream_session_files(Identifier=group, StreamSessionIdentifier=missing_bucket,
                                          OutputUri="s3://no-such-bucket/x.zip")
            for arn in (good, missing_bucket):
                c.terminate_stream_session(Identifier=group, StreamSessionIdentifier=arn)
            server.advance(2)
            meta = c.get_stream_session(Identifier=group, StreamSessionIdentifier=good)["ExportFilesMetadata"]
            assert meta["Status"] == "SUCCEEDED", meta
            key = meta["OutputUri"][len("s3://exports-bucket/"):]
            assert key.startswith("sessions/") and key.endswith(session_id({"Arn": good}) + ".zip")
            body = client.get_object(Bucket="exports-bucket", Key=key)["Body"].read()
            with zipfile.ZipFile(io.BytesIO(body)) as z:
                assert "session.json" in z.namelist()
            assert not os.path.exists(os.path.join(d, "s3")), "nothing written locally"
            failed = c.get_stream_session(Identifier=group, StreamSessionIdentifier=missing_bucket)["ExportFilesMetadata"]
            assert failed["Status"] == "FAILED" and "NoSuchBucket" in failed["StatusReason"]
        finally:
            server.stop()
