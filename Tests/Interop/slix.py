"""Helpers to drive slixmpp (an XMPP client library nobody on the team wrote) from synchronous
pytest tests. Every client is created inside a fresh asyncio loop (see `run`) and every wait has
a timeout."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, Awaitable, Callable

from slixmpp import ClientXMPP

log = logging.getLogger("interop.slix")

LOGIN_TIMEOUT = 20.0


class LoginFailed(Exception):
    pass


def run(coro_fn: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    """Runs an async test body in a new event loop, bounded by `timeout` seconds."""
    async def bounded():
        return await asyncio.wait_for(coro_fn(), timeout)
    return asyncio.run(bounded())


def make_client(jid: str, password: str, *, mechanism: str | None = None,
                direct_tls: bool = False, plugins: tuple[str, ...] = ()) -> ClientXMPP:
    """A slixmpp client that trusts the server's self-signed certificate, speaks only STARTTLS
    (or only direct TLS), and when `mechanism` is given uses that SASL mechanism and no other.
    `plugins` are extra slixmpp plugins to register (e.g. "xep_0280")."""
    client = ClientXMPP(jid, password, sasl_mech=mechanism)
    client.register_plugin("xep_0199")  # XMPP Ping
    for plugin in plugins:
        client.register_plugin(plugin)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    client.ssl_context = ctx
    client.enable_direct_tls = direct_tls
    client.enable_starttls = not direct_tls
    client.enable_plaintext = False
    client.use_ipv6 = False
    client.use_aiodns = False
    client.whitespace_keepalive = False
    client.interop_events = []  # (event name, detail) in order, for assertion messages
    for name in ("connected", "tls_success", "auth_success", "failed_auth", "failed_all_auth",
                 "no_auth", "session_bind", "session_start", "stream_error", "disconnected",
                 "connection_failed"):
        client.add_event_handler(name, _recorder(client, name))
    return client


def _recorder(client: ClientXMPP, name: str):
    def record(detail=None):
        if name == "stream_error" and detail is not None:
            detail = f"stream error <{detail['condition']}/> text={detail['text']!r}"
        client.interop_events.append((name, str(detail)[:300] if detail is not None else None))
    return record


async def login(client: ClientXMPP, port: int, host: str = "127.0.0.1",
                timeout: float = LOGIN_TIMEOUT) -> ClientXMPP:
    """Connects and waits for session_start (after SASL and resource binding)."""
    loop = asyncio.get_running_loop()
    started: asyncio.Future = loop.create_future()

    def done(result=None, error: str | None = None):
        if started.done():
            return
        if error is None:
            started.set_result(result)
        else:
            started.set_exception(LoginFailed(f"{error}; events: {client.interop_events}"))

    handlers = {
        "session_start": lambda _=None: done(True),
        "failed_all_auth": lambda _=None: done(error="authentication failed (failed_all_auth)"),
        "no_auth": lambda _=None: done(error="no usable SASL mechanism (no_auth)"),
        "stream_error": lambda e=None: done(error=f"stream error <{e['condition']}/>"),
        "disconnected": lambda r=None: done(error=f"disconnected: {r}"),
        "connection_failed": lambda e=None: done(error=f"connection failed: {e}"),
    }
    for name, fn in handlers.items():
        client.add_event_handler(name, fn)
    client.connect(host, port)
    try:
        await asyncio.wait_for(started, timeout)
    except asyncio.TimeoutError:
        await close(client)
        raise LoginFailed(f"no session_start within {timeout}s; events: {client.interop_events}")
    except LoginFailed:
        await close(client)
        raise
    finally:
        for name, fn in handlers.items():
            client.del_event_handler(name, fn)
    return client


async def close(client: ClientXMPP, timeout: float = 5.0) -> None:
    """Disconnects and stops any reconnection attempt; never raises, never hangs."""
    try:
        client.cancel_connection_attempt()
    except Exception:  # noqa: BLE001
        pass
    try:
        if client.transport is not None:
            await asyncio.wait_for(client.disconnect(wait=1.0), timeout)
    except Exception:  # noqa: BLE001
        pass
    try:
        client.abort()
    except Exception:  # noqa: BLE001
        pass


def event_future(client: ClientXMPP, name: str) -> asyncio.Future:
    """A future for the next occurrence of a slixmpp event (resolved with its argument).
    Create it before doing what triggers the event, then `await wait(fut, ...)`."""
    fut: asyncio.Future = asyncio.get_running_loop().create_future()

    def handler(arg=None):
        if not fut.done():
            fut.set_result(arg)
        client.del_event_handler(name, handler)

    client.add_event_handler(name, handler)
    return fut


async def wait(fut: asyncio.Future, timeout: float, what: str, client: ClientXMPP | None = None) -> Any:
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout)
    except asyncio.TimeoutError:
        events = f"; events: {client.interop_events}" if client is not None else ""
        raise AssertionError(f"no {what} within {timeout}s{events}") from None


class Inbox:
    """Every stanza a client receives (seen by an incoming filter, before slixmpp's handlers), so
    a test can wait for the one it expects and check afterwards what else arrived.

    Create it before the client connects (or at least before what it should see is sent). Each
    stanza is returned by `wait_for` at most once."""

    def __init__(self, client: ClientXMPP, label: str | None = None):
        self.client = client
        self.label = label or str(client.boundjid)
        self.stanzas: list = []
        self._taken: set[int] = set()
        self._changed = asyncio.Event()
        client.add_filter("in", self._record)

    def _record(self, stanza):
        if getattr(stanza, "name", None) in ("message", "presence", "iq"):
            self.stanzas.append(stanza)
            self._changed.set()
        return stanza

    def matching(self, predicate: Callable[[Any], bool], include_taken: bool = False) -> list:
        return [st for i, st in enumerate(self.stanzas)
                if (include_taken or i not in self._taken) and _safe(predicate, st)]

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0,
                       what: str = "stanza") -> Any:
        """The first stanza not yet returned that satisfies `predicate`; fails after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, st in enumerate(self.stanzas):
                if i not in self._taken and _safe(predicate, st):
                    self._taken.add(i)
                    return st
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.label}: no {what} within {timeout}s; received:\n"
                                     + self.describe())
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def none_within(self, predicate: Callable[[Any], bool], seconds: float, what: str) -> None:
        """Waits `seconds` and fails if a stanza satisfying `predicate` arrived meanwhile."""
        start = len(self.stanzas)
        await asyncio.sleep(seconds)
        unexpected = [st for st in self.stanzas[start:] if _safe(predicate, st)]
        assert not unexpected, (f"{self.label}: unexpected {what}:\n"
                                + "\n".join(f"  {st}" for st in unexpected)
                                + "\nall received:\n" + self.describe())

    def describe(self, limit: int = 60) -> str:
        shown = self.stanzas[-limit:]
        text = "\n".join(f"  {str(st)[:700]}" for st in shown)
        return text or "  (nothing)"


def _safe(predicate, stanza) -> bool:
    try:
        return bool(predicate(stanza))
    except Exception:  # noqa: BLE001 - a predicate that cannot read a stanza does not match it
        return False


def attr(stanza, name: str) -> str | None:
    """An attribute exactly as received (slixmpp's own accessors add defaults, e.g. a presence
    without 'type' reads as type 'available' or as its <show/>)."""
    return stanza.xml.get(name)


class Clients:
    """Several logged-in clients for one test, all closed at the end:

        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(jid, password, resource="phone", priority=5)
    """

    def __init__(self, port: int):
        self.port = port
        self.all: list[ClientXMPP] = []

    async def __aenter__(self) -> "Clients":
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(close(c) for c in self.all))

    async def connect(self, jid: str, password: str, *, resource: str | None = None,
                      plugins: tuple[str, ...] = (), get_roster: bool = True,
                      presence: bool = True, priority: int | None = None,
                      show: str | None = None, status: str | None = None,
                      timeout: float = 10.0) -> ClientXMPP:
        """Logs in (subscription requests are left to the test: no automatic approval), fetches
        the roster unless told not to, and sends initial presence unless told not to, waiting for
        the server to reflect it back (RFC 6121 §4.2.2), so the session is known to be available
        before the test goes on. The client's `inbox` (an `Inbox`) records all it receives."""
        full = f"{jid}/{resource}" if resource else jid
        client = make_client(full, password, plugins=plugins)
        client.auto_authorize = None
        client.auto_subscribe = False
        client.inbox = Inbox(client, label=full)
        self.all.append(client)
        await login(client, self.port)
        client.inbox.label = client.boundjid.full
        if get_roster:
            await client.get_roster(timeout=timeout)
        if presence:
            await send_presence_and_wait(client, priority=priority, show=show, status=status,
                                         timeout=timeout)
        return client

    async def disconnect(self, client: ClientXMPP) -> None:
        await close(client)


async def send_presence_and_wait(client: ClientXMPP, *, priority: int | None = None,
                                 show: str | None = None, status: str | None = None,
                                 timeout: float = 10.0):
    """Broadcasts available presence and waits until the server reflects it to this resource."""
    client.send_presence(pshow=show, pstatus=status, ppriority=priority)
    me = client.boundjid.full

    def echo(st):
        if st.name != "presence" or attr(st, "from") != me or attr(st, "type") is not None:
            return False
        got_status = st.xml.findtext("{jabber:client}status")
        got_priority = st.xml.findtext("{jabber:client}priority")
        return (status is None or got_status == status) and \
            (priority is None or (got_priority or "0").strip() == str(priority))

    return await client.inbox.wait_for(echo, timeout, "reflection of our own presence")


# Predicates for Inbox.wait_for, on the stanza as received.

def presence_from(jid: str, type: str | None = None, *, show: str | None = None,
                  status: str | None = None) -> Callable[[Any], bool]:
    """Presence from exactly `jid` (a full JID, or a bare one for subscription stanzas) whose
    'type' attribute is `type` (None: available presence, no 'type')."""
    def match(st) -> bool:
        if st.name != "presence" or attr(st, "from") != jid or attr(st, "type") != type:
            return False
        if show is not None and st.xml.findtext("{jabber:client}show") != show:
            return False
        if status is not None and st.xml.findtext("{jabber:client}status") != status:
            return False
        return True
    return match


def message_with_body(body: str, *, frm: str | None = None,
                      type: str | None = None) -> Callable[[Any], bool]:
    """A message (not an error) carrying exactly this body."""
    def match(st) -> bool:
        return (st.name == "message" and attr(st, "type") != "error"
                and st.xml.findtext("{jabber:client}body") == body
                and (frm is None or attr(st, "from") == frm)
                and (type is None or attr(st, "type") == type))
    return match


def error_reply(kind: str, *, id: str | None = None, frm: str | None = None) -> Callable[[Any], bool]:
    """A stanza of `kind` ('message', 'presence', 'iq') with type='error'."""
    def match(st) -> bool:
        return (st.name == kind and attr(st, "type") == "error"
                and (id is None or attr(st, "id") == id)
                and (frm is None or attr(st, "from") == frm))
    return match


STANZA_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def error_conditions(stanza) -> list[str]:
    """The defined conditions inside a stanza's <error/> (without <text/>)."""
    error = stanza.xml.find("{jabber:client}error")
    if error is None:
        return []
    return [child.tag.split("}", 1)[1] for child in error
            if child.tag.startswith("{" + STANZA_ERRORS_NS + "}") and not child.tag.endswith("}text")]
