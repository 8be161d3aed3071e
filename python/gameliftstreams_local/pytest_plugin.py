"""pytest fixtures for a local Amazon GameLift Streams, registered through the ``pytest11``
entry point: installing the package is all a test suite needs.

- ``gameliftstreams_server``: a fresh :class:`gameliftstreams_local.Server` for the test (its
  own port and temporary data dir, frozen clock), stopped at teardown.
- ``gameliftstreams``: a boto3 GameLift Streams client bound to it.
- ``gameliftstreams_server_factory``: start more servers, each with its own options.

When a test fails, the log of each of its servers is shown with the failure.

Options per test with the marker::

    @pytest.mark.gameliftstreams(clock="system", timing="realistic", quotas="realistic",
                                 options={"session_placed_ms": 5000})

or for the whole run with ``--gameliftstreams-clock``, ``--gameliftstreams-timing`` and
``--gameliftstreams-quotas`` (also as ini options of the same names without the dashes).

``--gameliftstreams-data-from DIR`` (ini ``gameliftstreams_data_from``, marker
``data_from=``) starts every server on a copy of the data dir DIR, e.g. one made by
``gameliftstreams-local seed``: each test gets the same world and changes nothing in DIR.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, Generator, Iterator, List

import pytest

from . import Server

_CHOICES = {
    "clock": ("frozen", ("frozen", "system")),
    "timing": ("fast", ("fast", "realistic")),
    "quotas": ("generous", ("generous", "realistic")),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameliftstreams", "local Amazon GameLift Streams (gameliftstreams-local)")
    for name, (default, choices) in _CHOICES.items():
        group.addoption("--gameliftstreams-" + name, choices=choices, default=None,
                        help="serve --%s of the gameliftstreams_server fixture (default %s)" % (name, default))
        parser.addini("gameliftstreams_" + name, "serve --%s of the gameliftstreams_server fixture" % name,
                      default=default)
    group.addoption("--gameliftstreams-data-from", metavar="DIR", default=None,
                    help="start every gameliftstreams_server on a copy of this data dir (e.g. made by "
                         "gameliftstreams-local seed)")
    parser.addini("gameliftstreams_data_from", "a data dir every gameliftstreams_server starts on a copy of",
                  default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gameliftstreams(clock=, timing=, quotas=, credentials=, options=, data_from=): options of the test's "
        "gameliftstreams_server (see gameliftstreams_local.Server)")


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: "pytest.CallInfo[None]") -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.stash[_FAILED] = True


def _defaults(config: pytest.Config) -> Dict[str, Any]:
    out = {}
    for name in _CHOICES:
        out[name] = config.getoption("--gameliftstreams-" + name) or config.getini("gameliftstreams_" + name)
    # The option is a path from the working directory; the ini key one from the ini file's.
    given = config.getoption("--gameliftstreams-data-from")
    if given:
        out["data_from"] = os.path.abspath(given)
    elif config.getini("gameliftstreams_data_from"):
        base = config.inipath.parent if config.inipath else config.rootpath
        out["data_from"] = os.path.join(str(base), str(config.getini("gameliftstreams_data_from")))
    return out


@pytest.fixture
def gameliftstreams_server_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                                   ) -> Iterator[Callable[..., Server]]:
    """Start servers with any :class:`Server` options (over the run's defaults); all are
    stopped at teardown."""
    started: List[Server] = []

    def make(**kwargs: Any) -> Server:
        options = {**_defaults(request.config), **kwargs}
        if "data_dir" not in options:
            options["data_dir"] = str(tmp_path_factory.mktemp("gameliftstreams") / "data")
        server = Server(**options).start()
        started.append(server)
        return server

    yield make
    failed = request.node.stash.get(_FAILED, False)
    for server in reversed(started):
        if failed:  # shown with the failure, under "Captured stderr teardown"
            sys.stderr.write("--- gameliftstreams-local at %s ---\n%s" % (server.url, server.log()))
        server.stop()


@pytest.fixture
def gameliftstreams_server(request: pytest.FixtureRequest,
                           gameliftstreams_server_factory: Callable[..., Server]) -> Server:
    """A fresh server for this test, with the options of its ``gameliftstreams`` marker."""
    marker = request.node.get_closest_marker("gameliftstreams")
    kwargs = dict(marker.kwargs) if marker else {}
    return gameliftstreams_server_factory(**kwargs)


@pytest.fixture
def gameliftstreams(gameliftstreams_server: Server) -> Any:
    """A boto3 GameLift Streams client of ``gameliftstreams_server`` (us-west-2, no retries)."""
    return gameliftstreams_server.client()
