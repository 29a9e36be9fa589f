"""Bad input from a logged-in client gets the stanza error the RFCs call for, and the session goes
on: after each case the same raw stream still gets a ping result (RFC 6120 §8.3: stanza errors
are recoverable, unlike stream errors)."""

from __future__ import annotations

import itertools
from xml.etree import ElementTree as ET

import pytest

from conftest import unique_accounts
from xmpp_raw import CLIENT_NS, STANZA_ERRORS_NS, STREAMS_NS, RawStream, local_name, q

PING = "<ping xmlns='urn:xmpp:ping'/>"
_ids = itertools.count(1)


def _conditions(elem: ET.Element) -> list[str]:
    error = elem.find(q(CLIENT_NS, "error"))
    if error is None:
        return []
    return [local_name(c.tag) for c in error
            if c.tag.startswith("{" + STANZA_ERRORS_NS + "}") and local_name(c.tag) != "text"]


def _next_stanza(s: RawStream, kind: str, timeout: float = 5.0) -> ET.Element:
    """The next <kind/> from the server (presence the server reflects etc. are skipped); a stream
    error instead fails the test: bad stanzas must not end the stream."""
    def match(e: ET.Element) -> bool:
        assert e.tag != q(STREAMS_NS, "error"), "the server ended the stream:\n" + s.describe()
        return e.tag == q(CLIENT_NS, kind)
    return s.next_matching(match, timeout, f"a <{kind}/> from the server")


def _assert_still_works(s: RawStream, after: str) -> None:
    pid = f"alive{next(_ids)}"
    s.send(f"<iq type='get' id='{pid}' to='localhost'>{PING}</iq>")
    reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == pid, 5.0,
                            f"the ping result after {after}")
    assert reply.get("type") == "result", f"ping after {after} failed:\n" + s.describe()


@pytest.fixture
def session(server):
    acc = unique_accounts(server, "eve")
    jid, password = acc["eve"]
    s = RawStream(server.c2s_port)
    bound = s.login_plain(jid.split("@")[0], password, resource="raw")
    s.bound_jid = bound
    s.bare_jid = jid
    yield s
    s.close()


def test_iq_without_id_is_bad_request(session):
    """RFC 6120 §8.1.3: "For <iq/> stanzas, it is REQUIRED for the originating entity to include
    an 'id' attribute"; a stanza that violates the schema is <bad-request/> (§8.3.3.1)."""
    s = session
    s.send(f"<iq type='get' to='localhost'>{PING}</iq>")
    reply = _next_stanza(s, "iq")
    assert reply.get("type") == "error", s.describe()
    assert _conditions(reply) == ["bad-request"], s.describe()
    _assert_still_works(s, "an IQ without id")


@pytest.mark.parametrize("payload,label", [
    ("", "no payload"),
    (f"{PING}<query xmlns='jabber:iq:version'/>", "two payloads"),
])
def test_iq_get_needs_exactly_one_payload(session, payload, label):
    """RFC 6120 §8.2.3: "An IQ stanza of type "get" or "set" MUST contain exactly one child
    element"; anything else is <bad-request/> (§8.3.3.1)."""
    s = session
    iid = f"payload{next(_ids)}"
    s.send(f"<iq type='get' id='{iid}' to='localhost'>{payload}</iq>")
    reply = _next_stanza(s, "iq")
    assert reply.get("id") == iid and reply.get("type") == "error", f"{label}:\n" + s.describe()
    assert _conditions(reply) == ["bad-request"], f"{label}:\n" + s.describe()
    _assert_still_works(s, label)


def test_iq_with_unknown_type_is_bad_request(session):
    """RFC 6120 §8.3.3.1 names "an IQ stanza that includes an unrecognized value of the 'type'
    attribute" as the example of <bad-request/>."""
    s = session
    s.send(f"<iq type='fetch' id='badtype' to='localhost'>{PING}</iq>")
    reply = _next_stanza(s, "iq")
    assert reply.get("id") == "badtype" and reply.get("type") == "error", s.describe()
    assert _conditions(reply) == ["bad-request"], s.describe()
    _assert_still_works(s, "an IQ of unknown type")


def test_roster_set_for_own_jid_is_an_error(session):
    """A roster item for the user's own bare JID is refused with an IQ error (RFC 6121 §2.3.3
    lists roster-set errors; the user is implicitly subscribed to itself, §4.2.2)."""
    s = session
    s.send(f"<iq type='set' id='rself'><query xmlns='jabber:iq:roster'>"
           f"<item jid='{s.bare_jid}' name='me'/></query></iq>")
    reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "rself")
    assert reply.get("type") == "error", "a roster item for oneself was accepted:\n" + s.describe()
    assert _conditions(reply), "the error has no defined condition:\n" + s.describe()
    # Nothing was added.
    s.send("<iq type='get' id='rget'><query xmlns='jabber:iq:roster'/></iq>")
    roster = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "rget")
    items = roster.findall("{jabber:iq:roster}query/{jabber:iq:roster}item")
    assert [i.get("jid") for i in items] == [], s.describe()
    _assert_still_works(s, "a roster set for one's own JID")


@pytest.mark.parametrize("bad", ["@localhost", "has space@localhost", "user@"])
def test_subscription_to_malformed_jid_is_jid_malformed(session, bad):
    """A subscription request whose 'to' is not a JID (RFC 7622) gets <jid-malformed/> (RFC 6120
    §8.3.3.8: the sender "communicated (e.g., in the 'to' address of a stanza) an XMPP address
    ... that violates the rules defined in [XMPP-ADDR]")."""
    s = session
    s.send(f"<presence to='{bad}' type='subscribe' id='sub1'/>")
    reply = _next_stanza(s, "presence")
    assert reply.get("type") == "error", s.describe()
    assert _conditions(reply) == ["jid-malformed"], s.describe()
    _assert_still_works(s, f"a subscription to {bad!r}")


def test_message_to_unknown_local_user_is_service_unavailable(session):
    """RFC 6121 §8.5.1: for a message to an account that does not exist the server MUST either
    silently ignore it or return <service-unavailable/>; Parley returns the error."""
    s = session
    s.send("<message to='nobody-at-all@localhost' id='m404' type='chat'><body>hello?</body></message>")
    reply = _next_stanza(s, "message")
    assert reply.get("type") == "error" and reply.get("id") == "m404", s.describe()
    assert reply.get("from") == "nobody-at-all@localhost", s.describe()
    assert _conditions(reply) == ["service-unavailable"], s.describe()
    _assert_still_works(s, "a message to an unknown user")


def test_iq_to_unknown_local_user_is_service_unavailable(session):
    """RFC 6121 §8.5.1: an IQ to an account that does not exist gets <service-unavailable/>."""
    s = session
    s.send(f"<iq type='get' id='iq404' to='nobody-at-all@localhost'>{PING}</iq>")
    reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "iq404")
    assert reply.get("type") == "error", s.describe()
    assert _conditions(reply) == ["service-unavailable"], s.describe()
    _assert_still_works(s, "an IQ to an unknown user")
