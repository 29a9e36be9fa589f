"""Fixtures for the interop suite: the real `parley` binary (path in $PARLEY_BIN), started on free
loopback ports with a temporary data directory, accounts created with its own CLI, and stopped by
PID at the end (also when tests fail). The server's log is attached to every failing test's report.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest

READY_LINE = "parley is ready"
START_TIMEOUT = 90.0  # the first start generates a certificate per host
STOP_TIMEOUT = 15.0

# Accounts every test may use: name -> password.
ACCOUNTS = {
    "alice": "alice-secret-1",
    "bob": "bob-secret-2",
    "negative": "negative-secret-3",
}

_running: list["ParleyServer"] = []  # started and not yet stopped
_all: list["ParleyServer"] = []  # every server this session created, for failure reports


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_yaml(value, indent: int = 0) -> str:
    """Block-style YAML for dicts/lists/scalars (enough for a Parley config)."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                first, *rest = to_yaml(item, indent + 1).split("\n")
                lines.append(f"{pad}- {first.strip()}")
                lines.extend(rest)
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value == [] or value == {}:
        return "[]" if value == [] else "{}"
    return "'" + str(value).replace("'", "''") + "'"


class ParleyServer:
    """One `parley run` process with its own config, data directory and ports."""

    def __init__(self, binary: str, workdir: Path, name: str = "parley", hosts=("localhost",)):
        self.binary = binary
        self.name = name
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        _all.append(self)
        self.config_path = workdir / "parley.yaml"
        self.data_dir = workdir / "data"
        self.log_path = workdir / "parley.log"
        self.c2s_port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.c2s_port:
            self.tls_port = free_port()
        self.hosts = list(hosts)
        self.process: subprocess.Popen | None = None
        self.exit_code: int | None = None
        self.config = {
            "hosts": self.hosts,
            "data_directory": "data",  # relative: resolves against the config file's folder
            "listeners": {
                "c2s": {"address": "127.0.0.1", "port": self.c2s_port},
                "c2s_direct_tls": {"address": "127.0.0.1", "port": self.tls_port},
                "s2s": False,  # federation has its own suite (Tests/Federation)
            },
            "tls": {"require_c2s": True, "allow_plain": True},
            "limits": {
                "stanza_size_before_auth": 65536,
                "auth_attempts_per_connection": 3,
                # Every test connects from 127.0.0.1; keep the per-address limit out of the way.
                "auth_failures_per_address_per_minute": 1000,
            },
            "logging": {"level": "debug"},
            "sasl": {"scram_iterations": 4096},
        }
        self.write_config()

    def write_config(self) -> None:
        self.config_path.write_text(to_yaml(self.config) + "\n")

    # ------------------------------------------------------------------ CLI

    def cli(self, *args: str, config: Path | None = None,
            timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Runs `parley ARGS... --config FILE` (this server's config unless `config` is given);
        returns the completed process, with text output."""
        cmd = [self.binary, *args, "--config", str(config or self.config_path)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def add_user(self, jid: str, password: str) -> None:
        result = self.cli("user", "add", jid, "--password", password)
        assert result.returncode == 0, (f"`parley user add {jid}` failed ({result.returncode}):\n"
                                        f"{result.stdout}{result.stderr}")

    # ------------------------------------------------------------------ process

    def start(self) -> None:
        """Starts the server (again, after `stop`, with the same data) and waits until it is ready."""
        since = self.log_size()  # a restart appends to the log, after the last run's ready line
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "run", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(self.workdir),
            start_new_session=True)
        log.close()
        _running.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if READY_LINE in self.log_tail(since, limit=1 << 30):
                break
            code = self.process.poll()
            if code is not None:
                _running.remove(self)
                raise RuntimeError(f"{self.name} exited with {code} before '{READY_LINE}'; log:\n"
                                   + self.log_tail())
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not log '{READY_LINE}' within {START_TIMEOUT}s; "
                                   "log:\n" + self.log_tail())
            time.sleep(0.05)
        for port in (self.c2s_port, self.tls_port):
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def wait(self, timeout: float) -> int | None:
        """Waits for the process to exit; its exit code, or None if it is still running."""
        assert self.process is not None
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if self in _running:
            _running.remove(self)
        return self.exit_code

    def stop(self) -> int | None:
        """SIGTERM by PID, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(STOP_TIMEOUT) is None:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
                self.exit_code = None
        else:
            self.exit_code = self.process.returncode
        if self in _running:
            _running.remove(self)
        return self.exit_code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, since: int = 0, limit: int = 20000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                data = f.read()
        except FileNotFoundError:
            return "(no log)"
        text = data.decode(errors="replace")
        return text if len(text) <= limit else "...\n" + text[-limit:]


@atexit.register
def _kill_leftovers() -> None:  # last resort, e.g. when pytest itself is interrupted
    for server in list(_running):
        try:
            server.stop()
        except Exception:  # noqa: BLE001
            pass


def unique_accounts(srv: "ParleyServer", *names: str) -> dict[str, tuple[str, str]]:
    """Creates one fresh account per name on `srv` (running or not) through the CLI, with a
    random suffix so tests sharing a server never see each other's rosters or messages.
    Returns name -> (bare JID, password)."""
    suffix = uuid.uuid4().hex[:8]
    created = {}
    for name in names:
        jid = f"{name}-{suffix}@{srv.hosts[0]}"
        password = f"{name}-pw-{suffix}"
        srv.add_user(jid, password)
        created[name] = (jid, password)
    return created


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def parley_bin(tmp_path_factory):
    """A private copy of $PARLEY_BIN, so a rebuild during the run (SwiftPM relinks in place)
    neither changes the binary under test nor makes starting it fail with 'Text file busy'."""
    path = os.environ.get("PARLEY_BIN")
    if not path:
        pytest.exit("PARLEY_BIN is not set: run the suite through scripts/test, or set it to the "
                    "built binary ($(swift build --show-bin-path)/parley)", returncode=2)
    if not os.access(path, os.X_OK):
        pytest.exit(f"PARLEY_BIN={path} is not an executable file", returncode=2)
    copy = tmp_path_factory.mktemp("bin") / "parley"
    shutil.copy2(path, copy)
    yield str(copy)
    copy.unlink(missing_ok=True)  # pytest keeps its last temp dirs; no need to keep 100 MB each


@pytest.fixture(scope="session")
def server(parley_bin, tmp_path_factory) -> ParleyServer:
    """The shared server, with the ACCOUNTS created through the CLI before it starts."""
    srv = ParleyServer(parley_bin, tmp_path_factory.mktemp("parley-shared"), name="shared server")
    for user, password in ACCOUNTS.items():
        srv.add_user(f"{user}@localhost", password)
    srv.start()
    try:
        yield srv
    finally:
        crashed = not srv.alive()
        code = srv.stop()
        if crashed:
            pytest.fail(f"the shared server died during the tests (exit code {code}); log tail:\n"
                        + srv.log_tail()[-5000:])


@pytest.fixture
def make_server(parley_bin, tmp_path):
    """Factory for a private server (for tests that stop it); stopped at the end of the test."""
    created: list[ParleyServer] = []

    def factory(name: str = "private server", accounts: dict[str, str] | None = None,
                configure: Callable[[dict], None] | None = None) -> ParleyServer:
        """`configure`, when given, may change the config mapping (`srv.config`) before the
        accounts are created and the server starts; the config file is rewritten after it."""
        srv = ParleyServer(parley_bin, tmp_path / f"server{len(created)}", name=name)
        created.append(srv)
        if configure is not None:
            configure(srv.config)
            srv.write_config()
        for user, password in (accounts or {}).items():
            srv.add_user(f"{user}@localhost", password)
        srv.start()
        return srv

    yield factory
    for srv in created:
        srv.stop()


# ---------------------------------------------------------------------------- reporting

_log_offsets = pytest.StashKey[dict]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    if call.when == "setup":
        # Remember where each server's log stood when this test started.
        item.stash[_log_offsets] = {id(s): s.log_size() for s in _all}
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        offsets = item.stash.get(_log_offsets, {})
        for srv in _all:
            if id(srv) in offsets and srv not in _running and srv.log_size() == offsets[id(srv)]:
                continue  # stopped before this test and silent since: not relevant
            pid = srv.process.pid if srv.process else "-"
            report.sections.append((f"{srv.name} log (pid {pid}, {srv.log_path})",
                                    srv.log_tail(since=offsets.get(id(srv), 0))))
