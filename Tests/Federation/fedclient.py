"""The test process's side of agent.py: start a slixmpp client inside a server's namespace, send
stanzas through it and wait (always with a timeout) for the stanzas it receives."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable

from lab import C2S_PORT, VENV_PYTHON, Process, Server, netns_argv

AGENT = Path(__file__).resolve().parent / "agent.py"
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"

LOGIN_TIMEOUT = 40.0


# ------------------------------------------------------------------------------ stanza helpers

def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def bare(jid: str | None) -> str:
    return (jid or "").split("/", 1)[0].lower()


def kind(el: ET.Element) -> str:
    return local(el.tag)


def child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def find(el: ET.Element, name: str) -> ET.Element | None:
    for c in el.iter():
        if local(c.tag) == name and c is not el:
            return c
    return None


def error_condition(el: ET.Element) -> str | None:
    """The defined condition of a stanza error (e.g. "remote-server-not-found"), or None."""
    err = child(el, "error")
    if err is None:
        return None
    for c in err:
        if c.tag.startswith("{" + STANZAS_NS + "}") and local(c.tag) != "text":
            return local(c.tag)
    return "(no condition)"


def error_text(el: ET.Element) -> str:
    err = child(el, "error")
    if err is None:
        return ""
    for c in err:
        if local(c.tag) == "text":
            return c.text or ""
    return ""


def body(el: ET.Element) -> str | None:
    b = child(el, "body")
    return None if b is None else (b.text or "")


def short(el: ET.Element, limit: int = 400) -> str:
    text = ET.tostring(el, encoding="unicode")
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------------- the agent

class Agent:
    """One logged-in client: `user@server.domain`, running inside the server's namespace."""

    def __init__(self, server: Server, user: str):
        self.server = server
        self.user = user
        self.jid = server.jid(user)
        self.full_jid: str | None = None
        lab = server.lab
        self.log_path = lab.state / "clients" / f"{server.name}-{user}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.events: list[dict] = []
        self.stanzas: list[ET.Element] = []
        self._taken: set[int] = set()
        self._cond = threading.Condition()
        self._seq = 0
        argv = [VENV_PYTHON, "-u", AGENT, "--jid", self.jid, "--password", server.users[user],
                "--host", server.host.ip, "--port", str(C2S_PORT), "--login-timeout", str(LOGIN_TIMEOUT - 5)]
        # Events come on stdout (a pipe), slixmpp's debug log goes to the log file.
        self.process = _PipedProcess(lab.state, f"client-{server.name}-{user}", server.host.namespace,
                                     argv, self.log_path)
        threading.Thread(target=self._read, daemon=True).start()

    def __repr__(self) -> str:
        return f"<Agent {self.full_jid or self.jid}>"

    def _read(self) -> None:
        for line in self.process.popen.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._cond:
                self.events.append(event)
                if event.get("ev") == "in":
                    try:
                        self.stanzas.append(ET.fromstring(event["xml"]))
                    except ET.ParseError:
                        pass
                self._cond.notify_all()
        with self._cond:
            self.events.append({"ev": "exited"})
            self._cond.notify_all()

    # -- lifecycle
    def wait_ready(self, timeout: float = LOGIN_TIMEOUT) -> "Agent":
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if e.get("ev") == "ready":
                        self.full_jid = e["jid"]
                        return self
                    if e.get("ev") in ("failed", "exited", "disconnected"):
                        raise AssertionError(f"{self.jid} could not log in to {self.server}: {e}\n"
                                             f"client log: {self.log_path}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.jid}: no login within {timeout}s; events: {self.events[-10:]}")
                self._cond.wait(remaining)

    def close(self) -> None:
        if self.process.alive():
            try:
                self._command({"op": "quit"})
                self.process.popen.wait(5)
            except Exception:  # noqa: BLE001 - fall through to stop()
                pass
        self.process.stop(timeout=5)

    # -- sending
    def _command(self, cmd: dict) -> None:
        self._seq += 1
        cmd["seq"] = self._seq
        self.process.popen.stdin.write(json.dumps(cmd) + "\n")
        self.process.popen.stdin.flush()

    def send(self, xml: str) -> None:
        assert self.process.alive(), f"{self.jid}: the client has exited; events: {self.events[-5:]}"
        self._command({"op": "send", "xml": xml})

    # -- receiving
    def wait_for(self, predicate: Callable[[ET.Element], bool], timeout: float = 20.0,
                 what: str = "stanza") -> ET.Element:
        """The first received stanza not yet returned that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, st in enumerate(self.stanzas):
                    if i not in self._taken and _safe(predicate, st):
                        self._taken.add(i)
                        return st
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.jid}: no {what} within {timeout}s; received:\n{self.describe()}")
                self._cond.wait(min(remaining, 1.0))

    def none_within(self, predicate: Callable[[ET.Element], bool], seconds: float, what: str) -> None:
        """Waits `seconds`; fails if a stanza satisfying `predicate` arrives (or had arrived)."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while True:
                bad = [st for st in self.stanzas if _safe(predicate, st)]
                if bad:
                    raise AssertionError(f"{self.jid}: unexpected {what}: {short(bad[0])}\n"
                                         f"received:\n{self.describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(min(remaining, 1.0))

    def describe(self, limit: int = 30) -> str:
        with self._cond:
            shown = self.stanzas[-limit:]
        return "\n".join(f"  {short(st, 600)}" for st in shown) or "  (nothing)"


class _PipedProcess(Process):
    """A Process whose stdin/stdout are pipes (stderr goes to the log file)."""

    def __init__(self, state, name, namespace, argv, log_path):  # noqa: D401 - no super(): pipes differ
        self.name = name
        self.pid_file = state / "pids" / f"{name}.pid"
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        with open(log_path, "ab") as err:
            err.write(f"=== start: {shlex.join(netns_argv(namespace, [str(a) for a in argv]))}\n".encode())
            err.flush()
            self.popen = subprocess.Popen(netns_argv(namespace, argv), stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1,
                                          env=dict(os.environ), start_new_session=True)
        self.pid = self.popen.pid
        self.pid_file.write_text(f"{self.pid}\n")
        self.paused = False


def _safe(predicate, st) -> bool:
    try:
        return bool(predicate(st))
    except Exception:  # noqa: BLE001 - a predicate that trips on an unrelated stanza is a "no"
        return False


# ------------------------------------------------------------------------- stanza predicates

def is_message_from(sender: str, text: str | None = None):
    def match(st):
        return (kind(st) == "message" and bare(st.get("from")) == bare(sender)
                and st.get("type") != "error" and (text is None or body(st) == text))
    return match


def is_error_reply(stanza_kind: str, stanza_id: str):
    def match(st):
        return kind(st) == stanza_kind and st.get("id") == stanza_id and st.get("type") == "error"
    return match


def is_iq_reply(iq_id: str):
    def match(st):
        return kind(st) == "iq" and st.get("id") == iq_id and st.get("type") in ("result", "error")
    return match


def is_presence(sender: str, ptype: str | None = None, status: str | None = None):
    """Presence from `sender` (bare JID) of type `ptype` (None: available)."""
    def match(st):
        if kind(st) != "presence" or bare(st.get("from")) != bare(sender):
            return False
        if st.get("type") != ptype:
            return False
        if status is not None:
            s = child(st, "status")
            return s is not None and (s.text or "") == status
        return True
    return match
