"""The pytest plugin of the Python package (python/gameliftstreams_local), from source: what
the example suite (python/examples, run by the test command against the built wheel) does not
show — a failing test shows its server's log, the run-wide options, a server that cannot
start."""

import os
import subprocess
import sys
import textwrap

from conftest import BIN, ROOT


def run_pytest(tmp_path, code, *args, env=None):
    (tmp_path / "test_it.py").write_text(textwrap.dedent(code))
    full_env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python"), "GLS_BIN": BIN, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "gameliftstreams_local.pytest_plugin", *args, str(tmp_path)], capture_output=True,
                          text=True, env=full_env, cwd=tmp_path, timeout=300)


def test_a_failing_test_shows_its_servers_log(tmp_path):
    out = run_pytest(tmp_path, """
        def test_fails(gameliftstreams):
            gameliftstreams.list_stream_groups()
            assert False, "on purpose"
    """, env={"GLS_LOG": "info"})
    assert out.returncode == 1, out.stdout
    teardown = out.stdout.split("Captured stderr teardown", 1)[1]
    assert "gameliftstreams-local started" in teardown
    assert 'operation="ListStreamGroups"' in teardown  # the request, logged at GLS_LOG=info


def test_run_wide_options_and_the_marker_over_them(tmp_path):
    code = """
        import pytest

        def test_run_wide(gameliftstreams_server):
            settings = gameliftstreams_server.health()["settings"]
            assert (settings["clock"], settings["timing"]) == ("system", "realistic")

        @pytest.mark.gameliftstreams(clock="frozen")
        def test_marker(gameliftstreams_server):
            assert gameliftstreams_server.health()["settings"]["clock"] == "frozen"
    """
    out = run_pytest(tmp_path, code, "--gameliftstreams-clock", "system", "--gameliftstreams-timing", "realistic")
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout + out.stderr
    (tmp_path / "pytest.ini").write_text("[pytest]\ngameliftstreams_clock = system\ngameliftstreams_timing = realistic\n")
    out = run_pytest(tmp_path, code)
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout + out.stderr


def test_a_server_that_cannot_start_says_why(tmp_path):
    out = run_pytest(tmp_path, """
        import pytest
        from gameliftstreams_local import Server

        def test_bad_option():
            with pytest.raises(RuntimeError) as e:
                Server(options={"cors_origin": "not an origin"}).start()
            assert "not an origin" in str(e.value)
    """)
    assert out.returncode == 0, out.stdout + out.stderr


def test_servers_start_on_a_copy_of_a_data_dir(tmp_path):
    world = tmp_path / "world"
    subprocess.run([BIN, "seed", "--data-dir", str(world), "--sessions", "40"], capture_output=True, check=True)
    code = """
        import pytest
        from gameliftstreams_local import Server

        def test_a_copy(gameliftstreams, gameliftstreams_server):
            assert len(gameliftstreams.list_stream_sessions_by_account(MaxResults=100)["Items"]) == 40
            assert gameliftstreams_server.data_from and gameliftstreams_server.data_dir != gameliftstreams_server.data_from
            gameliftstreams_server.reset()  # changes the copy only

        def test_another_copy(gameliftstreams):
            assert len(gameliftstreams.list_stream_sessions_by_account(MaxResults=100)["Items"]) == 40

        @pytest.mark.gameliftstreams(data_from=None)
        def test_the_marker_over_it(gameliftstreams):
            assert gameliftstreams.list_stream_sessions_by_account()["Items"] == []

        def test_not_a_data_dir(tmp_path):
            with pytest.raises(FileNotFoundError):
                Server(data_from=str(tmp_path)).start()
    """
    out = run_pytest(tmp_path, code, "--gameliftstreams-data-from", "world")
    assert out.returncode == 0 and "4 passed" in out.stdout, out.stdout + out.stderr
    (tmp_path / "pytest.ini").write_text("[pytest]\ngameliftstreams_data_from = world\n")
    out = run_pytest(tmp_path, code)
    assert out.returncode == 0 and "4 passed" in out.stdout, out.stdout + out.stderr
