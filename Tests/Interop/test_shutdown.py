"""Graceful shutdown on a private server: connected clients get <system-shutdown/>, the process
exits 0 within a few seconds."""

from __future__ import annotations

import asyncio
import signal
import time

import slix
from xmpp_raw import RawStream

SHUTDOWN_LIMIT = 10.0  # seconds from the signal to the process's exit


def test_sigterm_sends_system_shutdown_and_exits_zero(make_server):
    srv = make_server("shutdown server", accounts={"sam": "sam-pw"})
    raw = RawStream(srv.c2s_port)
    unauthenticated = RawStream(srv.tls_port, direct_tls=True)
    try:
        assert raw.login_plain("sam", "sam-pw", resource="raw") == "sam@localhost/raw"
        unauthenticated.open()

        async def body():
            client = slix.make_client("sam@localhost/slix", "sam-pw", mechanism="SCRAM-SHA-256")
            try:
                await slix.login(client, srv.c2s_port)
                error = slix.event_future(client, "stream_error")
                gone = slix.event_future(client, "disconnected")
                start = time.monotonic()
                srv.signal(signal.SIGTERM)
                err = await slix.wait(error, SHUTDOWN_LIMIT, "stream error after SIGTERM", client)
                await slix.wait(gone, SHUTDOWN_LIMIT, "disconnection after SIGTERM", client)
                code = await asyncio.to_thread(srv.wait, SHUTDOWN_LIMIT)
                return err["condition"], code, time.monotonic() - start
            finally:
                await slix.close(client)

        condition, code, elapsed = slix.run(body, timeout=60)
        assert condition == "system-shutdown"
        assert code == 0, f"exit code {code!r} after SIGTERM (None: still running after {SHUTDOWN_LIMIT}s)"
        assert elapsed < SHUTDOWN_LIMIT
        # The raw client, authenticated, saw the same thing on the wire.
        raw.assert_stream_error_and_close("system-shutdown", timeout=5)
        # So did a client that had not authenticated yet.
        unauthenticated.assert_stream_error_and_close("system-shutdown", timeout=5)
        assert "parley is ready" in srv.log_text()
    finally:
        raw.close()
        unauthenticated.close()


def test_sigint_idle_server_exits_zero(make_server):
    srv = make_server("sigint server")
    start = time.monotonic()
    srv.signal(signal.SIGINT)
    code = srv.wait(SHUTDOWN_LIMIT)
    assert code == 0, f"exit code {code!r} after SIGINT (None: still running after {SHUTDOWN_LIMIT}s)"
    assert time.monotonic() - start < SHUTDOWN_LIMIT
