"""Federation (server-to-server) scenarios with real peers: Prosody, ejabberd and Parley, each in
its own network namespace, finding each other through DNS (SRV records) and authenticating with
certificates from a private CA (SASL EXTERNAL, XEP-0178) or dialback (XEP-0220).

Every scenario is parametrised over server pairs (the `pair` fixture in conftest.py). Scenarios
marked "directed" also run with the pair's roles swapped: the first-named server is the one under
test (its policy is the one being exercised) and the other is the peer.

    (a) presence subscription and presence, both ways
    (b) messages, both ways (and in order, to bare and full JIDs)
    (c) IQs across servers: ping and disco#info (server and client), and vCard
    (d) a peer with a self-signed certificate: federates through dialback under allow_dialback,
        refused under require_valid_certificate                                      (directed)
    (e) a peer whose certificate names another domain: refused under
        require_valid_certificate (and fine through dialback under allow_dialback)   (directed)
    (f) a stanza to a domain that does not resolve bounces with remote-server-not-found
    (g) a peer that stops answering (SIGSTOP): a new stanza bounces (remote-server-timeout for
        Parley) and the sender's server keeps running                                (directed)
    (h) the first server reaches b.fed.test over direct TLS (XEP-0368), found through its
        _xmpps-server SRV record
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from fedclient import (bare, body, error_condition, error_text, find, is_error_reply, is_iq_reply,
                       is_message_from, is_presence, short)
from lab import ALLOW_DIALBACK, REQUIRE_VALID_CERTIFICATE, S2S_TIMEOUT, established

log = logging.getLogger("federation.scenarios")

# Skipped for a pair whose test_messages_both_ways failed: without working federation these would
# only time out (and a refusal scenario would "pass" for the wrong reason).
needs_federation = pytest.mark.needs_federation

# How long a stanza may take to cross (first use of a connection includes DNS, TLS and dialback).
DELIVERY_TIMEOUT = 20.0
# How long to keep watching for a stanza that must not arrive, after both sides gave up.
QUIET_WINDOW = 3.0
# How long a bounce may take when the connection attempt fails or times out.
BOUNCE_TIMEOUT = S2S_TIMEOUT + 15.0

# The stanza error each implementation returns when an outgoing s2s connection times out (the peer
# accepts TCP but never answers). Parley must say remote-server-timeout (RFC 6120 8.3.3.17).
# Prosody 0.12 says remote-server-not-found unless the peer had opened a stream (mod_s2s.lua,
# bounce_sendq: remote-server-timeout only `if session.had_stream`), with the text
# "Server-to-server connection failed: connection-timeout". ejabberd 23.01 says
# remote-server-timeout for every failure that is not DNS (ejabberd_s2s_out:mk_bounce_error).
TIMEOUT_CONDITION = {
    "parley": {"remote-server-timeout"},
    "prosody": {"remote-server-not-found"},
    "ejabberd": {"remote-server-timeout"},
}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def deploy_pair(lab, pair, fresh: bool = False):
    servers = lab.deploy({"a": (pair[0], ALLOW_DIALBACK), "b": (pair[1], ALLOW_DIALBACK)}, fresh=fresh)
    return servers["a"], servers["b"]


def roles(pair, direction):
    if direction == "rev":
        if pair[0] == pair[1]:
            pytest.skip("same server on both sides: covered by 'fwd'")
        return pair[1], pair[0]
    return pair


def send_message(sender, recipient_jid: str, text: str, mid: str | None = None) -> str:
    mid = mid or uid("m")
    sender.send(f"<message to='{recipient_jid}' type='chat' id='{mid}'><body>{text}</body></message>")
    return mid


def exchange_messages(x, y, label: str) -> None:
    """A message each way, both delivered."""
    tx, ty = uid(f"{label}-x"), uid(f"{label}-y")
    send_message(x, y.jid, tx)
    send_message(y, x.jid, ty)
    y.wait_for(is_message_from(x.jid, tx), DELIVERY_TIMEOUT, f"message from {x.jid}")
    x.wait_for(is_message_from(y.jid, ty), DELIVERY_TIMEOUT, f"message from {y.jid}")


def assert_refused(x, y, under: str) -> None:
    """x is on the server under test (strict), y on the peer it must refuse: x's message to y
    bounces back to x with an error, y's message to x bounces back to y, and neither is
    delivered."""
    tx, ty = uid("to-peer"), uid("from-peer")
    mx = send_message(x, y.jid, tx)
    my = send_message(y, x.jid, ty)
    err = x.wait_for(is_error_reply("message", mx), BOUNCE_TIMEOUT,
                     f"error bounce for the message to the refused peer {y.jid}")
    assert error_condition(err) is not None, f"bounce without a condition: {short(err)}"
    # The peer's own server bounces its message once the server under test has refused it (a
    # refusal the peer never notices would leave its users waiting forever).
    peer_err = y.wait_for(is_error_reply("message", my), BOUNCE_TIMEOUT,
                          f"error bounce at the peer for its message to {x.jid}")
    assert error_condition(peer_err) is not None, f"bounce without a condition: {short(peer_err)}"
    log.info("refusal: %s got <%s/> %r; peer %s got <%s/> %r", under, error_condition(err), error_text(err),
             y.server.kind, error_condition(peer_err), error_text(peer_err))
    # Neither message got through (checked once both sides have given up, plus a short grace).
    x.none_within(is_message_from(y.jid, ty), QUIET_WINDOW,
                  f"message from the refused peer {y.jid} delivered by {under}")
    y.none_within(is_message_from(x.jid, tx), 0.1, "message through a refused connection")


# ----------------------------------------------------------------------------- (b) messages

def test_messages_both_ways(lab, pair, clients):
    """A message each way between fresh connections. Runs first for each pair: when it fails,
    the scenarios marked needs_federation are skipped for that pair (they would only time out one
    by one; see conftest.py)."""
    a, b = deploy_pair(lab, pair)
    x, y = clients(a, "msg"), clients(b, "msg")
    exchange_messages(x, y, "hello")


@needs_federation
def test_messages_in_order_to_bare_and_full_jid(lab, pair, clients):
    """Three messages each way -- to the bare JID, to the full JID, to the bare JID again -- all
    arrive, in the order sent (RFC 6120 10.1 in-order processing), from the sender's full JID.
    The servers are restarted first, so the messages queue while each s2s link is set up."""
    a, b = deploy_pair(lab, pair, fresh=True)
    x, y = clients(a, "order"), clients(b, "order")
    for sender, recipient in ((x, y), (y, x)):
        texts = [uid("first"), uid("second"), uid("third")]
        send_message(sender, recipient.jid, texts[0])
        send_message(sender, recipient.full_jid, texts[1])
        send_message(sender, recipient.jid, texts[2])
        got = [recipient.wait_for(is_message_from(sender.jid, t), DELIVERY_TIMEOUT, f"message '{t}'")
               for t in texts]
        arrival = sorted(got, key=lambda st: next(i for i, el in enumerate(recipient.stanzas) if el is st))
        assert [body(g) for g in arrival] == texts, \
            (f"{recipient.server.kind} delivered {sender.server.kind}'s messages out of order: "
             f"sent {texts} (bare, full, bare JID), received {[body(g) for g in arrival]}")
        assert all(g.get("from", "").startswith(sender.jid + "/") for g in got), \
            f"from should be the sender's full JID: {[g.get('from') for g in got]}"


# ----------------------------------------------------------------------------- (a) presence

@needs_federation
def test_presence_subscription_both_ways(lab, pair, clients):
    a, b = deploy_pair(lab, pair)
    x, y = clients(a, "pres"), clients(b, "pres")

    for sub, owner in ((x, y), (y, x)):
        sub.send(f"<presence to='{owner.jid}' type='subscribe' id='{uid('sub')}'/>")
        owner.wait_for(is_presence(sub.jid, "subscribe"), DELIVERY_TIMEOUT,
                       f"subscription request from {sub.jid}")
        owner.send(f"<presence to='{sub.jid}' type='subscribed' id='{uid('ok')}'/>")
        sub.wait_for(is_presence(owner.jid, "subscribed"), DELIVERY_TIMEOUT,
                     f"subscription approval from {owner.jid}")
        # On approval the contact's server sends the contact's current presence.
        sub.wait_for(is_presence(owner.jid, None), DELIVERY_TIMEOUT,
                     f"available presence of {owner.jid} after approval")

    # Presence updates now flow both ways.
    for sender, watcher in ((x, y), (y, x)):
        status = uid("status")
        sender.send(f"<presence><show>away</show><status>{status}</status></presence>")
        watcher.wait_for(is_presence(sender.jid, None, status), DELIVERY_TIMEOUT,
                         f"presence update '{status}' from {sender.jid}")

    # Both rosters say subscription='both'.
    for owner, contact in ((x, y), (y, x)):
        iq_id = uid("roster")
        owner.send(f"<iq type='get' id='{iq_id}'><query xmlns='jabber:iq:roster'/></iq>")
        reply = owner.wait_for(is_iq_reply(iq_id), 15, "roster result")
        assert reply.get("type") == "result", short(reply)
        items = {bare(i.get("jid")): i.get("subscription") for i in find(reply, "query")}
        assert items.get(bare(contact.jid)) == "both", f"{owner.jid} roster: {items}"

    # Going offline is seen by the contact.
    x.send("<presence type='unavailable'/>")
    y.wait_for(is_presence(x.jid, "unavailable"), DELIVERY_TIMEOUT, f"unavailable presence from {x.jid}")


# ---------------------------------------------------------------------------------- (c) IQs

@needs_federation
def test_iq_ping_and_disco_across(lab, pair, clients):
    a, b = deploy_pair(lab, pair)
    x, y = clients(a, "iq"), clients(b, "iq")
    for asker, other in ((x, y), (y, x)):
        remote_domain = other.server.domain
        # XEP-0199 ping to the remote server itself.
        ping_id = uid("ping")
        asker.send(f"<iq to='{remote_domain}' type='get' id='{ping_id}'><ping xmlns='urn:xmpp:ping'/></iq>")
        reply = asker.wait_for(is_iq_reply(ping_id), DELIVERY_TIMEOUT, f"ping result from {remote_domain}")
        assert reply.get("type") == "result", short(reply)
        assert bare(reply.get("from")) == remote_domain

        # XEP-0030 disco#info of the remote server: an identity of category 'server'.
        disco_id = uid("disco")
        asker.send(f"<iq to='{remote_domain}' type='get' id='{disco_id}'>"
                   "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        reply = asker.wait_for(is_iq_reply(disco_id), DELIVERY_TIMEOUT, f"disco#info from {remote_domain}")
        assert reply.get("type") == "result", short(reply)
        query = find(reply, "query")
        identities = [(i.get("category"), i.get("type")) for i in query if i.tag.endswith("identity")]
        features = {f.get("var") for f in query if f.tag.endswith("feature")}
        assert ("server", "im") in identities, f"identities: {identities}"
        assert "http://jabber.org/protocol/disco#info" in features, f"features: {features}"

        # An IQ routed to the remote client (answered by slixmpp): ping and disco#info.
        cping = uid("cping")
        asker.send(f"<iq to='{other.full_jid}' type='get' id='{cping}'><ping xmlns='urn:xmpp:ping'/></iq>")
        reply = asker.wait_for(is_iq_reply(cping), DELIVERY_TIMEOUT, f"ping result from {other.full_jid}")
        assert reply.get("type") == "result" and reply.get("from") == other.full_jid, short(reply)
        cdisco = uid("cdisco")
        asker.send(f"<iq to='{other.full_jid}' type='get' id='{cdisco}'>"
                   "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        reply = asker.wait_for(is_iq_reply(cdisco), DELIVERY_TIMEOUT, f"disco#info from {other.full_jid}")
        assert reply.get("type") == "result", short(reply)

        # An IQ to a resource that does not exist comes back as an error from the remote side.
        gone = uid("gone")
        asker.send(f"<iq to='{other.jid}/no-such-resource' type='get' id='{gone}'>"
                   "<ping xmlns='urn:xmpp:ping'/></iq>")
        reply = asker.wait_for(is_iq_reply(gone), DELIVERY_TIMEOUT, "error for a missing resource")
        assert reply.get("type") == "error", short(reply)
        assert error_condition(reply) in ("service-unavailable", "item-not-found",
                                          "recipient-unavailable"), short(reply)


@needs_federation
def test_iq_vcard_across(lab, pair, clients):
    a, b = deploy_pair(lab, pair)
    x, y = clients(a, "iq"), clients(b, "iq")
    for owner, reader in ((y, x), (x, y)):
        name = uid("Full Name")
        set_id = uid("vset")
        owner.send(f"<iq type='set' id='{set_id}'><vCard xmlns='vcard-temp'><FN>{name}</FN></vCard></iq>")
        reply = owner.wait_for(is_iq_reply(set_id), 15, "vCard set result")
        assert reply.get("type") == "result", f"{owner.server.kind} refused a vCard set: {short(reply)}"
        get_id = uid("vget")
        reader.send(f"<iq to='{owner.jid}' type='get' id='{get_id}'><vCard xmlns='vcard-temp'/></iq>")
        reply = reader.wait_for(is_iq_reply(get_id), DELIVERY_TIMEOUT, f"vCard of {owner.jid}")
        assert reply.get("type") == "result", short(reply)
        assert bare(reply.get("from")) == owner.jid
        fn = find(reply, "FN")
        assert fn is not None and fn.text == name, short(reply)


# ------------------------------------------------------------- (d), (e) certificate policy

def dialback_then_strict(lab, clients, under: str, peer: str, peer_host: str) -> None:
    """Phase 1: the server under test (a.fed.test) with allow_dialback federates with the peer
    through dialback, both ways -- the control showing the peer itself works. Phase 2: the server
    under test restarts with require_valid_certificate (the peer keeps running) and must refuse
    the peer both ways, and keep running."""
    s = lab.deploy({"a": (under, ALLOW_DIALBACK), peer_host: (peer, ALLOW_DIALBACK)})
    x, y = clients(s["a"], "cert"), clients(s[peer_host], "cert")
    exchange_messages(x, y, "dialback")

    s = lab.deploy({"a": (under, REQUIRE_VALID_CERTIFICATE), peer_host: (peer, ALLOW_DIALBACK)})
    assert s[peer_host] is y.server, "the peer should have kept running"
    x.close()
    x = clients(s["a"], "cert")
    assert_refused(x, y, under)
    assert s["a"].alive(), f"{under} died while refusing a peer"


@needs_federation
@pytest.mark.parametrize("direction", ["fwd", "rev"])
def test_self_signed_peer(lab, pair, direction, clients):
    """(d) The peer on c.fed.test presents a self-signed certificate (right name, not from the
    CA): dialback under allow_dialback, refused under require_valid_certificate."""
    under, peer = roles(pair, direction)
    dialback_then_strict(lab, clients, under, peer, "c")


@needs_federation
@pytest.mark.parametrize("direction", ["fwd", "rev"])
def test_wrong_name_peer(lab, pair, direction, clients):
    """(e) The peer on d.fed.test presents a CA-issued certificate for other.fed.test: refused
    under require_valid_certificate (and, as the control, fine through dialback under
    allow_dialback, where its certificate proves nothing)."""
    under, peer = roles(pair, direction)
    dialback_then_strict(lab, clients, under, peer, "d")


# ------------------------------------------------------------------ (f) unresolvable domain

def test_unresolvable_domain_bounces(lab, pair, clients):
    a, b = deploy_pair(lab, pair)
    nowhere = lab.topology.unresolvable_domain
    for server in (a, b):
        x = clients(server, "bounce")
        target = f"someone@{nowhere}"
        mid = send_message(x, target, uid("void"))
        iq_id = uid("void-iq")
        x.send(f"<iq to='{nowhere}' type='get' id='{iq_id}'><ping xmlns='urn:xmpp:ping'/></iq>")
        for stanza_kind, sid in (("message", mid), ("iq", iq_id)):
            err = x.wait_for(is_error_reply(stanza_kind, sid), BOUNCE_TIMEOUT,
                             f"{stanza_kind} error bounce from {server.kind} for {nowhere}")
            assert error_condition(err) == "remote-server-not-found", \
                f"{server.kind}: {short(err)}"
            assert bare(err.get("from")).endswith(nowhere), short(err)


# ------------------------------------------------------------------- (g) unresponsive peer

# Prosody 0.12 arms its s2s_timeout only once a connection is established, and for a direct TLS
# target that is after the TLS handshake, which a stopped peer never completes: the stanza then
# waits for TCP to give up (mod_s2s.lua initialize_session / net.connect).
PROSODY_DIRECT_TLS_TIMEOUT_GAP = ("Prosody 0.12 applies s2s_timeout only after the TLS handshake of a "
                                  "direct TLS connection; a stopped peer hangs the handshake, so nothing "
                                  "bounces within the test's time")


_timeouts_checked: dict[tuple[str, str], str] = {}  # (sender kind, via) -> pair that passed


@pytest.mark.parametrize("via", ["starttls", "direct_tls"])
@pytest.mark.parametrize("direction", ["fwd", "rev"])
def test_unresponsive_peer_times_out(lab, pair, direction, via, clients, request):
    """via=starttls: the silent peer is a.fed.test (only _xmpp-server), the sender on b.
    via=direct_tls: the silent peer is b.fed.test, reached first through _xmpps-server."""
    under, peer = roles(pair, direction)
    # A stopped peer is the same whatever server it is: what is tested is the sender. Each sender
    # kind is checked once per `via` (by the first pair that has it), which saves a good part of
    # the run's time.
    if (under, via) in _timeouts_checked:
        pytest.skip(f"{under} as the sender via {via} already passed in {_timeouts_checked[(under, via)]}; "
                    "the stopped peer's kind does not matter")
    sender_host, silent_host = ("b", "a") if via == "starttls" else ("a", "b")
    if via == "direct_tls":
        if not lab.supports_direct_tls(peer):
            pytest.fail(f"{peer} has no direct TLS s2s listener: {lab.parley.get('reason')}")
        if under == "prosody":
            request.applymarker(pytest.mark.xfail(reason=PROSODY_DIRECT_TLS_TIMEOUT_GAP, run=False))
            pytest.xfail(PROSODY_DIRECT_TLS_TIMEOUT_GAP)
    s = lab.deploy({sender_host: (under, ALLOW_DIALBACK), silent_host: (peer, ALLOW_DIALBACK)}, fresh=True)
    sender_server, silent = s[sender_host], s[silent_host]
    x = clients(sender_server, "stall")
    silent.pause()  # SIGSTOP: the kernel still accepts TCP connections, nothing answers
    try:
        started = time.monotonic()
        mid = send_message(x, silent.jid("stall"), uid("into-the-void"))
        if via == "direct_tls":
            # The connection the sender waits on must be the direct TLS one (port 5270, the
            # better-priority _xmpps-server record); the kernel completes the TCP handshake for
            # the stopped server, so it shows as established in the peer's namespace.
            port = lab.topology.s2s_direct_tls_port
            deadline = time.monotonic() + 8
            while not [c for c in established(silent.host.namespace, port) if f"{sender_server.host.ip}:" in c]:
                assert time.monotonic() < deadline, \
                    f"{under} did not connect to {silent.domain}:{port} (the _xmpps-server target)"
                time.sleep(0.2)
        err = x.wait_for(is_error_reply("message", mid), BOUNCE_TIMEOUT,
                         f"error bounce from {under} for a message to the stopped peer")
        took = time.monotonic() - started
        condition = error_condition(err)
        log.info("timeout: %s bounced with <%s/> %r after %.1fs", under, condition, error_text(err), took)
        assert condition in TIMEOUT_CONDITION[under], \
            (f"{under} bounced with <{condition}/> ({error_text(err)!r}) after {took:.1f}s; "
             f"expected {sorted(TIMEOUT_CONDITION[under])}: {short(err)}")
        assert took >= S2S_TIMEOUT - 2, f"bounced after {took:.1f}s, before the {S2S_TIMEOUT}s timeout"

        # The sender's server is still there and still serves: a ping to itself and a new login.
        assert sender_server.alive(), f"{under} exited"
        ping_id = uid("self-ping")
        x.send(f"<iq to='{sender_server.domain}' type='get' id='{ping_id}'><ping xmlns='urn:xmpp:ping'/></iq>")
        reply = x.wait_for(is_iq_reply(ping_id), 10, f"ping result from {sender_server.domain}")
        assert reply.get("type") == "result", short(reply)
        clients(sender_server, "probe")
        _timeouts_checked[(under, via)] = "-".join(pair)
    finally:
        silent.resume()


# ----------------------------------------------------------------------- (h) direct TLS

@needs_federation
def test_direct_tls_to_xmpps_server_srv(lab, pair, clients):
    a, b = deploy_pair(lab, pair)
    topo = lab.topology
    assert b.domain == topo.direct_tls_domain
    assert b.direct_tls, f"{b.kind} on {b.domain} has no direct TLS s2s listener: {lab.parley.get('reason')}"
    x, y = clients(a, "dtls"), clients(b, "dtls")
    text = uid("over-direct-tls")
    send_message(x, y.jid, text)
    y.wait_for(is_message_from(x.jid, text), DELIVERY_TIMEOUT, f"message from {x.jid}")
    conns = established(b.host.namespace, topo.s2s_direct_tls_port)
    from_a = [c for c in conns if f"{a.host.ip}:" in c]
    assert from_a, (f"no connection from {a.kind} ({a.host.ip}) to {b.domain}:{topo.s2s_direct_tls_port}; "
                    f"established on that port: {conns}; {a.kind} did not use the _xmpps-server SRV record")
