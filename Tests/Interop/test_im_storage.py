"""Per-account storage on the server: vcard-temp (XEP-0054) and private XML storage (XEP-0049)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from slixmpp.exceptions import IqError

import slix
from conftest import unique_accounts

VCARD_NS = "vcard-temp"
PRIVATE_NS = "jabber:iq:private"


def _vcard(client, full_name: str, nickname: str):
    vcard = client.plugin["xep_0054"].make_vcard()
    vcard["FN"] = full_name
    vcard["NICKNAME"] = nickname
    vcard["URL"] = "https://example.org/~" + nickname
    return vcard


def _field(iq, name: str) -> str | None:
    """The text of a vCard field as sent (slixmpp's accessors turn some into lists)."""
    return iq.xml.findtext(f"{{{VCARD_NS}}}vCard/{{{VCARD_NS}}}{name}")


async def _get_vcard(client, jid: str | None):
    """vCard get without slixmpp's local shortcut (it answers own-JID queries from its cache)."""
    return await client.plugin["xep_0054"].get_vcard(jid, local=False, timeout=10)


async def _iq_error(coro) -> list[str]:
    try:
        iq = await coro
    except IqError as exc:
        return slix.error_conditions(exc.iq)
    raise AssertionError(f"expected an error, got {iq}")


def test_vcard_round_trip_and_contacts_view(server):
    """XEP-0054 §3.2: alice publishes her vCard; §3.1: she gets it back; §3.3: her contact bob,
    and also carol who has no subscription at all (vCards are public in vcard-temp), see it. An
    account without a vCard and an account that does not exist give the same error (§3.3: "the
    server MUST return the same error condition in both cases"); bob cannot change alice's vCard."""
    acc = unique_accounts(server, "alice", "bob", "carol")
    alice_jid, bob_jid = acc["alice"][0], acc["bob"][0]
    result = server.cli("user", "add-contact", alice_jid, bob_jid)
    assert result.returncode == 0, result.stdout + result.stderr

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="a", plugins=("xep_0054",))
            bob = await clients.connect(*acc["bob"], resource="b", plugins=("xep_0054",))
            carol = await clients.connect(*acc["carol"], resource="c", plugins=("xep_0054",))

            # alice has no vCard yet: either an empty <vCard/> or an error (§3.1).
            try:
                empty = await _get_vcard(alice, None)
                vcard = empty.xml.find(f"{{{VCARD_NS}}}vCard")
                assert vcard is not None and len(vcard) == 0, f"expected an empty vCard: {empty}"
            except IqError as exc:
                assert slix.error_conditions(exc.iq) == ["item-not-found"], str(exc.iq)

            await alice.plugin["xep_0054"].publish_vcard(_vcard(alice, "Alice Example", "alice"), timeout=10)

            own = await _get_vcard(alice, None)
            assert _field(own, "FN") == "Alice Example", str(own)
            assert _field(own, "NICKNAME") == "alice", str(own)
            own_bare = await _get_vcard(alice, alice_jid)
            assert _field(own_bare, "FN") == "Alice Example", str(own_bare)

            seen_by_contact = await _get_vcard(bob, alice_jid)
            assert slix.attr(seen_by_contact, "from") == alice_jid, str(seen_by_contact)
            assert _field(seen_by_contact, "FN") == "Alice Example", str(seen_by_contact)
            assert _field(seen_by_contact, "URL") == "https://example.org/~alice", str(seen_by_contact)

            seen_by_stranger = await _get_vcard(carol, alice_jid)
            assert _field(seen_by_stranger, "FN") == "Alice Example", str(seen_by_stranger)

            # Same error for "no vCard" (carol has none) and "no such user" (§3.3).
            no_vcard = await _iq_error(_get_vcard(bob, acc["carol"][0]))
            no_user = await _iq_error(_get_vcard(bob, "nobody-here-at-all@localhost"))
            assert no_vcard == no_user, f"§3.3: same condition required, got {no_vcard} vs {no_user}"
            assert no_vcard in (["service-unavailable"], ["item-not-found"]), no_vcard

            # Someone else's vCard cannot be set (§3.2 note: forbidden or not-allowed).
            conditions = await _iq_error(bob.plugin["xep_0054"].publish_vcard(
                _vcard(bob, "Not Alice", "mallory"), jid=alice_jid, timeout=10))
            assert conditions in (["forbidden"], ["not-allowed"]), conditions
            again = await _get_vcard(bob, alice_jid)
            assert _field(again, "FN") == "Alice Example", str(again)

            # An update replaces the vCard.
            await alice.plugin["xep_0054"].publish_vcard(_vcard(alice, "Alice Renamed", "ali"), timeout=10)
            updated = await _get_vcard(bob, alice_jid)
            assert _field(updated, "FN") == "Alice Renamed", str(updated)

    slix.run(body)


def _private_query(*children: ET.Element) -> ET.Element:
    query = ET.Element(f"{{{PRIVATE_NS}}}query")
    query.extend(children)
    return query


async def _private(client, kind: str, *children: ET.Element, to: str | None = None):
    iq = client.make_iq_set(ito=to) if kind == "set" else client.make_iq_get(ito=to)
    iq.xml.append(_private_query(*children))
    return await iq.send(timeout=10)


def test_private_xml_round_trip(server):
    """XEP-0049: alice stores an element under its own namespace and gets it back from another
    session (§2.1, §2.2); an element never stored comes back empty; another user cannot read it
    (§2.3: forbidden); a reserved namespace is not-acceptable."""
    acc = unique_accounts(server, "alice", "bob")
    alice_jid = acc["alice"][0]
    ns = "urn:example:interop:prefs"

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            alice = await clients.connect(*acc["alice"], resource="a", plugins=("xep_0049",))
            prefs = ET.Element(f"{{{ns}}}prefs", {"theme": "dark"})
            ET.SubElement(prefs, f"{{{ns}}}item").text = "éléments & <stuff>"
            stored = await _private(alice, "set", prefs)
            assert stored["type"] == "result", str(stored)

            alice2 = await clients.connect(*acc["alice"], resource="a2", plugins=("xep_0049",))
            got = await _private(alice2, "get", ET.Element(f"{{{ns}}}prefs"))
            element = got.xml.find(f"{{{PRIVATE_NS}}}query/{{{ns}}}prefs")
            assert element is not None, str(got)
            assert element.get("theme") == "dark", str(got)
            assert element.findtext(f"{{{ns}}}item") == "éléments & <stuff>", str(got)

            missing_ns = "urn:example:interop:never-stored"
            got = await _private(alice2, "get", ET.Element(f"{{{missing_ns}}}data"))
            element = got.xml.find(f"{{{PRIVATE_NS}}}query/{{{missing_ns}}}data")
            assert element is not None and len(element) == 0 and not element.attrib, str(got)

            bob = await clients.connect(*acc["bob"], resource="b", plugins=("xep_0049",))
            conditions = await _iq_error(_private(bob, "get", ET.Element(f"{{{ns}}}prefs"), to=alice_jid))
            assert conditions in (["forbidden"], ["service-unavailable"]), conditions

            conditions = await _iq_error(_private(alice, "set", ET.Element(f"{{{PRIVATE_NS}}}foo")))
            assert conditions == ["not-acceptable"], conditions

    slix.run(body)
