"""The README's examples, pasted as a newcomer would: the pytest example through the plugin,
the boto3 example and the AWS CLI example against a fresh server."""

import os
import subprocess
import sys
import tempfile

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
