"""Message delivery: bare-JID routing by priority and full-JID routing (RFC 6121 §8.5), offline
storage (XEP-0160) with delay stamps (XEP-0203) and stanza-ids (XEP-0359), and message carbons
(XEP-0280), with real slixmpp clients on fresh accounts."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import slix
from conftest import unique_accounts
from slix import error_conditions, error_reply, message_with_body

DELAY_NS = "urn:xmpp:delay"
SID_NS = "urn:xmpp:sid:0"
CARBONS_NS = "urn:xmpp:carbons:2"
FORWARD_NS = "urn:xmpp:forward:0"
QUIET = 1.5  # seconds to wait before concluding that something did not arrive


def _send_chat(client, to: str, body: str, *, private: bool = False, mtype: str = "chat"):
    msg = client.make_message(mto=to, mbody=body, mtype=mtype)
    if private:
        msg.xml.append(ET.Element(f"{{{CARBONS_NS}}}private"))
    msg.send()
    return msg


def _offline_count(server, jid: str) -> int:
    result = server.cli("user", "offline", jid)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"(\d+) offline message", result.stdout)
    assert match, f"unexpected `parley user offline` output: {result.stdout!r}"
    return int(match.group(1))


def _wait_offline_count(server, jid: str, expected: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    count = _offline_count(server, jid)
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        count = _offline_count(server, jid)
    return count


# ------------------------------------------------------------------ routing (RFC 6121 §8.5)

def test_bare_jid_message_goes_to_highest_priority_resource(server):
    """RFC 6121 §8.5.2.1.1: a chat message to the bare JID goes to the "most available" resource,
    here the one with the highest priority (5 beats 1); the other resource does not get it. (The
    RFC also allows delivering to every non-negative resource; Parley, like most servers, picks
    the highest priority, and this test pins that choice.)"""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            high = await clients.connect(*acc["bob"], resource="high", priority=5)
            low = await clients.connect(*acc["bob"], resource="low", priority=1)
            alice = await clients.connect(*acc["alice"], resource="a")
            _send_chat(alice, bob_jid, "to the bare JID")
            got = await high.inbox.wait_for(message_with_body("to the bare JID"), 10,
                                            "the message on the priority-5 resource")
            assert slix.attr(got, "from") == alice.boundjid.full, str(got)
            await low.inbox.none_within(message_with_body("to the bare JID"), QUIET,
                                        "message on the priority-1 resource")

    slix.run(body)


def test_bare_jid_message_goes_to_all_resources_of_equal_highest_priority(server):
    """RFC 6121 §8.5.2.1.1: with two resources sharing the highest priority, Parley delivers the
    message to both of them (one of the choices the RFC allows), and not to a lower one."""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            one = await clients.connect(*acc["bob"], resource="one", priority=3)
            two = await clients.connect(*acc["bob"], resource="two", priority=3)
            lower = await clients.connect(*acc["bob"], resource="lower", priority=2)
            alice = await clients.connect(*acc["alice"], resource="a")
            _send_chat(alice, bob_jid, "equal priorities")
            await one.inbox.wait_for(message_with_body("equal priorities"), 10, "the message on resource one")
            await two.inbox.wait_for(message_with_body("equal priorities"), 10, "the message on resource two")
            await lower.inbox.none_within(message_with_body("equal priorities"), QUIET,
                                          "message on the lower-priority resource")

    slix.run(body)


def test_full_jid_message_goes_to_exactly_that_resource(server):
    """RFC 6121 §8.5.3.1: a message to a full JID of an available resource goes to that
    resource only, even when it has the lower priority."""
    acc = unique_accounts(server, "alice", "bob")

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            high = await clients.connect(*acc["bob"], resource="high", priority=5)
            low = await clients.connect(*acc["bob"], resource="low", priority=1)
            alice = await clients.connect(*acc["alice"], resource="a")
            _send_chat(alice, low.boundjid.full, "to the low resource")
            got = await low.inbox.wait_for(message_with_body("to the low resource"), 10,
                                           "the message on the addressed resource")
            assert slix.attr(got, "to") == low.boundjid.full, str(got)
            await high.inbox.none_within(message_with_body("to the low resource"), QUIET,
                                         "message on the resource it was not addressed to")

    slix.run(body)


def test_negative_priority_resource_gets_nothing_sent_to_bare_jid(server):
    """RFC 6121 §4.7.2.3: "a resource with a negative priority will never receive messages
    addressed to the bare JID". With a priority-0 resource beside it, the message goes to the
    priority-0 one; with only the negative one online, the message is kept offline (§8.5.2.2);
    a message to its full JID still reaches it (§8.5.3.1)."""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            negative = await clients.connect(*acc["bob"], resource="neg", priority=-1)
            zero = await clients.connect(*acc["bob"], resource="zero", priority=0)
            alice = await clients.connect(*acc["alice"], resource="a")
            _send_chat(alice, bob_jid, "with a priority-0 resource online")
            await zero.inbox.wait_for(message_with_body("with a priority-0 resource online"), 10,
                                      "the message on the priority-0 resource")

            await clients.disconnect(zero)
            await asyncio.sleep(0.3)
            _send_chat(alice, bob_jid, "only the negative resource online")
            _send_chat(alice, negative.boundjid.full, "to the negative resource's full JID")
            await negative.inbox.wait_for(message_with_body("to the negative resource's full JID"), 10,
                                          "the full-JID message on the negative-priority resource")
            await negative.inbox.none_within(
                lambda st: st.name == "message" and slix.attr(st, "type") != "error"
                and st.xml.findtext("{jabber:client}body") in (
                    "with a priority-0 resource online", "only the negative resource online"),
                QUIET, "bare-JID message on the negative-priority resource")
            errors = alice.inbox.matching(error_reply("message"))
            assert not errors, "the bare-JID message was bounced instead of stored:\n" + alice.inbox.describe()

    slix.run(body)
    assert _wait_offline_count(server, bob_jid, 1) == 1, \
        "the message for the account with only a negative-priority resource should be stored offline"
    server.cli("user", "offline", bob_jid, "--clear")


# ------------------------------------------------------------------ offline (XEP-0160)

def test_offline_message_is_stored_and_delivered_with_delay_and_stanza_id(server):
    """XEP-0160: messages to an offline user are stored (counted by `parley user offline`), and
    delivered when the user sends initial presence, not before (§2 step 5), in order, with a
    XEP-0203 <delay/> stamped by the server and a XEP-0359 <stanza-id by='bare JID'/>; then the
    store is empty."""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]
    before = datetime.now(timezone.utc)

    async def send():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="sender")
            _send_chat(alice, bob_jid, "first while you were away")
            _send_chat(alice, bob_jid, "second while you were away", mtype="normal")
            await alice.inbox.none_within(error_reply("message"), 1.0, "error for a message to an offline user")
            return alice.boundjid.full

    alice_full = slix.run(send)
    assert _wait_offline_count(server, bob_jid, 2) == 2, "two messages should be stored for bob"

    async def receive():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="home", presence=False)
            await bob.inbox.none_within(lambda st: st.name == "message", 1.0,
                                        "offline message before initial presence (XEP-0160 §2)")
            await slix.send_presence_and_wait(bob)
            first = await bob.inbox.wait_for(message_with_body("first while you were away"), 10,
                                             "the first offline message")
            second = await bob.inbox.wait_for(message_with_body("second while you were away"), 10,
                                              "the second offline message")
            messages = [st for st in bob.inbox.stanzas if st.name == "message"]
            assert messages.index(first) < messages.index(second), "offline messages out of order"
            return first, second

    first, second = slix.run(receive)
    after = datetime.now(timezone.utc)
    for msg in (first, second):
        assert slix.attr(msg, "from") == alice_full, str(msg)
        delay = msg.xml.find(f"{{{DELAY_NS}}}delay")
        assert delay is not None, f"no <delay xmlns='{DELAY_NS}'/> (XEP-0160 §2, XEP-0203): {msg}"
        assert delay.get("from") in (None, "localhost"), f"XEP-0203 §3: 'from' names who delayed it: {msg}"
        stamp = delay.get("stamp")
        assert stamp and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stamp), \
            f"XEP-0203 stamp must be XEP-0082 UTC DateTime: {stamp!r}"
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before - timedelta(seconds=2) <= when <= after + timedelta(seconds=2), (stamp, before, after)
        sids = msg.xml.findall(f"{{{SID_NS}}}stanza-id")
        assert [s.get("by") for s in sids] == [bob_jid], f"XEP-0359: one stanza-id by {bob_jid}: {msg}"
        assert sids[0].get("id"), str(msg)
    assert first.xml.find(f"{{{SID_NS}}}stanza-id").get("id") != \
        second.xml.find(f"{{{SID_NS}}}stanza-id").get("id"), "stanza-ids must be unique"
    assert slix.attr(second, "type") in (None, "normal"), str(second)
    assert _wait_offline_count(server, bob_jid, 0) == 0, "delivered messages must leave the store"


def test_online_message_carries_stanza_id(server):
    """XEP-0359 §3: the receiving account's server adds <stanza-id by='bob@localhost'/> to live
    messages too, and removes a spoofed one claiming to be by that account."""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="b")
            alice = await clients.connect(*acc["alice"], resource="a")
            msg = alice.make_message(mto=bob_jid, mbody="live with spoof", mtype="chat")
            msg.xml.append(ET.Element(f"{{{SID_NS}}}stanza-id", {"id": "spoofed", "by": bob_jid}))
            msg.send()
            return await bob.inbox.wait_for(message_with_body("live with spoof"), 10, "the live message")

    got = slix.run(body)
    sids = got.xml.findall(f"{{{SID_NS}}}stanza-id")
    assert [s.get("by") for s in sids] == [bob_jid], str(got)
    assert sids[0].get("id") != "spoofed", f"XEP-0359 §3: the spoofed stanza-id must be removed: {got}"


def test_offline_queue_limit_refuses_with_service_unavailable(make_server):
    """limits.offline_messages_per_user: once that many messages wait, the next one is refused and
    its sender gets an error (XEP-0160 §2 step 3 / RFC 6121 §8.5.2.2.1: <service-unavailable/>)."""
    def configure(cfg):
        cfg["limits"]["offline_messages_per_user"] = 2

    srv = make_server("offline-limit server", accounts={"alice": "a-pw", "bob": "b-pw"}, configure=configure)

    async def body():
        async with slix.Clients(srv.c2s_port) as clients:
            alice = await clients.connect("alice@localhost", "a-pw", resource="a")
            for i in range(1, 4):
                _send_chat(alice, "bob@localhost", f"offline {i}")
                await asyncio.sleep(0.2)
            err = await alice.inbox.wait_for(error_reply("message", frm="bob@localhost"), 10,
                                             "an error for the message beyond the offline limit")
            assert err.xml.findtext("{jabber:client}body") in (None, "offline 3"), str(err)
            assert error_conditions(err) == ["service-unavailable"], str(err)
            assert len(alice.inbox.matching(error_reply("message"), include_taken=True)) == 1, \
                alice.inbox.describe()

    slix.run(body)
    assert _offline_count(srv, "bob@localhost") == 2


# ------------------------------------------------------------------ carbons (XEP-0280)

def _carbon(direction: str, body: str):
    def match(st) -> bool:
        if st.name != "message":
            return False
        inner = st.xml.find(f"{{{CARBONS_NS}}}{direction}/{{{FORWARD_NS}}}forwarded/{{jabber:client}}message")
        return inner is not None and inner.findtext("{jabber:client}body") == body
    return match


def _any_carbon_or_copy(body: str):
    def match(st) -> bool:
        if st.name != "message":
            return False
        if st.xml.findtext("{jabber:client}body") == body:
            return True
        return any(inner.findtext("{jabber:client}body") == body
                   for inner in st.xml.iter("{jabber:client}message"))
    return match


def test_carbons_received_sent_and_private(server):
    """XEP-0280: alice has two clients with carbons enabled. A chat message bob sends to one of
    them arrives on the other as a <received/> carbon (§7); a message sent from one arrives on
    the other as a <sent/> carbon (§8); messages marked <private/> are not copied (§9)."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            r1 = await clients.connect(*acc["alice"], resource="r1", plugins=("xep_0280",))
            r2 = await clients.connect(*acc["alice"], resource="r2", plugins=("xep_0280",))
            for client in (r1, r2):
                result = await client.plugin["xep_0280"].enable(timeout=10)
                assert result["type"] == "result", str(result)
            bob = await clients.connect(*acc["bob"], resource="b")

            # Received: bob -> alice/r1; r2 gets a <received/> copy.
            _send_chat(bob, r1.boundjid.full, "hello r1")
            await r1.inbox.wait_for(message_with_body("hello r1", frm=bob.boundjid.full), 10, "bob's message on r1")
            carbon = await r2.inbox.wait_for(_carbon("received", "hello r1"), 10, "<received/> carbon on r2")
            assert slix.attr(carbon, "from") == alice_jid, f"§7: the carbon comes from the user's bare JID: {carbon}"
            assert slix.attr(carbon, "to") == r2.boundjid.full, str(carbon)
            inner = carbon.xml.find(f"{{{CARBONS_NS}}}received/{{{FORWARD_NS}}}forwarded/{{jabber:client}}message")
            assert inner.get("from") == bob.boundjid.full and inner.get("to") == r1.boundjid.full, str(carbon)
            assert inner.get("type") == "chat", str(carbon)

            # Sent: alice/r1 -> bob; r2 gets a <sent/> copy; r1 itself gets no copy.
            _send_chat(r1, bob_jid, "hi bob from r1")
            await bob.inbox.wait_for(message_with_body("hi bob from r1"), 10, "alice's message on bob's client")
            carbon = await r2.inbox.wait_for(_carbon("sent", "hi bob from r1"), 10, "<sent/> carbon on r2")
            assert slix.attr(carbon, "from") == alice_jid, f"§8: the carbon comes from the user's bare JID: {carbon}"
            inner = carbon.xml.find(f"{{{CARBONS_NS}}}sent/{{{FORWARD_NS}}}forwarded/{{jabber:client}}message")
            assert inner.get("from") == r1.boundjid.full and inner.get("to") == bob_jid, str(carbon)
            await r1.inbox.none_within(_carbon("sent", "hi bob from r1"), 0.5, "<sent/> carbon on the sending client")

            # §9: <private/> excludes a message from carbons, sent or received.
            _send_chat(r1, bob_jid, "private from r1", private=True)
            _send_chat(bob, r1.boundjid.full, "private to r1", private=True)
            await bob.inbox.wait_for(message_with_body("private from r1"), 10, "the private message on bob")
            await r1.inbox.wait_for(message_with_body("private to r1"), 10, "the private message on r1")
            await r2.inbox.none_within(
                lambda st: _any_carbon_or_copy("private from r1")(st) or _any_carbon_or_copy("private to r1")(st),
                QUIET, "copy of a <private/> message")

            # After disabling, r2 gets no more copies (§5).
            result = await r2.plugin["xep_0280"].disable(timeout=10)
            assert result["type"] == "result", str(result)
            _send_chat(bob, r1.boundjid.full, "after disable")
            await r1.inbox.wait_for(message_with_body("after disable"), 10, "the message on r1")
            await r2.inbox.none_within(_any_carbon_or_copy("after disable"), QUIET,
                                       "carbon on a client that disabled carbons")

    slix.run(body)


def test_offline_messages_reach_a_resource_that_raises_its_priority(server):
    """XEP-0160 §2 step 5: "When the recipient next sends non-negative available presence to the
    server, the server delivers the message to the resource that has sent that presence." A
    resource that was online with priority -1 (so the message was stored, RFC 6121 §8.5.2.2) and
    then sends presence with priority 1 should get the stored message then, not at its next
    login."""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="shy", priority=-1)
            alice = await clients.connect(*acc["alice"], resource="a")
            _send_chat(alice, bob_jid, "stored while you were at -1")
            await bob.inbox.none_within(message_with_body("stored while you were at -1"), 1.0,
                                        "bare-JID message on a priority -1 resource")
            assert _offline_count(server, bob_jid) == 1, "the message should have been stored"
            await slix.send_presence_and_wait(bob, priority=1)
            await bob.inbox.wait_for(message_with_body("stored while you were at -1"), 5,
                                     "the stored message after raising the priority to 1")

    try:
        slix.run(body)
    finally:
        server.cli("user", "offline", bob_jid, "--clear")


def test_headline_to_offline_user_is_not_stored(server):
    """RFC 6121 §8.5.2.2.1: with no available resource, a message of type 'headline' is silently
    ignored (no storage, no error); chat and normal are stored (XEP-0160)."""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="a")
            _send_chat(alice, bob_jid, "breaking news", mtype="headline")
            _send_chat(alice, bob_jid, "a chat to keep", mtype="chat")
            await alice.inbox.none_within(error_reply("message"), 1.0, "error for a headline or chat")

    slix.run(body)
    assert _wait_offline_count(server, bob_jid, 1) == 1, "exactly the chat message should be stored"

    async def login():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="b")
            await bob.inbox.wait_for(message_with_body("a chat to keep"), 10, "the stored chat message")
            await bob.inbox.none_within(message_with_body("breaking news"), 0.5, "the headline")

    slix.run(login)


def test_carbons_for_bare_jid_delivery(server):
    """XEP-0280 §7: a message to the bare JID delivered to the highest-priority resource is
    copied as <received/> to the other enabled resource; when both have the same priority both
    get the message itself, and neither gets a carbon of it as well (it would be a duplicate)."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid = acc["alice"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            high = await clients.connect(*acc["alice"], resource="high", priority=5, plugins=("xep_0280",))
            low = await clients.connect(*acc["alice"], resource="low", priority=1, plugins=("xep_0280",))
            for client in (high, low):
                await client.plugin["xep_0280"].enable(timeout=10)
            bob = await clients.connect(*acc["bob"], resource="b")

            _send_chat(bob, alice_jid, "to alice's bare JID")
            await high.inbox.wait_for(message_with_body("to alice's bare JID"), 10, "the message on 'high'")
            await low.inbox.wait_for(_carbon("received", "to alice's bare JID"), 10, "<received/> carbon on 'low'")
            await low.inbox.none_within(message_with_body("to alice's bare JID"), 0.5,
                                        "the message itself on the lower-priority resource")

            await slix.send_presence_and_wait(low, priority=5)
            _send_chat(bob, alice_jid, "equal priorities now")
            for client in (high, low):
                await client.inbox.wait_for(message_with_body("equal priorities now"), 10, "the message")
            for client in (high, low):
                await client.inbox.none_within(_carbon("received", "equal priorities now"), 0.7,
                                               "a carbon of a message the client got itself")

    slix.run(body)


def test_message_to_offline_full_jid_is_stored(server):
    """RFC 6121 §8.5.3.2.1: a chat message to a full JID with no such resource online is treated
    as if sent to the bare JID, so with nobody online it is stored (XEP-0160) and delivered with
    its original 'to' at the next login."""
    acc = unique_accounts(server, "alice", "bob")
    bob_jid = acc["bob"][0]

    async def send():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="a")
            _send_chat(alice, f"{bob_jid}/gone", "to a resource that left")
            await alice.inbox.none_within(error_reply("message"), 1.0, "error for the message")

    slix.run(send)
    assert _wait_offline_count(server, bob_jid, 1) == 1

    async def receive():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="new")
            msg = await bob.inbox.wait_for(message_with_body("to a resource that left"), 10, "the stored message")
            assert msg.xml.find(f"{{{DELAY_NS}}}delay") is not None, str(msg)

    slix.run(receive)
