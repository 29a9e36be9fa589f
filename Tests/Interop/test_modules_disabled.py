"""`modules_disabled` (as Prosody's setting of that name): a disabled module is not advertised and
serves nothing, the rest of the server is unchanged, and the data it kept for an account still goes
when the account is deleted."""

from __future__ import annotations

import asyncio
from xml.etree import ElementTree as ET

import pytest
import slix
from slix import error_conditions, message_with_body
from slixmpp.exceptions import IqError
from test_im_discovery import CAPS_NS, _raw_login_features
from test_im_messages import CARBONS_NS, SID_NS, _offline_count

VCARD_NS = "vcard-temp"
QUIET = 1.5  # seconds to wait before concluding that something did not arrive


async def _iq_error(make_iq) -> list[str]:
    try:
        result = await make_iq()
    except IqError as error:
        return error_conditions(error.iq)
    pytest.fail(f"expected an error, got {result}")


def test_disabled_modules_are_not_advertised_and_serve_nothing(make_server):
    """With carbons, stanza-id, vcard and caps disabled: disco#info no longer lists their features,
    the caps stream feature is gone, enabling carbons and reading a vCard get the answer of a server
    without them (RFC 6120 §8.3.3.19 service-unavailable), and a message arrives without a
    stanza-id. What is still enabled (blocking, ping) keeps working."""
    def configure(cfg):
        cfg["modules_disabled"] = ["carbons", "stanza-id", "vcard", "caps"]

    srv = make_server("modules-disabled server", accounts={"alice": "a-pw", "bob": "b-pw"}, configure=configure)
    assert "modules disabled by the configuration" in srv.log_text()

    async def body():
        async with slix.Clients(srv.c2s_port) as clients:
            alice = await clients.connect("alice@localhost", "a-pw", resource="a",
                                          plugins=("xep_0030", "xep_0191"))
            bob = await clients.connect("bob@localhost", "b-pw", resource="b")
            info = await alice.plugin["xep_0030"].get_info(jid="localhost", local=False, timeout=10)
            features = set(info["disco_info"]["features"])
            for gone in (CARBONS_NS, SID_NS, VCARD_NS, CAPS_NS):
                assert gone not in features, f"{gone} is disabled but advertised: {sorted(features)}"
            for kept in ("urn:xmpp:blocking", "urn:xmpp:ping", "msgoffline"):
                assert kept in features, f"{kept} is enabled but not advertised: {sorted(features)}"

            enable = alice.make_iq_set(ito=None)
            enable.xml.append(ET.Element(f"{{{CARBONS_NS}}}enable"))
            assert await _iq_error(lambda: enable.send(timeout=10)) == ["service-unavailable"]
            vcard = alice.make_iq_get(ito="bob@localhost")
            vcard.xml.append(ET.Element(f"{{{VCARD_NS}}}vCard"))
            assert await _iq_error(lambda: vcard.send(timeout=10)) == ["service-unavailable"]

            await alice.plugin["xep_0199"].ping(jid="localhost", timeout=10)
            blocklist = await alice.plugin["xep_0191"].get_blocked(timeout=10)
            assert list(blocklist["blocklist"]["items"]) == []

            alice.make_message(mto="bob@localhost", mbody="no stanza-id here", mtype="chat").send()
            got = await bob.inbox.wait_for(message_with_body("no stanza-id here"), 10, "the message")
            assert got.xml.find(f"{{{SID_NS}}}stanza-id") is None, f"stanza-id is disabled: {got}"

    slix.run(body)

    stream, features = _raw_login_features(srv, "alice", "a-pw")
    stream.close()
    assert features.find(f"{{{CAPS_NS}}}c") is None, ET.tostring(features).decode()


@pytest.mark.parametrize("turned_off", [
    {"modules_disabled": ["vcard", "offline"]},
    {"modules_disabled": ["vcard"], "limits": {"offline_messages_per_user": 0}},
], ids=["modules_disabled", "offline_limit_0"])
def test_account_data_goes_with_the_account_even_when_its_module_is_disabled(make_server, turned_off):
    """alice keeps a vCard and an offline message. With vcard and offline storage turned off, her
    account is deleted; once they are back on and an account of the same name is created, it must
    find neither: a deleted account's data never comes back with a new account."""
    srv = make_server("account-data server", accounts={"alice": "a-pw", "bob": "b-pw"})

    async def keep_data():
        async with slix.Clients(srv.c2s_port) as clients:
            alice = await clients.connect("alice@localhost", "a-pw", resource="a", plugins=("xep_0054",))
            vcard = alice.plugin["xep_0054"].make_vcard()
            vcard["FN"] = "Alice Before"
            await alice.plugin["xep_0054"].publish_vcard(vcard, timeout=10)
            await clients.disconnect(alice)
            bob = await clients.connect("bob@localhost", "b-pw", resource="b")
            bob.make_message(mto="alice@localhost", mbody="kept while offline", mtype="chat").send()
            for _ in range(100):
                if _offline_count(srv, "alice@localhost") == 1:
                    break
                await asyncio.sleep(0.1)

    slix.run(keep_data)
    assert _offline_count(srv, "alice@localhost") == 1

    srv.stop()
    saved = {key: srv.config.get(key) for key in turned_off}
    for key, value in turned_off.items():
        srv.config[key] = {**srv.config[key], **value} if isinstance(value, dict) else value
    srv.write_config()
    deleted = srv.cli("user", "delete", "alice@localhost")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr

    for key, value in saved.items():
        if value is None:
            srv.config.pop(key)
        else:
            srv.config[key] = value
    srv.write_config()
    srv.add_user("alice@localhost", "a-pw-2")
    assert _offline_count(srv, "alice@localhost") == 0, "the deleted account's offline message came back"
    srv.start()

    async def check():
        async with slix.Clients(srv.c2s_port) as clients:
            alice = await clients.connect("alice@localhost", "a-pw-2", resource="a", plugins=("xep_0054",))
            await asyncio.sleep(QUIET)
            assert not alice.inbox.matching(message_with_body("kept while offline"), include_taken=True), \
                alice.inbox.describe()
            try:
                got = await alice.plugin["xep_0054"].get_vcard(None, local=False, timeout=10)
            except IqError as error:
                assert error_conditions(error.iq) == ["item-not-found"], str(error.iq)
                return
            assert got.xml.findtext(f"{{{VCARD_NS}}}vCard/{{{VCARD_NS}}}FN") is None, \
                f"the deleted account's vCard came back: {got}"

    slix.run(check)
