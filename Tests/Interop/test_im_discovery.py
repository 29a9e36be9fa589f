"""What the server says about itself: service discovery (XEP-0030) with extended info (XEP-0128)
and contact addresses (XEP-0157), its entity-capabilities stream feature (XEP-0115 §6.3) checked
against a hash computed here from its disco#info, software version (XEP-0092), entity time
(XEP-0202) and last activity / uptime (XEP-0012 §5)."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import slix
from conftest import unique_accounts
from xmpp_raw import CLIENT_NS, SASL_NS, RawStream, q

DISCO_INFO_NS = "http://jabber.org/protocol/disco#info"
CAPS_NS = "http://jabber.org/protocol/caps"
DATA_NS = "jabber:x:data"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

REQUIRED_FEATURES = [
    DISCO_INFO_NS, "urn:xmpp:ping", "msgoffline", "urn:xmpp:carbons:2", "urn:xmpp:blocking",
    "vcard-temp", "jabber:iq:register", "jabber:iq:version", "urn:xmpp:time", "jabber:iq:last",
    "jabber:iq:private", CAPS_NS,
]

CONTACTS = {
    "admin": ["mailto:admin@example.org"],
    "abuse": ["xmpp:abuse@localhost", "mailto:abuse@example.org"],
}


def caps_ver(query: ET.Element) -> str:
    """XEP-0115 §5.1 verification string (sha-1) of a disco#info <query/>, written from the spec."""
    def octets(s: str) -> bytes:
        return s.encode("utf-8")

    identities = [(i.get("category", ""), i.get("type", ""), i.get(XML_LANG, ""), i.get("name", ""))
                  for i in query.findall(f"{{{DISCO_INFO_NS}}}identity")]
    identities.sort(key=lambda t: (octets(t[0]), octets(t[1]), octets(t[2])))
    s = "".join(f"{c}/{t}/{lang}/{name}<" for c, t, lang, name in identities)
    features = sorted((f.get("var", "") for f in query.findall(f"{{{DISCO_INFO_NS}}}feature")), key=octets)
    s += "".join(f + "<" for f in features)
    forms = []
    for form in query.findall(f"{{{DATA_NS}}}x"):
        fields = {}
        form_type = None
        for field in form.findall(f"{{{DATA_NS}}}field"):
            values = [v.text or "" for v in field.findall(f"{{{DATA_NS}}}value")]
            if field.get("var") == "FORM_TYPE":
                form_type = values[0] if values else ""
            else:
                fields[field.get("var", "")] = values
        if form_type is None:
            continue  # §5.4: forms without FORM_TYPE are ignored
        forms.append((form_type, fields))
    forms.sort(key=lambda f: octets(f[0]))
    for form_type, fields in forms:
        s += form_type + "<"
        for var in sorted(fields, key=octets):
            s += var + "<"
            s += "".join(v + "<" for v in sorted(fields[var], key=octets))
    return base64.b64encode(hashlib.sha1(s.encode("utf-8")).digest()).decode()


def _raw_login_features(srv, user: str, password: str) -> tuple[RawStream, ET.Element]:
    """STARTTLS + PLAIN + the stream restart; returns the stream and the features after auth."""
    s = RawStream(srv.c2s_port)
    s.open()
    s.starttls()
    s.open()
    result = s.auth_plain(user, password)
    assert result.tag == q(SASL_NS, "success"), s.describe()
    return s, s.open()


def _iq(s: RawStream, payload: str, *, to: str = "localhost", id: str) -> ET.Element:
    s.send(f"<iq type='get' id='{id}' to='{to}'>{payload}</iq>")
    return s.next_matching(lambda e: e.tag == q(CLIENT_NS, "iq") and e.get("id") == id, what=f"reply to {id}")


def _form_fields(query: ET.Element, form_type: str) -> dict[str, list[str]] | None:
    for form in query.findall(f"{{{DATA_NS}}}x"):
        fields = {f.get("var"): [v.text or "" for v in f.findall(f"{{{DATA_NS}}}value")]
                  for f in form.findall(f"{{{DATA_NS}}}field")}
        if fields.get("FORM_TYPE") == [form_type]:
            return fields
    return None


def test_disco_info_caps_and_contact_addresses(make_server):
    """The server's disco#info has the server/im identity and the IM features; the caps <c/>
    stream feature after authentication carries hash='sha-1' and a ver equal to the XEP-0115
    §5.1 hash of that disco#info, XEP-0128 contact-address form included (XEP-0157); a
    disco#info query to node#ver answers the same, with the node mirrored (§6.2)."""
    def configure(cfg):
        cfg["contact_addresses"] = CONTACTS

    srv = make_server("disco server", accounts={"dora": "dora-pw"}, configure=configure)
    s, features = _raw_login_features(srv, "dora", "dora-pw")
    with s:
        caps = features.find(q(CAPS_NS, "c"))
        assert caps is not None, "no XEP-0115 <c/> in the stream features after auth:\n" + s.describe()
        assert caps.get("hash") == "sha-1", ET.tostring(caps).decode()
        assert caps.get("node"), ET.tostring(caps).decode()
        s.bind("disco")

        reply = _iq(s, f"<query xmlns='{DISCO_INFO_NS}'/>", id="info1")
        assert reply.get("type") == "result", s.describe()
        query = reply.find(q(DISCO_INFO_NS, "query"))
        identities = [(i.get("category"), i.get("type")) for i in query.findall(q(DISCO_INFO_NS, "identity"))]
        assert ("server", "im") in identities, identities
        features_listed = [f.get("var") for f in query.findall(q(DISCO_INFO_NS, "feature"))]
        missing = [f for f in REQUIRED_FEATURES if f not in features_listed]
        assert not missing, f"disco#info lacks {missing}; lists {features_listed}"
        assert len(features_listed) == len(set(features_listed)), f"duplicate features: {features_listed}"

        contacts = _form_fields(query, "http://jabber.org/network/serverinfo")
        assert contacts is not None, "XEP-0157 form missing from disco#info:\n" + ET.tostring(query).decode()
        assert contacts.get("admin-addresses") == CONTACTS["admin"], contacts
        assert sorted(contacts.get("abuse-addresses", [])) == sorted(CONTACTS["abuse"]), contacts
        assert "security-addresses" not in contacts or contacts["security-addresses"] == [], contacts

        expected = caps_ver(query)
        assert caps.get("ver") == expected, (
            f"caps ver {caps.get('ver')!r} is not the XEP-0115 §5.1 hash of the disco#info, {expected!r}:\n"
            + ET.tostring(query).decode())

        node = f"{caps.get('node')}#{caps.get('ver')}"
        reply = _iq(s, f"<query xmlns='{DISCO_INFO_NS}' node='{node}'/>", id="info2")
        assert reply.get("type") == "result", s.describe()
        by_node = reply.find(q(DISCO_INFO_NS, "query"))
        assert by_node.get("node") == node, ET.tostring(reply).decode()
        assert caps_ver(by_node) == expected, ET.tostring(reply).decode()


def test_no_contact_form_without_configuration(server):
    """Without contact_addresses the server publishes no XEP-0157 form, and its caps ver still
    matches its disco#info."""
    acc = unique_accounts(server, "dora")
    jid, password = acc["dora"]
    s, features = _raw_login_features(server, jid.split("@")[0], password)
    with s:
        s.bind("disco")
        query = _iq(s, f"<query xmlns='{DISCO_INFO_NS}'/>", id="info").find(q(DISCO_INFO_NS, "query"))
        assert _form_fields(query, "http://jabber.org/network/serverinfo") is None, ET.tostring(query).decode()
        caps = features.find(q(CAPS_NS, "c"))
        assert caps is not None and caps.get("ver") == caps_ver(query), ET.tostring(query).decode()


def test_version_time_last_activity_and_account_disco(make_server):
    """XEP-0092: name and version, and no <os/> (server_info.show_os defaults to false);
    XEP-0202: <tzo/> and a <utc/> close to now; XEP-0012 §5: the server's last activity is its
    uptime; XEP-0030 on one's own account lists urn:xmpp:sid:0 (XEP-0359 §5)."""
    srv = make_server("info server", accounts={"erin": "erin-pw"})
    started = time.monotonic()
    time.sleep(1.2)

    async def body():
        async with slix.Clients(srv.c2s_port) as clients:
            erin = await clients.connect("erin@localhost", "erin-pw", resource="e",
                                         plugins=("xep_0030", "xep_0092", "xep_0202", "xep_0012"))
            version = await erin.plugin["xep_0092"].get_version("localhost", timeout=10)
            entity_time = await erin.plugin["xep_0202"].get_entity_time("localhost", timeout=10)
            now = datetime.now(timezone.utc)
            last = await erin.plugin["xep_0012"].get_last_activity("localhost", timeout=10)
            elapsed = time.monotonic() - started
            own = await erin.plugin["xep_0030"].get_info(jid="erin@localhost", local=False, timeout=10)
            return version, entity_time, now, last, elapsed, own

    version, entity_time, now, last, elapsed, own = slix.run(body)

    query = version.xml.find("{jabber:iq:version}query")
    assert query is not None, str(version)
    assert query.findtext("{jabber:iq:version}name"), str(version)
    assert query.findtext("{jabber:iq:version}version"), str(version)
    assert query.find("{jabber:iq:version}os") is None, f"show_os is false but <os/> was sent: {version}"

    t = entity_time.xml.find("{urn:xmpp:time}time")
    assert t is not None, str(entity_time)
    tzo = t.findtext("{urn:xmpp:time}tzo")
    utc = t.findtext("{urn:xmpp:time}utc")
    assert tzo and (tzo == "Z" or tzo[0] in "+-"), str(entity_time)
    assert utc and utc.endswith("Z"), f"XEP-0202: <utc/> is UTC with 'Z': {entity_time}"
    server_now = datetime.fromisoformat(utc.replace("Z", "+00:00"))
    assert abs(server_now - now) < timedelta(seconds=5), (utc, now)

    seconds = int(last.xml.find("{jabber:iq:last}query").get("seconds"))
    assert 1 <= seconds <= elapsed + 2, f"uptime {seconds}s, but the server started about {elapsed:.1f}s ago"

    account_features = [f.get("var") for f in own.xml.iter(f"{{{DISCO_INFO_NS}}}feature")]
    assert "urn:xmpp:sid:0" in account_features, str(own)
    identities = [(i.get("category"), i.get("type")) for i in own.xml.iter(f"{{{DISCO_INFO_NS}}}identity")]
    assert ("account", "registered") in identities, str(own)
