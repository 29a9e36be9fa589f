"""XEP-0077 In-Band Registration: creating an account before login with slixmpp, changing its
password and removing it in band; registration refused where it is not enabled, and refused with
<resource-constraint/> beyond limits.registrations_per_address_per_hour."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import slix
from xmpp_raw import CLIENT_NS, STANZA_ERRORS_NS, RawStream, local_name, q

REGISTER_NS = "jabber:iq:register"
REGISTER_FEATURE_NS = "http://jabber.org/features/iq-register"


def _allow_registration(limit: int | None = None):
    def configure(cfg):
        cfg["hosts"] = [{"name": "localhost", "allow_registration": True}]
        if limit is not None:
            cfg["limits"]["registrations_per_address_per_hour"] = limit
    return configure


def _conditions(elem: ET.Element) -> list[str]:
    error = elem.find(q(CLIENT_NS, "error"))
    if error is None:
        return []
    return [local_name(c.tag) for c in error if c.tag.startswith("{" + STANZA_ERRORS_NS) and local_name(c.tag) != "text"]


async def _login_outcome(port: int, jid: str, password: str) -> str | None:
    """The bound JID, or None when authentication failed (one mechanism only: slixmpp would
    otherwise try each SCRAM variant and run into limits.auth_attempts_per_connection)."""
    client = slix.make_client(jid, password, mechanism="SCRAM-SHA-256")
    try:
        await slix.login(client, port)
        return client.boundjid.full
    except slix.LoginFailed as failed:
        if "failed_all_auth" in str(failed):
            return None
        raise
    finally:
        await slix.close(client)


def _raw_register(port: int, username: str, password: str) -> tuple[ET.Element, ET.Element, str]:
    """On a fresh TLS stream, before authentication: the stream features, the reply to a
    registration IQ set, and the conversation."""
    with RawStream(port) as s:
        s.open()
        s.starttls()
        features = s.open()
        s.send(f"<iq type='set' id='reg1'><query xmlns='{REGISTER_NS}'>"
               f"<username>{username}</username><password>{password}</password></query></iq>")
        reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "reg1",
                                what="the registration reply")
        return features, reply, s.describe()


def test_register_login_change_password_and_remove(make_server):
    """slixmpp's XEP-0077 plugin sees the register stream feature, gets the form (§3.1), registers
    frank before logging in, then logs in as frank; frank changes his password in band (§3.3) —
    the old one stops working, the new one works —, then removes his account (§3.2), after which
    logging in fails. Registering an existing username is a <conflict/> (§3.1)."""
    srv = make_server("registration server", accounts={"existing": "existing-pw"},
                      configure=_allow_registration())
    jid, password, new_password = "frank@localhost", "frank-pw-1", "frank-pw-2"

    async def register_and_login():
        client = slix.make_client(jid, password, plugins=("xep_0004", "xep_0066", "xep_0077"))
        seen: dict = {}

        async def on_register(form):
            seen["form"] = form
            iq = client.Iq()
            iq["type"] = "set"
            iq["register"]["username"] = client.boundjid.user
            iq["register"]["password"] = password
            seen["result"] = await iq.send(timeout=10)

        client.add_event_handler("register", on_register)
        try:
            await slix.login(client, srv.c2s_port)
            bound = client.boundjid.full
            pong = await client.plugin["xep_0199"].send_ping("localhost", timeout=10)
            # §3.3: password change while logged in.
            changed = await client.plugin["xep_0077"].change_password(new_password, timeout=10)
            return seen, bound, pong["type"], changed["type"]
        finally:
            await slix.close(client)

    seen, bound, pong_type, changed = slix.run(register_and_login)
    assert "form" in seen, "slixmpp never saw the register stream feature / form"
    form = seen["form"].xml.find(f"{{{REGISTER_NS}}}query")
    assert form is not None and form.find(f"{{{REGISTER_NS}}}username") is not None \
        and form.find(f"{{{REGISTER_NS}}}password") is not None, str(seen["form"])
    assert seen["result"]["type"] == "result", str(seen["result"])
    assert bound.startswith(jid + "/"), bound
    assert pong_type == "result"
    assert changed == "result"
    assert "frank@localhost" in srv.cli("user", "list").stdout

    assert slix.run(lambda: _login_outcome(srv.c2s_port, jid, password)) is None, \
        "the old password still works after an in-band password change"
    assert slix.run(lambda: _login_outcome(srv.c2s_port, jid, new_password)) is not None

    async def remove():
        client = slix.make_client(jid, new_password, plugins=("xep_0004", "xep_0066", "xep_0077"))
        disconnected = slix.event_future(client, "disconnected")
        try:
            await slix.login(client, srv.c2s_port)
            result = await client.plugin["xep_0077"].cancel_registration(timeout=10)
            # The server ends the session of a removed account.
            await slix.wait(disconnected, 10, "disconnection after the account was removed", client)
            return result["type"]
        finally:
            await slix.close(client)

    assert slix.run(remove) == "result"
    assert slix.run(lambda: _login_outcome(srv.c2s_port, jid, new_password)) is None, \
        "login still works after the account was removed in band"
    assert "frank@localhost" not in srv.cli("user", "list").stdout

    # The username is normalised (RFC 7622 §3.3: localparts are case-mapped): "Grace" logs in as grace.
    _, reply, wire = _raw_register(srv.c2s_port, "Grace", "grace-pw")
    assert reply.get("type") == "result", wire
    assert slix.run(lambda: _login_outcome(srv.c2s_port, "grace@localhost", "grace-pw")) is not None

    # A username that is not a valid localpart is refused, and nothing is created.
    _, reply, wire = _raw_register(srv.c2s_port, "no spaces please", "pw")
    assert reply.get("type") == "error" and _conditions(reply) in (["not-acceptable"], ["jid-malformed"],
                                                                    ["bad-request"]), wire
    # A missing password (XEP-0077 §3.1: required information missing → <not-acceptable/>).
    with RawStream(srv.c2s_port) as s:
        s.open()
        s.starttls()
        s.open()
        s.send(f"<iq type='set' id='nopw'><query xmlns='{REGISTER_NS}'><username>henry</username></query></iq>")
        reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "nopw")
        assert reply.get("type") == "error" and _conditions(reply) in (["not-acceptable"], ["bad-request"]), \
            s.describe()
    listed = srv.cli("user", "list").stdout
    assert "henry" not in listed and "no spaces" not in listed, listed

    features, reply, wire = _raw_register(srv.c2s_port, "existing", "whatever")
    assert features.find(q(REGISTER_FEATURE_NS, "register")) is not None, wire
    assert reply.get("type") == "error" and _conditions(reply) == ["conflict"], \
        "XEP-0077 §3.1: an existing username is a <conflict/>:\n" + wire


def test_registration_disabled_by_default(server):
    """On the shared server (allow_registration not set) the register stream feature is absent,
    and a registration IQ before login gets <service-unavailable/> (XEP-0077 §3.1: "If the host
    does not support In-Band Registration, it MUST return a <service-unavailable/> error")."""
    features, reply, wire = _raw_register(server.c2s_port, "mallory", "mallory-pw")
    assert features.find(q(REGISTER_FEATURE_NS, "register")) is None, wire
    assert reply.get("type") == "error", wire
    assert _conditions(reply) == ["service-unavailable"], wire
    # A get (asking for the form) gets the same answer.
    with RawStream(server.c2s_port) as s:
        s.open()
        s.starttls()
        s.open()
        s.send(f"<iq type='get' id='reg2'><query xmlns='{REGISTER_NS}'/></iq>")
        reply = s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == "reg2")
        assert reply.get("type") == "error" and _conditions(reply) == ["service-unavailable"], s.describe()
    listed = server.cli("user", "list").stdout
    assert "mallory" not in listed, listed


def test_registration_rate_limit_per_address(make_server):
    """limits.registrations_per_address_per_hour: 2. The first two registrations from 127.0.0.1
    succeed; the third within the hour is refused with <resource-constraint/> (RFC 6120
    §8.3.3.18: "the server ... lacks the system resources necessary to service the request"),
    and no account is created."""
    srv = make_server("rate-limited registration", configure=_allow_registration(limit=2))
    for i in (1, 2):
        _, reply, wire = _raw_register(srv.c2s_port, f"user{i}", f"pw-{i}")
        assert reply.get("type") == "result", f"registration {i}:\n" + wire
    _, reply, wire = _raw_register(srv.c2s_port, "user3", "pw-3")
    assert reply.get("type") == "error", wire
    assert _conditions(reply) == ["resource-constraint"], wire
    listed = srv.cli("user", "list").stdout
    assert "user1@localhost" in listed and "user2@localhost" in listed, listed
    assert "user3@localhost" not in listed, listed
    # The accounts that were created work.
    assert slix.run(lambda: _login_outcome(srv.c2s_port, "user2@localhost", "pw-2")) is not None
