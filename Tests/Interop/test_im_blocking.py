"""XEP-0191 Blocking Command between two mutual contacts, as their clients see it."""

from __future__ import annotations

import slix
from conftest import unique_accounts
from slix import error_conditions, error_reply, message_with_body, presence_from

BLOCKING_NS = "urn:xmpp:blocking"
BLOCKING_ERRORS_NS = "urn:xmpp:blocking:errors"
QUIET = 1.5


def _block_push(kind: str, jid: str):
    def match(st) -> bool:
        if st.name != "iq" or slix.attr(st, "type") != "set":
            return False
        return any(item.get("jid") == jid
                   for item in st.xml.iterfind(f"{{{BLOCKING_NS}}}{kind}/{{{BLOCKING_NS}}}item"))
    return match


def test_block_and_unblock_contact(server):
    """alice blocks bob (XEP-0191 §3.3): bob's messages get <service-unavailable/> and are not
    delivered; alice stops seeing bob's presence and bob sees alice go unavailable; alice's own
    messages to bob are refused with <not-acceptable/> and <blocked xmlns='urn:xmpp:blocking:errors'/>;
    the blocklist lists bob, and alice's other client that fetched it gets a push. Unblocking
    (§3.4) restores presence and messages both ways."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]
    result = server.cli("user", "add-contact", alice_jid, bob_jid)
    assert result.returncode == 0, result.stdout + result.stderr

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="main", plugins=("xep_0191",))
            other = await clients.connect(*acc["alice"], resource="other", plugins=("xep_0191",))
            bob = await clients.connect(*acc["bob"], resource="b")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full), 10, "bob's presence before the block")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full), 10, "alice's presence before the block")
            await bob.inbox.wait_for(presence_from(other.boundjid.full), 10, "alice/other's presence")

            assert await other.plugin["xep_0191"].get_blocked_jids(timeout=10) == set()
            result = await alice.plugin["xep_0191"].block(bob_jid, timeout=10)
            assert result["type"] == "result", str(result)

            # §3.3: the client that retrieved the list gets a push.
            await other.inbox.wait_for(_block_push("block", bob_jid), 10, "block push on alice's other client")
            blocked = await alice.plugin["xep_0191"].get_blocked_jids(timeout=10)
            assert {str(j) for j in blocked} == {bob_jid}, blocked

            # bob sees every available resource of alice go unavailable.
            for resource in (alice, other):
                await bob.inbox.wait_for(presence_from(resource.boundjid.full, "unavailable"), 10,
                                         f"unavailable presence from {resource.boundjid.full} after the block")

            # bob -> alice: an error, nothing delivered.
            bob.make_message(mto=alice_jid, mbody="can you hear me?", mtype="chat").send()
            bob.make_message(mto=alice.boundjid.full, mbody="to your full JID", mtype="chat").send()
            for _ in range(2):
                err = await bob.inbox.wait_for(error_reply("message"), 10, "an error for a message to a blocker")
                assert error_conditions(err) == ["service-unavailable"], \
                    f"XEP-0191 §3.3: the error SHOULD be <service-unavailable/>: {err}"
            bob.send_presence(pstatus="still here")
            for client in (alice, other):
                await client.inbox.none_within(
                    lambda st: st.name in ("message", "presence")
                    and (slix.attr(st, "from") or "").split("/")[0] == bob_jid,
                    QUIET, "stanza from the blocked contact")

            # alice -> bob: refused locally with <blocked/>.
            alice.make_message(mto=bob_jid, mbody="you are blocked", mtype="chat").send()
            err = await alice.inbox.wait_for(error_reply("message"), 10, "an error for a message to a blocked JID")
            assert error_conditions(err) == ["not-acceptable"], str(err)
            assert err.xml.find(f"{{jabber:client}}error/{{{BLOCKING_ERRORS_NS}}}blocked") is not None, \
                f"XEP-0191 §3.3: the error MUST include <blocked xmlns='{BLOCKING_ERRORS_NS}'/>: {err}"
            await bob.inbox.none_within(message_with_body("you are blocked"), 0.5, "message from the blocker")

            # Unblock: presence comes back and messages flow again (§3.4).
            result = await alice.plugin["xep_0191"].unblock(bob_jid, timeout=10)
            assert result["type"] == "result", str(result)
            await other.inbox.wait_for(_block_push("unblock", bob_jid), 10, "unblock push on alice's other client")
            assert await alice.plugin["xep_0191"].get_blocked_jids(timeout=10) == set()
            await bob.inbox.wait_for(presence_from(alice.boundjid.full), 10, "alice's presence after the unblock")
            bob.send_presence(pstatus="unblocked now")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full, status="unblocked now"), 10,
                                       "bob's presence after the unblock")
            bob.make_message(mto=alice.boundjid.full, mbody="welcome back", mtype="chat").send()
            await alice.inbox.wait_for(message_with_body("welcome back"), 10, "bob's message after the unblock")
            alice.make_message(mto=bob_jid, mbody="thanks", mtype="chat").send()
            await bob.inbox.wait_for(message_with_body("thanks"), 10, "alice's message after the unblock")

    slix.run(body)


def test_block_while_offline(server):
    """The blocklist applies while the blocker is offline: the blocked contact's message gets
    <service-unavailable/> and is not stored offline; at the blocker's next login neither the
    blocked contact's presence nor the message shows up, and the blocked contact does not see the
    blocker come online (XEP-0191 §3.3)."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]
    result = server.cli("user", "add-contact", alice_jid, bob_jid)
    assert result.returncode == 0, result.stdout + result.stderr

    async def block():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="a", plugins=("xep_0191",))
            await alice.plugin["xep_0191"].block(bob_jid, timeout=10)

    slix.run(block)

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="b")
            bob.make_message(mto=alice_jid, mbody="are you there?", mtype="chat").send()
            err = await bob.inbox.wait_for(error_reply("message"), 10, "an error for the blocked message")
            assert error_conditions(err) == ["service-unavailable"], str(err)

            alice = await clients.connect(*acc["alice"], resource="a2", plugins=("xep_0191",))
            await alice.inbox.none_within(
                lambda st: st.name in ("message", "presence")
                and (slix.attr(st, "from") or "").split("/")[0] == bob_jid,
                1.5, "stanza from the blocked contact at login")
            await bob.inbox.none_within(presence_from(alice.boundjid.full), 0.5,
                                        "the blocker's presence on the blocked contact")

    slix.run(body)
    offline = server.cli("user", "offline", alice_jid).stdout
    assert offline.startswith("0 "), f"a blocked message was stored offline: {offline}"
