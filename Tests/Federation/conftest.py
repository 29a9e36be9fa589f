"""Fixtures for the federation suite. Run it through scripts/test-federation, which builds the
test network (netns.sh) and PKI (certs.sh), sets FED_STATE and PARLEY_BIN, and tears everything
down on exit.

Server pairs are a module-scoped parametrised fixture (`pair`), so pytest runs every scenario for
one pair before moving to the next and servers already running with the right configuration are
reused (see lab.Lab.deploy). Pairs with Parley carry the `parley` marker and are skipped, with the
reason, while `parley config check` rejects the `s2s` configuration key.
"""

from __future__ import annotations

import logging

import pytest

from fedclient import Agent
from lab import Lab, state_dir

log = logging.getLogger("federation")

# (first, second): the first runs on a.fed.test, the second on b.fed.test (the domain with an
# _xmpps-server SRV record). Prosody <-> ejabberd comes first: it proves the harness itself.
PAIRS = [
    pytest.param(("prosody", "ejabberd"), id="prosody-ejabberd"),
    pytest.param(("parley", "prosody"), id="parley-prosody", marks=pytest.mark.parley),
    pytest.param(("parley", "ejabberd"), id="parley-ejabberd", marks=pytest.mark.parley),
    pytest.param(("parley", "parley"), id="parley-parley", marks=pytest.mark.parley),
]

_lab: Lab | None = None


def get_lab() -> Lab:
    global _lab
    if _lab is None:
        _lab = Lab(state_dir())
    return _lab


def pytest_report_header(config):
    lab = get_lab()
    lines = [f"federation state: {lab.state}"]
    if lab.parley["s2s"]:
        extra = "" if lab.parley["s2s_direct_tls"] else f" (no direct TLS listener: {lab.parley['reason']})"
        lines.append(f"Parley pairs: enabled{extra}")
    else:
        lines.append(f"Parley pairs: skipped - {lab.parley['reason']}")
    return lines


def pytest_runtest_setup(item):
    if item.get_closest_marker("parley") is not None:
        lab = get_lab()
        if not lab.parley["s2s"]:
            pytest.skip(lab.parley["reason"])
    lab = get_lab()
    lab.used = [s for s in lab.running.values()]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when in ("setup", "call") and report.failed and _lab is not None:
        seen = set()
        for server in _lab.used:
            if id(server) in seen:
                continue
            seen.add(id(server))
            state = "running" if server.alive() else "not running"
            report.sections.append((f"{server.name} ({server.domain}, {server.policy}, {state})",
                                    server.log_tail(50)))


def pytest_sessionfinish(session, exitstatus):
    if _lab is not None:
        _lab.stop_all()


@pytest.fixture(scope="session")
def lab() -> Lab:
    return get_lab()


@pytest.fixture(scope="module", params=PAIRS)
def pair(request) -> tuple[str, str]:
    return request.param


@pytest.fixture
def clients():
    """clients(server, user) -> a logged-in Agent; every agent is closed after the test."""
    made: list[Agent] = []

    def make(server, user: str) -> Agent:
        agent = Agent(server, user)
        made.append(agent)
        return agent.wait_ready()

    yield make
    for agent in made:
        agent.close()
