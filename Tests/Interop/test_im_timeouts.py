"""Connections the server closes on its own: clients that stop answering its pings (XEP-0199
§4.2, limits.client_ping_interval / client_ping_timeout) and connections that never authenticate
(limits.unauthenticated_timeout). Both end with <connection-timeout/> (RFC 6120 §4.9.3.4)."""

from __future__ import annotations

import asyncio
import time

import slix
from xmpp_raw import CLIENT_NS, STREAM_ERRORS_NS, STREAMS_NS, RawStream, local_name, namespace, q

PING_NS = "urn:xmpp:ping"


def _fast_pings(cfg):
    cfg["limits"]["client_ping_interval"] = 1
    cfg["limits"]["client_ping_timeout"] = 1


def test_client_that_answers_pings_stays_connected(make_server):
    """slixmpp answers the server's pings (its XEP-0199 plugin): with a ping every second it is
    still connected, and served, after several seconds."""
    srv = make_server("fast-ping server", accounts={"pat": "pat-pw"}, configure=_fast_pings)

    async def body():
        async with slix.Clients(srv.c2s_port) as clients:
            pat = await clients.connect("pat@localhost", "pat-pw", resource="steady")
            disconnected = slix.event_future(pat, "disconnected")
            await asyncio.sleep(5)
            pings = pat.inbox.matching(
                lambda st: st.name == "iq" and slix.attr(st, "type") == "get"
                and st.xml.find(f"{{{PING_NS}}}ping") is not None, include_taken=True)
            assert len(pings) >= 2, "expected the server to ping about every second:\n" + pat.inbox.describe()
            assert all(slix.attr(p, "from") == "localhost" for p in pings), pat.inbox.describe()
            assert not disconnected.done(), f"disconnected although it answered pings: {pat.interop_events}"
            pong = await pat.plugin["xep_0199"].send_ping("localhost", timeout=5)
            assert pong["type"] == "result"

    slix.run(body)


def test_client_that_answers_pings_with_an_error_stays_connected(make_server):
    """XEP-0199 §4.2: an error reply (e.g. <service-unavailable/> from a client without ping
    support) also shows the client is there."""
    srv = make_server("fast-ping server", accounts={"quinn": "quinn-pw"}, configure=_fast_pings)
    with RawStream(srv.c2s_port) as s:
        jid = s.login_plain("quinn", "quinn-pw", resource="raw")
        deadline = time.monotonic() + 4.5
        answered = 0
        while time.monotonic() < deadline:
            ping = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("type") == "get", 3.0,
                                   "a ping from the server")
            assert ping.find(q(PING_NS, "ping")) is not None, s.describe()
            assert ping.get("to") == jid, s.describe()
            s.send(f"<iq type='error' id='{ping.get('id')}' to='{ping.get('from')}'>"
                   "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                   "</error></iq>")
            answered += 1
        assert answered >= 3, s.describe()
        assert not s.closed, "closed although every ping got an (error) answer:\n" + s.describe()
        s.send(f"<iq type='get' id='still' to='localhost'><ping xmlns='{PING_NS}'/></iq>")
        reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "still", 3.0)
        assert reply.get("type") == "result", s.describe()


def test_client_that_never_answers_pings_is_disconnected(make_server):
    """A client that ignores the server's pings is closed with <connection-timeout/> after
    client_ping_interval + client_ping_timeout (XEP-0199 §4.2, RFC 6120 §4.9.3.4)."""
    srv = make_server("fast-ping server", accounts={"rob": "rob-pw"}, configure=_fast_pings)
    with RawStream(srv.c2s_port) as s:
        jid = s.login_plain("rob", "rob-pw", resource="mute")
        started = time.monotonic()
        ping = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq"), 5.0, "a ping from the server")
        assert ping.get("type") == "get" and ping.find(q(PING_NS, "ping")) is not None, s.describe()
        assert ping.get("from") == "localhost" and ping.get("to") == jid and ping.get("id"), s.describe()
        err = s.next_matching(lambda e: e.tag == q(STREAMS_NS, "error"), 8.0, "the stream error")
        elapsed = time.monotonic() - started
        conditions = [local_name(c.tag) for c in err
                      if namespace(c.tag) == STREAM_ERRORS_NS and local_name(c.tag) != "text"]
        assert conditions == ["connection-timeout"], s.describe()
        assert s.wait_closed(5.0), "the server did not close the connection:\n" + s.describe()
        assert s.stream_closed, "no </stream:stream> before the close:\n" + s.describe()
    assert 1.0 <= elapsed <= 6.0, f"closed {elapsed:.1f}s after login (interval 1s + timeout 1s)"


def test_unauthenticated_connection_times_out(make_server):
    """limits.unauthenticated_timeout: 1 — a connection that sends only a stream header gets
    <connection-timeout/> and is closed (RFC 6120 §4.9.3.4: "the entity has not generated any
    traffic over the stream for some period of time")."""
    def configure(cfg):
        cfg["limits"]["unauthenticated_timeout"] = 1

    srv = make_server("impatient server", configure=configure)
    with RawStream(srv.c2s_port) as s:
        started = time.monotonic()
        s.open()
        s.assert_stream_error_and_close("connection-timeout", timeout=5.0)
        elapsed = time.monotonic() - started
    assert 0.8 <= elapsed <= 4.0, f"closed after {elapsed:.1f}s with a 1s timeout:\n" + s.describe()

    # A client that authenticates in time is not affected by the timer.
    srv.add_user("sam@localhost", "sam-pw")
    with RawStream(srv.c2s_port) as s:
        s.login_plain("sam", "sam-pw", resource="quick")
        time.sleep(2.0)
        s.send(f"<iq type='get' id='late' to='localhost'><ping xmlns='{PING_NS}'/></iq>")
        reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "late", 3.0)
        assert reply.get("type") == "result", s.describe()


def _short_idle(cfg):
    cfg["limits"]["idle_timeout"] = 2          # keepalive every min(idle / 2, 60) = 1 s
    cfg["limits"]["client_ping_interval"] = 60  # no pings: only the idle timeout acts


def test_idle_connection_gets_whitespace_keepalives_then_times_out(make_server):
    """limits.idle_timeout: a bound session that sends nothing gets whitespace keepalives (RFC 6120
    §4.6.1) while it is quiet, then <connection-timeout/> and a close (§4.9.3.4)."""
    srv = make_server("idle server", accounts={"sam": "sam-pw"}, configure=_short_idle)
    with RawStream(srv.c2s_port) as s:
        s.login_plain("sam", "sam-pw", resource="quiet")
        mark = len(s.received)
        started = time.monotonic()
        s.assert_stream_error_and_close("connection-timeout", timeout=8.0)
        elapsed = time.monotonic() - started
        before_error = bytes(s.received[mark:])
        before_error = before_error[:before_error.find(b"<")]
        assert before_error.strip() == b"" and b" " in before_error, \
            f"expected whitespace keepalives before the error, got {before_error!r}:\n" + s.describe()
    assert 1.5 <= elapsed <= 5.0, f"closed {elapsed:.1f}s after login with idle_timeout 2s"


def test_connection_that_keeps_talking_is_not_idle(make_server):
    """Input resets the idle clock: a session that sends a stanza every 0.7 s outlives
    idle_timeout several times over."""
    srv = make_server("idle server", accounts={"tia": "tia-pw"}, configure=_short_idle)
    with RawStream(srv.c2s_port) as s:
        s.login_plain("tia", "tia-pw", resource="chatty")
        for n in range(8):
            s.send(f"<iq type='get' id='p{n}' to='localhost'><ping xmlns='{PING_NS}'/></iq>")
            reply = s.next_matching(lambda e, n=n: e.tag == q(CLIENT_NS, "iq") and e.get("id") == f"p{n}", 3.0)
            assert reply.get("type") == "result", s.describe()
            time.sleep(0.7)
        assert not s.closed, "closed although it kept sending:\n" + s.describe()


def test_client_that_stops_reading_is_closed(make_server):
    """limits.outbound_queue: a session that stops reading while stanzas keep coming is ended once
    more than that many wait behind its full socket (the queue is bounded), and the server goes on
    serving the sender. Routed stanzas are flushed once per event-loop tick, so this also checks
    that stanzas written but not yet flushed still count as queued."""
    import socket

    def configure(cfg):
        cfg["limits"]["outbound_queue"] = 20

    srv = make_server("small queue server", accounts={"rita": "rita-pw", "sam": "sam-pw"}, configure=configure)
    with RawStream(srv.c2s_port) as stuck, RawStream(srv.c2s_port) as sender:
        stuck_jid = stuck.login_plain("rita", "rita-pw", resource="stuck")
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sender.login_plain("sam", "sam-pw", resource="flood")
        body = "x" * 8000
        # Headlines: once the stuck session is gone they are dropped, not bounced (RFC 6121
        # §8.5.3.2.1), so the sender, which reads nothing meanwhile, is never the one held up.
        for n in range(1200):
            assert sender.try_send(f"<message to='{stuck_jid}' type='headline' id='f{n}'><body>{body}</body></message>"), \
                "the sender was cut off:\n" + sender.describe()

        # The stuck session ends: an IQ to its full JID then gets service-unavailable (RFC 6121
        # §8.5.3.2.3) instead of being queued for it.
        deadline = time.monotonic() + 30.0
        answer = None
        n = 0
        while answer is None and time.monotonic() < deadline:
            n += 1
            sender.send(f"<iq type='get' id='probe{n}' to='{stuck_jid}'><ping xmlns='{PING_NS}'/></iq>")
            try:
                answer = sender.next_matching(
                    lambda e: e.tag == q(CLIENT_NS, "iq") and (e.get("id") or "").startswith("probe"), 1.0)
            except AssertionError:
                answer = None
        assert answer is not None, "the stuck session was never ended:\n" + sender.describe()
        assert answer.get("type") == "error", sender.describe()
        assert answer.find(f"{{{CLIENT_NS}}}error/{{urn:ietf:params:xml:ns:xmpp-stanzas}}service-unavailable") is not None, \
            sender.describe()

        sender.send(f"<iq type='get' id='still' to='localhost'><ping xmlns='{PING_NS}'/></iq>")
        reply = sender.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "still", 10.0)
        assert reply.get("type") == "result", sender.describe()
