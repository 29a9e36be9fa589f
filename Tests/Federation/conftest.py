"""Fixtures for the federation suite. Run it through scripts/test-federation, which builds the
test network (netns.sh) and PKI (certs.sh), sets FED_STATE and PARLEY_BIN, and tears everything
down on exit.

Server pairs are a module-scoped parametrised fixture (`pair`), so pytest runs every scenario for
one pair before moving to the next and servers already running with the right configuration are
reused (see lab.Lab.deploy). Pairs with Parley carry the `parley` marker; they fail (not skip) when
the Parley binary is missing or `parley config check` rejects the federation configuration, so a
regression there cannot pass unnoticed.
"""

from __future__ import annotations

import logging
import os
import time

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
        lines.append(f"Parley pairs: will FAIL - {lab.parley['reason']}")
    return lines


# Pairs whose gate test (test_messages_both_ways) failed: pair -> why. Scenarios marked
# needs_federation are skipped for them.
GATE_TEST = "test_messages_both_ways"
_broken_pairs: dict[tuple, str] = {}


def _pair_of(item) -> tuple | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("pair") if callspec is not None else None


# Tests that would start after this many seconds are skipped instead, so a slow run still ends
# with a report (scripts/test-federation kills pytest outright a little later).
_session_start = time.monotonic()
_budget = float(os.environ.get("FED_TEST_BUDGET", "0") or 0)


def pytest_runtest_setup(item):
    if _budget and time.monotonic() - _session_start > _budget:
        pytest.skip(f"the run's time budget ({_budget:.0f}s, FED_TEST_BUDGET) is spent")
    lab = get_lab()
    if item.get_closest_marker("parley") is not None and not lab.parley["s2s"]:
        pytest.fail(lab.parley["reason"])
    pair = _pair_of(item)
    if item.get_closest_marker("needs_federation") is not None and pair in _broken_pairs:
        pytest.skip(f"{'-'.join(pair)} did not exchange messages ({GATE_TEST} failed: "
                    f"{_broken_pairs[pair]})")
    lab.used = [s for s in lab.running.values()]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (getattr(item, "originalname", "") == GATE_TEST and report.when in ("setup", "call")
            and report.failed):
        pair = _pair_of(item)
        if pair is not None:
            reason = str(call.excinfo.value).strip().splitlines()[0] if call.excinfo else "failed"
            _broken_pairs[pair] = reason[:200]
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
