"""Presence subscriptions and presence exchange (RFC 6121 §3, §4) and roster pushes and versioning
(RFC 6121 §2.1.6, §2.6), driven through the protocol by real slixmpp clients. Each test uses fresh
accounts on the shared server, so no other test's contacts or presence show up."""

from __future__ import annotations

import asyncio

import slix
from conftest import unique_accounts
from slix import presence_from

ROSTER_NS = "jabber:iq:roster"


def roster_push_for(contact: str, *, subscription: str | None = None, ask: str | None = None):
    """A roster push (RFC 6121 §2.1.6) carrying the item for `contact`."""
    def match(st) -> bool:
        if st.name != "iq" or slix.attr(st, "type") != "set":
            return False
        for item in st.xml.iterfind(f"{{{ROSTER_NS}}}query/{{{ROSTER_NS}}}item"):
            if item.get("jid") != contact:
                continue
            if subscription is not None and item.get("subscription") != subscription:
                continue
            if ask is not None and item.get("ask") != ask:
                continue
            return True
        return False
    return match


async def _approve(approver, requester_bare: str) -> None:
    """The approver's client answers a subscription request (RFC 6121 §3.1.4)."""
    approver.send_presence_subscription(requester_bare, ptype="subscribed")


def _roster_line(server, user: str, contact: str) -> str:
    result = server.cli("user", "roster", user)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in result.stdout.splitlines():
        if line.startswith(contact):
            return line
    return f"(no line for {contact} in:\n{result.stdout})"


def test_mutual_subscription_both_online_then_presence_flows(server):
    """alice and bob subscribe to each other with subscribe/subscribed both ways while both are
    online; then each sees the other's presence (show and status) and unavailable presence when
    the other disconnects (RFC 6121 §3.1, §4.2–§4.5)."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="laptop")
            bob = await clients.connect(*acc["bob"], resource="phone")

            # alice -> bob: subscribe. bob's client gets it from alice's bare JID (§3.1.3).
            alice.send_presence_subscription(bob_jid, ptype="subscribe")
            # §3.1.2: alice's interested resources get a push with ask='subscribe'.
            await alice.inbox.wait_for(roster_push_for(bob_jid, subscription="none", ask="subscribe"),
                                       10, "roster push with ask='subscribe' for bob")
            await bob.inbox.wait_for(presence_from(alice_jid, "subscribe"), 10, "alice's subscription request")
            await _approve(bob, alice_jid)
            # §3.1.5/§3.1.6: alice gets 'subscribed', a push with subscription 'to', and bob's
            # current presence from his full JID.
            await alice.inbox.wait_for(presence_from(bob_jid, "subscribed"), 10, "'subscribed' from bob")
            await alice.inbox.wait_for(roster_push_for(bob_jid, subscription="to"), 10,
                                       "roster push with subscription 'to' for bob")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full), 10, "bob's available presence")

            # bob -> alice: subscribe, alice approves.
            bob.send_presence_subscription(alice_jid, ptype="subscribe")
            await alice.inbox.wait_for(presence_from(bob_jid, "subscribe"), 10, "bob's subscription request")
            await _approve(alice, bob_jid)
            await bob.inbox.wait_for(presence_from(alice_jid, "subscribed"), 10, "'subscribed' from alice")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full), 10, "alice's available presence")
            await bob.inbox.wait_for(roster_push_for(alice_jid, subscription="both"), 10,
                                     "roster push with subscription 'both' for alice")
            await alice.inbox.wait_for(roster_push_for(bob_jid, subscription="both"), 10,
                                       "roster push with subscription 'both' for bob")
            assert bob.client_roster[alice_jid]["subscription"] == "both"
            assert alice.client_roster[bob_jid]["subscription"] == "both"

            # Presence changes reach the contact with show and status (§4.4).
            alice.send_presence(pshow="away", pstatus="in a meeting")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full, show="away", status="in a meeting"),
                                     10, "alice's away presence with status")
            bob.send_presence(pshow="dnd", pstatus="coding")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full, show="dnd", status="coding"),
                                       10, "bob's dnd presence with status")

            # alice disconnects: bob sees her go unavailable (§4.5.2).
            alice_full = alice.boundjid.full
            await clients.disconnect(alice)
            await bob.inbox.wait_for(presence_from(alice_full, "unavailable"), 10,
                                     "alice's unavailable presence after she disconnected")

    slix.run(body)
    # What the server stored is what the clients were told.
    assert "subscription=both" in _roster_line(server, alice_jid, bob_jid)
    assert "subscription=both" in _roster_line(server, bob_jid, alice_jid)


def test_subscription_request_to_offline_contact_is_delivered_at_login(server):
    """bob is offline when alice asks to subscribe: the request waits on the server and reaches
    bob when he logs in and sends presence (RFC 6121 §3.1.3: "the contact's server MUST ...
    deliver the request when the contact next has an available resource"); he approves, and
    presence flows. Then bob asks back while alice is offline, alice approves at her next login,
    and each sees the other come and go."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="desk")
            alice.send_presence_subscription(bob_jid, ptype="subscribe")
            await alice.inbox.wait_for(roster_push_for(bob_jid, ask="subscribe"), 10,
                                       "roster push with ask='subscribe' for bob")

            bob = await clients.connect(*acc["bob"], resource="tablet")
            request = await bob.inbox.wait_for(presence_from(alice_jid, "subscribe"), 10,
                                               "alice's stored subscription request after login")
            assert slix.attr(request, "to") in (bob_jid, bob.boundjid.full), str(request)
            # bob leaves without answering: §3.1.3 "The contact's server MUST continue to deliver
            # the subscription request whenever the contact creates an available resource, until
            # the contact either approves or denies the request."
            await clients.disconnect(bob)
            bob = await clients.connect(*acc["bob"], resource="tablet")
            await bob.inbox.wait_for(presence_from(alice_jid, "subscribe"), 10,
                                     "alice's unanswered request, delivered again at the next login")
            await _approve(bob, alice_jid)
            await alice.inbox.wait_for(presence_from(bob_jid, "subscribed"), 10, "'subscribed' from bob")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full), 10, "bob's presence after approval")

            # bob asks back while alice is offline.
            alice_full = alice.boundjid.full
            await clients.disconnect(alice)
            # bob is not subscribed to alice yet: he must not learn that she left (§4.5.2 goes to
            # subscribers only), so nothing to wait for; ask now.
            bob.send_presence_subscription(alice_jid, ptype="subscribe")
            await bob.inbox.wait_for(roster_push_for(alice_jid, subscription="from", ask="subscribe"), 10,
                                     "roster push with subscription 'from' and ask='subscribe' for alice")
            assert not bob.inbox.matching(presence_from(alice_full, "unavailable")), \
                "bob is not subscribed to alice, yet got her unavailable presence:\n" + bob.inbox.describe()

            alice = await clients.connect(*acc["alice"], resource="desk2")
            # At login alice gets bob's presence (she is subscribed to him: §4.2.2 probe answer)
            # and his pending request (§3.1.3).
            await alice.inbox.wait_for(presence_from(bob.boundjid.full), 10,
                                       "bob's presence (answer to alice's login probe)")
            await alice.inbox.wait_for(presence_from(bob_jid, "subscribe"), 10,
                                       "bob's subscription request, delivered at alice's login")
            await _approve(alice, bob_jid)
            await bob.inbox.wait_for(presence_from(alice_jid, "subscribed"), 10, "'subscribed' from alice")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full), 10, "alice's presence after approval")

            # Both ways now: bob leaves and alice sees it, bob comes back and alice sees it.
            bob_full = bob.boundjid.full
            await clients.disconnect(bob)
            await alice.inbox.wait_for(presence_from(bob_full, "unavailable"), 10, "bob's unavailable presence")
            bob = await clients.connect(*acc["bob"], resource="tablet", status="back")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full, status="back"), 10,
                                       "bob's presence when he is back")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full), 10,
                                     "alice's presence (answer to bob's login probe)")

    slix.run(body)
    assert "subscription=both" in _roster_line(server, alice_jid, bob_jid)
    assert "subscription=both" in _roster_line(server, bob_jid, alice_jid)


def test_roster_push_reaches_second_resource_and_versioning(server):
    """Resource 1 adds a contact with a name and groups; resource 2, which fetched the roster, gets
    the push (RFC 6121 §2.1.6, §2.3.2). Roster versioning (§2.6): the server offers the 'ver'
    stream feature, pushes and results carry 'ver', and a get with the current version is
    answered with an empty result (§2.6.3)."""
    acc = unique_accounts(server, "alice", "carol")
    alice_jid, carol_jid = acc["alice"][0], acc["carol"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            r1 = await clients.connect(*acc["alice"], resource="one")
            r2 = await clients.connect(*acc["alice"], resource="two")
            assert "rosterver" in r1.features, f"no roster versioning stream feature; features: {r1.features}"

            result = await r1.update_roster(carol_jid, name="Carol C.", groups=["Friends", "Work"], timeout=10)
            assert result["type"] == "result", str(result)

            pushes = []
            for client in (r2, r1):  # §2.3.2: every interested resource, the requesting one included
                push = await client.inbox.wait_for(roster_push_for(carol_jid, subscription="none"), 10,
                                                   "roster push for carol")
                pushes.append(push)
                item = push.xml.find(f"{{{ROSTER_NS}}}query/{{{ROSTER_NS}}}item")
                assert item.get("name") == "Carol C.", str(push)
                groups = sorted(g.text for g in item.findall(f"{{{ROSTER_NS}}}group"))
                assert groups == ["Friends", "Work"], str(push)
                assert slix.attr(push, "from") in (None, alice_jid), \
                    f"§2.1.6: a push comes from the account's bare JID or has no 'from': {push}"
            ver = pushes[0].xml.find(f"{{{ROSTER_NS}}}query").get("ver")
            assert ver, f"§2.6.1: a push to a client that supports versioning includes 'ver': {pushes[0]}"
            assert r2.client_roster[carol_jid]["name"] == "Carol C."
            assert sorted(r2.client_roster[carol_jid]["groups"]) == ["Friends", "Work"]

            # A get with the current version: empty result, no <query/> (§2.6.3).
            iq = r2.Iq()
            iq["type"] = "get"
            iq.enable("roster")
            iq["roster"]["ver"] = ver
            same = await iq.send(timeout=10)
            assert same["type"] == "result", str(same)
            assert len(same.xml) == 0, f"§2.6.3: expected an empty IQ result, got {same}"

            # A get with an older version returns the full roster with the current version.
            iq = r2.Iq()
            iq["type"] = "get"
            iq.enable("roster")
            iq["roster"]["ver"] = ""
            full = await iq.send(timeout=10)
            query = full.xml.find(f"{{{ROSTER_NS}}}query")
            assert query is not None and query.get("ver") == ver, str(full)
            assert [i.get("jid") for i in query.findall(f"{{{ROSTER_NS}}}item")] == [carol_jid], str(full)

            # Removing the item: a push with subscription='remove' to both (§2.5.2).
            await r2.del_roster_item(carol_jid)
            for client in (r1, r2):
                await client.inbox.wait_for(roster_push_for(carol_jid, subscription="remove"), 10,
                                            "roster push removing carol")

            # The user's own resources see each other's presence (§4.2.2, §4.5.2).
            await r2.inbox.wait_for(presence_from(r1.boundjid.full), 10, "r1's presence on r2")
            r1_full = r1.boundjid.full
            await clients.disconnect(r1)
            await r2.inbox.wait_for(presence_from(r1_full, "unavailable"), 10,
                                    "r1's unavailable presence on r2 after r1 disconnected")

    slix.run(body)
    line = _roster_line(server, alice_jid, carol_jid)
    assert line.startswith("(no line"), f"carol is still on alice's roster: {line}"


def test_unclean_disconnect_is_announced_as_unavailable(server):
    """RFC 6121 §4.5.2: when a session ends without unavailable presence (here the TCP connection
    just drops), the server MUST broadcast unavailable presence on the user's behalf."""
    from xmpp_raw import RawStream

    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]
    result = server.cli("user", "add-contact", alice_jid, bob_jid)
    assert result.returncode == 0, result.stdout + result.stderr

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="watcher")
            raw = RawStream(server.c2s_port)
            try:
                alice_full = await asyncio.to_thread(
                    raw.login_plain, alice_jid.split("@")[0], acc["alice"][1], resource="flaky")
                raw.send("<presence><status>here for now</status></presence>")
                await bob.inbox.wait_for(presence_from(alice_full, status="here for now"), 10,
                                         "alice's presence from the raw client")
            finally:
                raw.sock.close()  # no </stream:stream>, no unavailable presence
            await bob.inbox.wait_for(presence_from(alice_full, "unavailable"), 10,
                                     "unavailable presence for alice's dropped connection")

    slix.run(body)


def test_contacts_added_by_the_cli_while_online_get_roster_pushes_and_presence(server):
    """`parley user add-contact` while both users are online, have fetched their rosters and have
    broadcast presence (the server keeps their, then empty, subscription lists in memory). The
    running server makes the change itself, as `ejabberdctl add_rosteritem` does: each user's client
    gets a roster push with the other at subscription 'both' (RFC 6121 §2.1.6) and the other's
    current presence (§4.2.2 as after an approval), and from then on each one's presence reaches the other."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="a")
            bob = await clients.connect(*acc["bob"], resource="b")
            alice.send_presence(pstatus="before")
            bob.send_presence(pstatus="bob before")
            await bob.inbox.none_within(presence_from(alice.boundjid.full, status="before"), 1.0,
                                        "presence from someone who is not a contact yet")
            result = await asyncio.to_thread(server.cli, "user", "add-contact", alice_jid, bob_jid)
            assert result.returncode == 0, result.stdout + result.stderr
            await alice.inbox.wait_for(roster_push_for(bob_jid, subscription="both"), 10,
                                       "a roster push with bob at subscription 'both'")
            await bob.inbox.wait_for(roster_push_for(alice_jid, subscription="both"), 10,
                                     "a roster push with alice at subscription 'both'")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full, status="before"), 10,
                                     "alice's current presence once the CLI made them contacts")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full, status="bob before"), 10,
                                       "bob's current presence once the CLI made them contacts")
            alice.send_presence(pstatus="after")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full, status="after"), 10,
                                     "alice's next presence")
            bob.send_presence(pstatus="me too")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full, status="me too"), 10,
                                       "bob's next presence")
            assert alice.client_roster[bob_jid]["subscription"] == "both"

    slix.run(body)
    assert "subscription=both" in _roster_line(server, alice_jid, bob_jid)
    assert "subscription=both" in _roster_line(server, bob_jid, alice_jid)


def test_last_activity_of_a_contact(server):
    """XEP-0012 §3: a contact (subscription 'from'/'both') asking for an offline account's last
    activity gets the seconds since it logged out and the status of its last unavailable presence;
    while the account is online the answer is 0; someone without a subscription gets <forbidden/>."""
    acc = unique_accounts(server, "alice", "bob", "carol")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]
    result = server.cli("user", "add-contact", alice_jid, bob_jid)
    assert result.returncode == 0, result.stdout + result.stderr

    async def body():
        from slixmpp.exceptions import IqError

        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="b", plugins=("xep_0012",))
            carol = await clients.connect(*acc["carol"], resource="c", plugins=("xep_0012",))
            alice = await clients.connect(*acc["alice"], resource="a")
            online = await bob.plugin["xep_0012"].get_last_activity(alice_jid, timeout=10)
            assert online.xml.find("{jabber:iq:last}query").get("seconds") == "0", str(online)

            alice.send_presence(ptype="unavailable", pstatus="gone fishing")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full, "unavailable"), 10,
                                     "alice's unavailable presence")
            await clients.disconnect(alice)
            await asyncio.sleep(1.2)
            last = await bob.plugin["xep_0012"].get_last_activity(alice_jid, timeout=10)
            query = last.xml.find("{jabber:iq:last}query")
            assert 1 <= int(query.get("seconds")) <= 10, str(last)
            assert (query.text or "") == "gone fishing", str(last)

            try:
                denied = await carol.plugin["xep_0012"].get_last_activity(alice_jid, timeout=10)
            except IqError as exc:
                assert slix.error_conditions(exc.iq) == ["forbidden"], str(exc.iq)
            else:
                raise AssertionError(f"a non-contact got alice's last activity: {denied}")

    slix.run(body)


def test_subscription_pre_approval(server):
    """RFC 6121 §3.4: the server offers <sub xmlns='urn:xmpp:features:pre-approval'/>; bob
    pre-approves alice by sending 'subscribed' first (his roster item gets approved='true');
    when alice then asks, bob's server answers 'subscribed' for him and does not bother bob
    with the request (§3.4.2: "the contact's server ... MUST NOT deliver the subscription request
    to the contact")."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            bob = await clients.connect(*acc["bob"], resource="b")
            assert "preapproval" in bob.features, f"no pre-approval stream feature; features: {bob.features}"
            bob.send_presence_subscription(alice_jid, ptype="subscribed")
            push = await bob.inbox.wait_for(roster_push_for(alice_jid), 10, "roster push for the pre-approval")
            item = push.xml.find(f"{{{ROSTER_NS}}}query/{{{ROSTER_NS}}}item")
            assert item.get("approved") == "true", f"§3.4.2: the push shows approved='true': {push}"
            assert item.get("subscription") in (None, "none"), str(push)

            alice = await clients.connect(*acc["alice"], resource="a")
            alice.send_presence_subscription(bob_jid, ptype="subscribe")
            await alice.inbox.wait_for(presence_from(bob_jid, "subscribed"), 10, "the automatic 'subscribed'")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full), 10, "bob's presence")
            await bob.inbox.wait_for(roster_push_for(alice_jid, subscription="from"), 10,
                                     "roster push with subscription 'from'")
            await bob.inbox.none_within(presence_from(alice_jid, "subscribe"), 1.0,
                                        "the pre-approved subscription request")

    slix.run(body)


def test_removing_a_contact_cancels_both_subscriptions(server):
    """RFC 6121 §2.5.2: removing an item with subscription 'both' sends 'unsubscribe' and
    'unsubscribed' to the contact; the contact's roster shows subscription 'none' and the
    contact sees the user go unavailable (§3.2.3), and the user stops seeing the contact's
    presence."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]
    result = server.cli("user", "add-contact", alice_jid, bob_jid)
    assert result.returncode == 0, result.stdout + result.stderr

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="a")
            bob = await clients.connect(*acc["bob"], resource="b")
            await alice.inbox.wait_for(presence_from(bob.boundjid.full), 10, "bob's presence")
            await alice.del_roster_item(bob_jid)
            await alice.inbox.wait_for(roster_push_for(bob_jid, subscription="remove"), 10, "the removal push")
            await bob.inbox.wait_for(presence_from(alice_jid, "unsubscribe"), 10, "'unsubscribe' from alice")
            await bob.inbox.wait_for(presence_from(alice_jid, "unsubscribed"), 10, "'unsubscribed' from alice")
            await bob.inbox.wait_for(roster_push_for(alice_jid, subscription="none"), 10,
                                     "roster push with subscription 'none'")
            await bob.inbox.wait_for(presence_from(alice.boundjid.full, "unavailable"), 10,
                                     "alice's unavailable presence after she removed bob")
            bob.send_presence(pstatus="anyone there?")
            await alice.inbox.none_within(presence_from(bob.boundjid.full, status="anyone there?"), 1.0,
                                          "presence from a removed contact")

    slix.run(body)
    assert "subscription=none" in _roster_line(server, bob_jid, alice_jid)


def test_directed_presence_and_its_unavailable(server):
    """RFC 6121 §4.6: directed presence to someone without a subscription reaches them, and when
    the sender goes offline the server sends them unavailable presence (§4.6.2)."""
    acc = unique_accounts(server, "alice", "carol")

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            carol = await clients.connect(*acc["carol"], resource="c")
            alice = await clients.connect(*acc["alice"], resource="a")
            alice.send_presence(pto=carol.boundjid.full, pstatus="just for you")
            await carol.inbox.wait_for(presence_from(alice.boundjid.full, status="just for you"), 10,
                                       "alice's directed presence")
            alice_full = alice.boundjid.full
            await clients.disconnect(alice)
            await carol.inbox.wait_for(presence_from(alice_full, "unavailable"), 10,
                                       "unavailable presence after the directed presence")

    slix.run(body)


def test_a_broadcast_reaches_every_contact_whole_and_addressed_to_each(server):
    """One presence update goes to several contacts and the user's other resource (§4.4.2): each
    copy is addressed to its own recipient and carries the whole payload, escaped text included,
    and the next update carries the new payload, not the last one's (the server writes a
    broadcast's children once per event loop and reuses them for the following copies)."""
    acc = unique_accounts(server, "alice", "bob", "carol", "dave")
    alice_jid = acc["alice"][0]
    contacts = [acc[name][0] for name in ("bob", "carol", "dave")]
    for contact in contacts:
        result = server.cli("user", "add-contact", alice_jid, contact)
        assert result.returncode == 0, result.stdout + result.stderr

    def addressed(jid: str, to: str, *, show: str | None = None, status: str | None = None):
        from_alice = presence_from(jid, show=show, status=status)
        return lambda st: from_alice(st) and slix.attr(st, "to") == to

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            others = [await clients.connect(*acc[name], resource="r") for name in ("bob", "carol", "dave")]
            alice = await clients.connect(*acc["alice"], resource="laptop")
            alice_phone = await clients.connect(*acc["alice"], resource="phone")
            for status, show in (("at <lunch> & 'back' soon", "away"), ("back at my desk", "chat")):
                alice.send_presence(pshow=show, pstatus=status)
                for client, jid in zip(others, contacts):
                    await client.inbox.wait_for(addressed(alice.boundjid.full, jid, show=show, status=status),
                                                10, f"alice's '{status}' at {jid}")
                await alice_phone.inbox.wait_for(
                    addressed(alice.boundjid.full, alice_phone.boundjid.full, show=show, status=status),
                    10, f"alice's '{status}' at her other resource")

    slix.run(body)
