"""Logins that should work: slixmpp over STARTTLS and direct TLS with every SASL mechanism Parley
offers, plus SCRAM-*-PLUS (tls-server-end-point) by hand, since slixmpp cannot do that binding."""

from __future__ import annotations

import ssl

import pytest

import slix
from conftest import ACCOUNTS
from xmpp_raw import (BIND_NS, SASL_CB_NS, SASL_NS, STREAMS_NS, TLS_NS, RawStream, mechanisms, q,
                      sasl_condition, scram_login)

MECHANISMS = ["SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]
TRANSPORTS = ["starttls", "direct_tls"]


def _port(server, transport: str) -> int:
    return server.tls_port if transport == "direct_tls" else server.c2s_port


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_slixmpp_login_bind_ping(server, mechanism, transport):
    resource = f"slix-{mechanism.lower()}-{transport}"
    jid = f"alice@localhost/{resource}"

    async def body():
        client = slix.make_client(jid, ACCOUNTS["alice"], mechanism=mechanism,
                                  direct_tls=transport == "direct_tls")
        try:
            await slix.login(client, _port(server, transport))
            used = client.plugin["feature_mechanisms"].mech
            bound = client.boundjid.full
            pong = await client.plugin["xep_0199"].send_ping("localhost", timeout=10)
            return used.name if used else None, bound, pong["type"], pong["from"].full
        finally:
            await slix.close(client)

    used, bound, pong_type, pong_from = slix.run(body)
    assert used == mechanism
    assert bound == jid
    assert pong_type == "result"
    assert pong_from == "localhost"


def test_slixmpp_server_assigned_resource(server):
    async def body():
        client = slix.make_client("bob@localhost", ACCOUNTS["bob"], mechanism="SCRAM-SHA-256")
        try:
            await slix.login(client, server.c2s_port)
            return client.boundjid.bare, client.boundjid.resource
        finally:
            await slix.close(client)

    bare, resource = slix.run(body)
    assert bare == "bob@localhost"
    assert resource, "the server must generate a resource when the client asks for none"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slixmpp_scram_plus(server, transport):
    """slixmpp's SCRAM-*-PLUS only knows tls-unique (TLS <= 1.2) and tls-exporter (TLS 1.3, only
    when Python's ssl offers it); Parley offers tls-server-end-point. Skip unless they share one."""
    with RawStream(_port(server, transport), direct_tls=transport == "direct_tls") as s:
        features = s.open()
        if transport == "starttls":
            s.starttls()
            features = s.open()
        tls_version = s.sock.version()
        offered_mechs = mechanisms(features)
        cb = features.find(q(SASL_CB_NS, "sasl-channel-binding"))
        offered_cb = ({e.get("type") for e in cb} if cb is not None else {"tls-server-end-point"})
    slixmpp_cb = ({"tls-unique"} if tls_version != "TLSv1.3" else set()) | \
                 ({"tls-exporter"} if tls_version == "TLSv1.3"
                  and "tls-exporter" in ssl.CHANNEL_BINDING_TYPES else set())
    common = offered_cb & slixmpp_cb
    if not common:
        pytest.skip(f"no channel-binding type in common: Parley offers {sorted(offered_cb)}, slixmpp "
                    f"can do {sorted(slixmpp_cb) or 'nothing'} on {tls_version} (Python ssl has "
                    f"{ssl.CHANNEL_BINDING_TYPES}); -PLUS is covered by test_raw_scram_plus")
    mechanism = "SCRAM-SHA-256-PLUS"
    assert mechanism in offered_mechs

    async def body():
        client = slix.make_client(f"alice@localhost/plus-{transport}", ACCOUNTS["alice"],
                                  mechanism=mechanism, direct_tls=transport == "direct_tls")
        try:
            await slix.login(client, _port(server, transport))
            return client.plugin["feature_mechanisms"].mech.name
        finally:
            await slix.close(client)

    assert slix.run(body) == mechanism


# ------------------------------------------------------------------------ raw protocol checks


def test_features_before_tls_offer_only_starttls(server):
    with RawStream(server.c2s_port) as s:
        features = s.open()
        starttls = features.find(q(TLS_NS, "starttls"))
        assert starttls is not None, s.describe()
        assert starttls.find(q(TLS_NS, "required")) is not None, \
            "STARTTLS must be marked <required/>:\n" + s.describe()
        assert mechanisms(features) == [], "SASL must not be offered before TLS:\n" + s.describe()
        assert s.header.get("from") == "localhost", s.describe()
        assert s.header.get("id"), "the server's stream header must carry an id:\n" + s.describe()
        assert s.header.get("version") == "1.0", s.describe()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_features_after_tls(server, transport):
    with RawStream(_port(server, transport), direct_tls=transport == "direct_tls") as s:
        features = s.open()
        if transport == "starttls":
            s.starttls()
            features = s.open()
        assert features.find(q(TLS_NS, "starttls")) is None, \
            "STARTTLS must not be offered on a TLS stream:\n" + s.describe()
        offered = set(mechanisms(features))
        expected = {"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN",
                    "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS"}
        assert expected <= offered, f"missing mechanisms {expected - offered}:\n" + s.describe()
        cb = features.find(q(SASL_CB_NS, "sasl-channel-binding"))
        if cb is not None:  # XEP-0440 advertisement, when present, must name what the server does
            assert "tls-server-end-point" in {e.get("type") for e in cb}, s.describe()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS"])
def test_raw_scram_plus(server, mechanism, transport):
    """SCRAM-*-PLUS with tls-server-end-point (RFC 5929) by a hand-written RFC 5802 client."""
    with RawStream(_port(server, transport), direct_tls=transport == "direct_tls") as s:
        features = s.open()
        if transport == "starttls":
            s.starttls()
            features = s.open()
        assert mechanism in mechanisms(features), s.describe()
        cb_data = s.tls_server_end_point()
        result = scram_login(s, mechanism, "alice", ACCOUNTS["alice"],
                             gs2_flag="p=tls-server-end-point", cb_data=cb_data)
        assert result.tag == q(SASL_NS, "success"), s.describe()
        features = s.open()
        assert features.find(q(BIND_NS, "bind")) is not None, s.describe()
        assert s.bind(f"plus-{mechanism}-{transport}") == f"alice@localhost/plus-{mechanism}-{transport}"


def test_raw_scram_plus_wrong_binding_data_fails(server):
    """The server must check the channel-binding data, not just the GS2 flag."""
    with RawStream(server.tls_port, direct_tls=True) as s:
        s.open()
        result = scram_login(s, "SCRAM-SHA-256-PLUS", "alice", ACCOUNTS["alice"],
                             gs2_flag="p=tls-server-end-point", cb_data=b"\x00" * 32)
        assert result.tag == q(SASL_NS, "failure"), s.describe()
        assert sasl_condition(result) == ["not-authorized"], s.describe()


def test_raw_scram_downgrade_flag_fails(server):
    """GS2 flag 'y' (client could bind, thinks the server cannot) while the server offers -PLUS:
    RFC 5802 §6 says the server MUST fail the authentication."""
    with RawStream(server.tls_port, direct_tls=True) as s:
        features = s.open()
        assert "SCRAM-SHA-256-PLUS" in mechanisms(features), s.describe()
        result = scram_login(s, "SCRAM-SHA-256", "alice", ACCOUNTS["alice"], gs2_flag="y")
        assert result.tag == q(SASL_NS, "failure"), s.describe()


def test_raw_plain_login(server):
    """A raw PLAIN login over STARTTLS ends with a bound JID (the raw helper's own sanity check)."""
    with RawStream(server.c2s_port) as s:
        assert s.login_plain("alice", ACCOUNTS["alice"], resource="raw") == "alice@localhost/raw"
        assert s.header.tag == q(STREAMS_NS, "stream")
