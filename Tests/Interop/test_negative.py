"""Things that must fail, and how: each test checks the exact error condition the server sends
and that the connection ends (or, for errors that leave the stream usable, that it still works).
The last test checks that the server kept serving through all of it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

import slix
from conftest import ACCOUNTS
from xmpp_raw import (CLIENT_NS, SASL_NS, STANZA_ERRORS_NS, STREAMS_NS, TLS_NS, RawStream,
                      local_name, mechanisms, q, sasl_condition, stream_header)


def _assert_closes_after_client_close(s: RawStream) -> None:
    """For errors after which the server may keep the stream open: either it closed by itself,
    or it answers our </stream:stream> by closing too."""
    if s.wait_closed(1.0):
        return
    s.try_send("</stream:stream>")
    assert s.wait_closed(5.0), "server did not close after the client closed the stream:\n" + s.describe()
    assert s.stream_closed, "server closed without </stream:stream>:\n" + s.describe()


def test_wrong_password_plain(server):
    """PLAIN over TLS with a wrong password: <failure><not-authorized/></failure> each time; after
    limits.auth_attempts_per_connection (3) failures the server ends the stream with a stream
    error, <policy-violation/> (RFC 6120 §6.4.5: "MUST return a stream error, which SHOULD be
    <policy-violation/>")."""
    with RawStream(server.c2s_port) as s:
        s.open()
        s.starttls()
        features = s.open()
        assert "PLAIN" in mechanisms(features), s.describe()
        for attempt in range(1, 4):
            result = s.auth_plain("negative", "not-the-password")
            assert result.tag == q(SASL_NS, "failure"), f"attempt {attempt}:\n" + s.describe()
            assert sasl_condition(result) == ["not-authorized"], f"attempt {attempt}:\n" + s.describe()
        s.assert_stream_error_and_close("policy-violation")
        assert b"<success" not in s.received, s.describe()


def test_wrong_password_then_right_password_same_connection(server):
    """A failure does not end the stream: the client may retry (RFC 6120 §6.4.5)."""
    with RawStream(server.c2s_port) as s:
        s.open()
        s.starttls()
        s.open()
        result = s.auth_plain("negative", "wrong")
        assert sasl_condition(result) == ["not-authorized"], s.describe()
        result = s.auth_plain("negative", ACCOUNTS["negative"])
        assert result.tag == q(SASL_NS, "success"), s.describe()


def test_unknown_user_is_not_authorized(server):
    with RawStream(server.tls_port, direct_tls=True) as s:
        s.open()
        result = s.auth_plain("nosuchuser", "whatever")
        assert result.tag == q(SASL_NS, "failure"), s.describe()
        assert sasl_condition(result) == ["not-authorized"], s.describe()


def test_auth_before_starttls_is_encryption_required(server):
    with RawStream(server.c2s_port) as s:
        s.open()
        s.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>AG5lZ2F0aXZlAG5lZ2F0aXZlLXNlY3JldC0z</auth>")
        elem = s.next_element()
        if elem.tag == q(STREAMS_NS, "error"):
            conditions = [local_name(c.tag) for c in elem if local_name(c.tag) != "text"]
            pytest.fail(f"expected SASL <failure><encryption-required/></failure>, got stream error "
                        f"{conditions}:\n" + s.describe())
        assert elem.tag == q(SASL_NS, "failure"), s.describe()
        assert sasl_condition(elem) == ["encryption-required"], s.describe()
        _assert_closes_after_client_close(s)
        assert b"<success" not in s.received, s.describe()


def test_stanza_sent_with_starttls_is_not_read_as_if_encrypted(server):
    """RFC 6120 §5.4.3.3: plaintext that follows <starttls/> in the same packet is dropped with the
    old stream, never processed after the TLS handshake as if it had been encrypted."""
    with RawStream(server.c2s_port) as s:
        s.open()
        s.send(f"<starttls xmlns='{TLS_NS}'/><iq type='get' id='injected' to='localhost'>"
               "<ping xmlns='urn:xmpp:ping'/></iq>")
        s.expect(q(TLS_NS, "proceed"))
        s._wrap_tls()
        s.open()
        s.send("<iq type='get' id='after-tls' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        # Before authentication the stream's answer to our own stanza is a stream error; whatever
        # comes, nothing may answer the injected one.
        s.wait_closed(3.0)
        assert b"injected" not in s.received, s.describe()


def test_partial_plaintext_after_starttls_closes_the_connection(server):
    """Bytes of an unfinished element after <starttls/> cannot be dropped cleanly: the server
    sends <proceed/> and closes instead of starting TLS over them."""
    with RawStream(server.c2s_port) as s:
        s.open()
        s.send(f"<starttls xmlns='{TLS_NS}'/><iq type='get' id='injected'")
        s.expect(q(TLS_NS, "proceed"))
        assert s.wait_closed(5.0), "the server kept the connection:\n" + s.describe()


def test_malformed_xml_is_not_well_formed(server):
    with RawStream(server.c2s_port) as s:
        s.open()
        s.send("<message><body>x</message>")
        s.assert_stream_error_and_close("not-well-formed")


def test_doctype_is_restricted_xml(server):
    with RawStream(server.c2s_port) as s:
        s.send(b"<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY x 'y'>]>"
               + stream_header("localhost", xml_decl=False))
        s.assert_stream_error_and_close("restricted-xml")
        assert s.header is not None, "the server must open its stream before the error"


@pytest.mark.parametrize("payload", [
    "<!-- a comment -->",
    "<?some-pi data?>",
])
def test_restricted_xml_after_header(server, payload):
    """Comments and processing instructions inside the stream are restricted XML (RFC 6120 §11.1)."""
    with RawStream(server.c2s_port) as s:
        s.open()
        s.send(payload)
        s.assert_stream_error_and_close("restricted-xml")


def test_oversized_stanza_before_auth_is_policy_violation(server):
    with RawStream(server.c2s_port) as s:
        s.open()
        s.try_send("<message to='localhost'><body>" + "x" * 70_000 + "</body></message>")
        s.assert_stream_error_and_close("policy-violation")


def test_unknown_host_is_host_unknown(server):
    with RawStream(server.c2s_port) as s:
        s.send(stream_header("unknown.example"))
        s.assert_stream_error_and_close("host-unknown")
        assert s.header is not None


@pytest.mark.parametrize("header", [
    stream_header("localhost", stream_ns="urn:example:not-streams"),
    stream_header("localhost", content_ns="jabber:server:wrong"),
], ids=["stream-namespace", "content-namespace"])
def test_wrong_namespace_is_invalid_namespace(server, header):
    with RawStream(server.c2s_port) as s:
        s.send(header)
        s.assert_stream_error_and_close("invalid-namespace")


def test_stanza_before_auth_is_not_authorized(server):
    """A stanza before authentication: stream error <not-authorized/> (RFC 6120 §4.9.3.12)."""
    with RawStream(server.c2s_port) as s:
        s.open()
        s.starttls()
        s.open()
        s.send("<message to='bob@localhost'><body>hi</body></message>")
        s.assert_stream_error_and_close("not-authorized")


def test_unserved_iq_is_service_unavailable_slixmpp(server):
    """IQs nobody serves get <service-unavailable/>, addressed to the server and to the account."""
    async def body():
        client = slix.make_client("alice@localhost/iq", ACCOUNTS["alice"], mechanism="SCRAM-SHA-256")
        results = {}
        try:
            await slix.login(client, server.c2s_port)
            for to in ("localhost", None):
                iq = client.Iq()
                iq["type"] = "get"
                if to:
                    iq["to"] = to
                iq.append(ET.Element("{urn:example:none}query"))
                try:
                    reply = await iq.send(timeout=10)
                    results[to] = ("result", reply["type"], None)
                except IqError as err:
                    results[to] = ("error", err.iq["error"]["condition"], err.iq["error"]["type"])
            pong = await client.plugin["xep_0199"].send_ping("localhost", timeout=10)
            results["ping-after"] = pong["type"]
        finally:
            await slix.close(client)
        return results

    results = slix.run(body)
    assert results["localhost"] == ("error", "service-unavailable", "cancel"), results
    assert results[None] == ("error", "service-unavailable", "cancel"), results
    assert results["ping-after"] == "result", "the stream must stay usable after an IQ error"


def test_unserved_iq_is_service_unavailable_raw(server):
    with RawStream(server.c2s_port) as s:
        s.login_plain("alice", ACCOUNTS["alice"], resource="raw-iq")
        s.send("<iq type='get' id='1'><query xmlns='urn:example:none'/></iq>")
        iq = s.expect(q(CLIENT_NS, "iq"))
        assert iq.get("type") == "error" and iq.get("id") == "1", s.describe()
        error = iq.find(q(CLIENT_NS, "error"))
        assert error is not None and error.get("type") == "cancel", s.describe()
        assert error.find(q(STANZA_ERRORS_NS, "service-unavailable")) is not None, s.describe()
        assert not s.wait_closed(0.5), "an IQ error must not end the stream:\n" + s.describe()


def test_same_full_jid_conflict_kicks_first(server):
    """A second login with the same full JID replaces the first, which gets <conflict/>."""
    jid = "bob@localhost/dup"

    async def body():
        first = slix.make_client(jid, ACCOUNTS["bob"], mechanism="SCRAM-SHA-1")
        second = slix.make_client(jid, ACCOUNTS["bob"], mechanism="PLAIN", direct_tls=True)
        try:
            await slix.login(first, server.c2s_port)
            kicked = slix.event_future(first, "stream_error")
            gone = slix.event_future(first, "disconnected")
            await slix.login(second, server.tls_port)
            error = await slix.wait(kicked, 10, "stream error on the first session", first)
            await slix.wait(gone, 10, "disconnection of the first session", first)
            pong = await second.plugin["xep_0199"].send_ping("localhost", timeout=10)
            return error["condition"], second.boundjid.full, pong["type"]
        finally:
            await slix.close(first)
            await slix.close(second)

    condition, bound, pong_type = slix.run(body)
    assert condition == "conflict"
    assert bound == jid
    assert pong_type == "result"


def test_same_full_jid_conflict_raw(server):
    """The same, on the wire: the first stream gets <stream:error><conflict/> and is closed."""
    with RawStream(server.c2s_port) as first, RawStream(server.tls_port, direct_tls=True) as second:
        assert first.login_plain("bob", ACCOUNTS["bob"], resource="dup-raw") == "bob@localhost/dup-raw"
        assert second.login_plain("bob", ACCOUNTS["bob"], resource="dup-raw") == "bob@localhost/dup-raw"
        first.assert_stream_error_and_close("conflict")


def test_zz_server_still_serving(server):
    """After all the above, a normal slixmpp login still works (named to run last in this file)."""
    assert server.alive(), "server process died"

    async def body():
        client = slix.make_client("alice@localhost/after-negatives", ACCOUNTS["alice"])
        try:
            await slix.login(client, server.c2s_port)
            pong = await client.plugin["xep_0199"].send_ping("localhost", timeout=10)
            return client.boundjid.full, pong["type"]
        finally:
            await slix.close(client)

    assert slix.run(body) == ("alice@localhost/after-negatives", "result")
