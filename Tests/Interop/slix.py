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
                direct_tls: bool = False) -> ClientXMPP:
    """A slixmpp client that trusts the server's self-signed certificate, speaks only STARTTLS
    (or only direct TLS), and when `mechanism` is given uses that SASL mechanism and no other."""
    client = ClientXMPP(jid, password, sasl_mech=mechanism)
    client.register_plugin("xep_0199")  # XMPP Ping
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
