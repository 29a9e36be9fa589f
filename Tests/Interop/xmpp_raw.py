"""A deliberately small raw XMPP client: plain sockets, TLS without verification, and an XML pull
parser, so tests can send exactly the bytes they want and see exactly the bytes the server sent.

Nothing here is a general XMPP library: it does what the interop tests need, and every wait has a
deadline so a misbehaving server makes a test fail instead of hang.
"""

from __future__ import annotations

import base64
import collections
import errno
import hashlib
import hmac
import os
import socket
import ssl
import time
import xml.etree.ElementTree as ET

STREAMS_NS = "http://etherx.jabber.org/streams"
STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"
STANZA_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
CLIENT_NS = "jabber:client"
SASL_CB_NS = "urn:xmpp:sasl-cb:0"  # XEP-0440

DEFAULT_TIMEOUT = 10.0


def q(ns: str, local: str) -> str:
    """ElementTree's {namespace}local tag notation."""
    return "{%s}%s" % (ns, local)


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def no_verify_context() -> ssl.SSLContext:
    """Client TLS context that accepts the server's self-signed certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def stream_header(
    to: str | None = "localhost",
    content_ns: str = CLIENT_NS,
    stream_ns: str = STREAMS_NS,
    version: str = "1.0",
    xml_decl: bool = True,
) -> bytes:
    attrs = []
    if to is not None:
        attrs.append(f"to='{to}'")
    attrs.append(f"version='{version}'")
    attrs.append(f"xmlns='{content_ns}'")
    attrs.append(f"xmlns:stream='{stream_ns}'")
    decl = "<?xml version='1.0'?>" if xml_decl else ""
    return (decl + "<stream:stream " + " ".join(attrs) + ">").encode()


class RawStream:
    """One client connection. Received bytes are kept verbatim in `received` (after TLS decryption)
    and parsed incrementally; top-level stream children are queued as complete elements."""

    def __init__(self, port: int, host: str = "127.0.0.1", *, direct_tls: bool = False,
                 sni: str = "localhost", timeout: float = DEFAULT_TIMEOUT):
        self.sni = sni
        self.timeout = timeout
        self.sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
        self.received = bytearray()  # every byte the server sent, across TLS restarts
        self.transcript: list[tuple[str, bytes]] = []  # ("C"/"S", bytes), in order
        self.closed = False  # the server closed the connection (EOF, TLS EOF or reset)
        self.reset_by_peer = False
        self.tls = False
        if direct_tls:
            self._wrap_tls()
        self._reset_parser()

    # ----------------------------------------------------------------- plumbing

    def _reset_parser(self) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0
        self.header: ET.Element | None = None  # the server's <stream:stream> start tag
        self.stream_closed = False  # the server sent </stream:stream>
        self.parse_error: Exception | None = None
        self._queue: collections.deque[ET.Element] = collections.deque()
        self._segment_start = len(self.received)

    def _wrap_tls(self) -> None:
        self.sock = no_verify_context().wrap_socket(self.sock, server_hostname=self.sni)
        self.sock.settimeout(self.timeout)
        self.tls = True

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append(("C", data))
        self.sock.sendall(data)

    def try_send(self, data: bytes | str) -> bool:
        """Send, tolerating a server that already closed (it may close mid-send on a limit)."""
        try:
            self.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return False

    def _feed(self, data: bytes) -> None:
        self.received += data
        self.transcript.append(("S", data))
        if self.parse_error is not None:
            return
        try:
            self._parser.feed(data)
            for event, elem in self._parser.read_events():
                if event == "start":
                    self._depth += 1
                    if self._depth == 1:
                        self.header = elem
                else:
                    self._depth -= 1
                    if self._depth == 1:
                        self._queue.append(elem)
                    elif self._depth == 0:
                        self.stream_closed = True
        except ET.ParseError as exc:  # the server sent bytes that are not well-formed XML
            self.parse_error = exc

    def _recv_once(self, deadline: float) -> bool:
        """Read once. Returns False when the deadline passed without data or the peer closed."""
        if self.closed:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except ssl.SSLWantReadError:
            return True
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            self.closed = True
            return False
        except ConnectionResetError:
            self.closed = True
            self.reset_by_peer = True
            return False
        except ssl.SSLError as exc:
            if "EOF" in str(exc) or "SHUTDOWN" in str(exc).upper():
                self.closed = True
                return False
            raise
        except OSError as exc:
            if exc.errno in (errno.ECONNRESET, errno.EPIPE):
                self.closed = True
                self.reset_by_peer = True
                return False
            raise
        if not data:
            self.closed = True
            return False
        self._feed(data)
        return True

    def describe(self) -> str:
        """The conversation so far, for assertion messages."""
        lines = []
        for who, data in self.transcript:
            text = data.decode("utf-8", "replace")
            if len(text) > 600:
                text = text[:300] + f"...[{len(text) - 600} chars]..." + text[-300:]
            lines.append(f"  {'client' if who == 'C' else 'server'}: {text}")
        state = []
        if self.closed:
            state.append("connection closed by server" + (" (reset)" if self.reset_by_peer else ""))
        if self.stream_closed:
            state.append("server sent </stream:stream>")
        if self.parse_error:
            state.append(f"server bytes not well-formed: {self.parse_error}")
        return "\n".join(lines) + ("\n  [" + "; ".join(state) + "]" if state else "")

    # ----------------------------------------------------------------- reading

    def next_element(self, timeout: float | None = None) -> ET.Element:
        """The next complete top-level element the server sent; fails on close or timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self._queue:
            assert self.parse_error is None, "server sent XML that is not well-formed:\n" + self.describe()
            if self.closed:
                raise AssertionError("server closed the connection while an element was expected:\n"
                                     + self.describe())
            if not self._recv_once(deadline) and not self.closed:
                if time.monotonic() >= deadline:
                    raise AssertionError("timed out waiting for an element from the server:\n"
                                         + self.describe())
        return self._queue.popleft()

    def next_matching(self, predicate, timeout: float | None = None,
                      what: str = "element") -> ET.Element:
        """The next element satisfying `predicate`; the others received meanwhile are appended
        to `self.skipped` (so a test can still look at them)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if not hasattr(self, "skipped"):
            self.skipped: list[ET.Element] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}:\n" + self.describe())
            elem = self.next_element(remaining)
            if predicate(elem):
                return elem
            self.skipped.append(elem)

    def expect(self, tag: str, timeout: float | None = None) -> ET.Element:
        elem = self.next_element(timeout)
        assert elem.tag == tag, (f"expected {tag}, got {elem.tag}: {ET.tostring(elem).decode()}\n"
                                 + self.describe())
        return elem

    def wait_header(self, timeout: float | None = None) -> ET.Element:
        deadline = time.monotonic() + (timeout or self.timeout)
        while self.header is None:
            assert self.parse_error is None, "server sent XML that is not well-formed:\n" + self.describe()
            if self.closed or (not self._recv_once(deadline) and time.monotonic() >= deadline):
                raise AssertionError("no stream header from the server:\n" + self.describe())
        assert self.header.tag == q(STREAMS_NS, "stream"), \
            f"server stream header has tag {self.header.tag}:\n" + self.describe()
        return self.header

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """Read (and parse) until the server closes the connection. True if it did in time."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._recv_once(deadline)
        return self.closed

    def stream_error(self, timeout: float | None = None) -> ET.Element:
        """Expects the next element to be <stream:error/>; returns it."""
        return self.expect(q(STREAMS_NS, "error"), timeout)

    def assert_stream_error_and_close(self, condition: str, timeout: float | None = None) -> ET.Element:
        """The server sends <stream:error><condition/></stream:error>, then </stream:stream>,
        then closes the TCP connection (RFC 6120 §4.9.1.1)."""
        err = self.stream_error(timeout)
        conditions = [local_name(c.tag) for c in err if namespace(c.tag) == STREAM_ERRORS_NS
                      and local_name(c.tag) != "text"]
        assert conditions == [condition], (
            f"expected stream error <{condition}/>, got {conditions}: {ET.tostring(err).decode()}\n"
            + self.describe())
        assert self.wait_closed(5.0), "server did not close the connection after the stream error:\n" \
            + self.describe()
        assert self.stream_closed, "server closed the connection without sending </stream:stream>:\n" \
            + self.describe()
        return err

    # ----------------------------------------------------------------- negotiation

    def open(self, to: str = "localhost", **kwargs) -> ET.Element:
        """Sends a stream header and returns the server's <stream:features/>."""
        self._reset_parser()
        self.send(stream_header(to, **kwargs))
        self.wait_header()
        return self.expect(q(STREAMS_NS, "features"))

    def starttls(self) -> None:
        self.send(f"<starttls xmlns='{TLS_NS}'/>")
        self.expect(q(TLS_NS, "proceed"))
        self._wrap_tls()
        self._reset_parser()

    def tls_server_end_point(self) -> bytes:
        """RFC 5929 §4.1 channel-binding data for the server certificate of this connection."""
        assert self.tls
        der = self.sock.getpeercert(binary_form=True)
        return tls_server_end_point(der)

    def auth(self, mechanism: str, initial: bytes | None) -> None:
        payload = "=" if initial == b"" else (base64.b64encode(initial).decode() if initial else "")
        self.send(f"<auth xmlns='{SASL_NS}' mechanism='{mechanism}'>{payload}</auth>")

    def auth_plain(self, username: str, password: str) -> ET.Element:
        """Sends PLAIN; returns the server's <success/> or <failure/>."""
        self.auth("PLAIN", b"\0" + username.encode() + b"\0" + password.encode())
        return self.next_element()

    def bind(self, resource: str | None = None) -> str:
        res = f"<resource>{resource}</resource>" if resource else ""
        self.send(f"<iq type='set' id='bind1'><bind xmlns='{BIND_NS}'>{res}</bind></iq>")
        iq = self.expect(q(CLIENT_NS, "iq"))
        assert iq.get("type") == "result", "bind failed:\n" + self.describe()
        jid = iq.find(f"{q(BIND_NS, 'bind')}/{q(BIND_NS, 'jid')}")
        assert jid is not None and jid.text, "bind result without <jid/>:\n" + self.describe()
        return jid.text

    def login_plain(self, username: str, password: str, *, domain: str = "localhost",
                    resource: str | None = None, direct_tls: bool = False) -> str:
        """Full login (STARTTLS unless the connection is already TLS, PLAIN, bind); returns the JID."""
        features = self.open(domain)
        if not self.tls:
            assert features.find(q(TLS_NS, "starttls")) is not None, self.describe()
            self.starttls()
            self.open(domain)
        result = self.auth_plain(username, password)
        assert result.tag == q(SASL_NS, "success"), "PLAIN login failed:\n" + self.describe()
        features = self.open(domain)
        assert features.find(q(BIND_NS, "bind")) is not None, "no <bind/> feature:\n" + self.describe()
        return self.bind(resource)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mechanisms(features: ET.Element) -> list[str]:
    mechs = features.find(q(SASL_NS, "mechanisms"))
    if mechs is None:
        return []
    return [m.text or "" for m in mechs.findall(q(SASL_NS, "mechanism"))]


def sasl_condition(failure: ET.Element) -> list[str]:
    return [local_name(c.tag) for c in failure if local_name(c.tag) != "text"]


# --------------------------------------------------------------------------- channel binding

_SIG_OID_HASH = {
    # RSA PKCS#1 v1.5
    "1.2.840.113549.1.1.4": "md5", "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.14": "sha224", "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
    # ECDSA
    "1.2.840.10045.4.1": "sha1", "1.2.840.10045.4.3.1": "sha224", "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
}


def _der_header(buf: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of contents, length of contents) of the DER TLV at i."""
    tag = buf[i]
    length = buf[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[i:i + n], "big")
        i += n
    return tag, i, length


def certificate_signature_oid(der: bytes) -> str:
    """The signatureAlgorithm OID of an X.509 certificate (RFC 5280 §4.1.1.2)."""
    tag, start, _ = _der_header(der, 0)            # Certificate SEQUENCE
    assert tag == 0x30
    tag, tbs_start, tbs_len = _der_header(der, start)  # tbsCertificate
    tag, alg_start, _ = _der_header(der, tbs_start + tbs_len)  # AlgorithmIdentifier SEQUENCE
    assert tag == 0x30
    tag, oid_start, oid_len = _der_header(der, alg_start)
    assert tag == 0x06
    raw = der[oid_start:oid_start + oid_len]
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def tls_server_end_point(der: bytes) -> bytes:
    """RFC 5929 §4.1: hash of the certificate with its signature hash; MD5 and SHA-1 become SHA-256."""
    oid = certificate_signature_oid(der)
    name = _SIG_OID_HASH.get(oid)
    if name is None:
        raise NotImplementedError(f"tls-server-end-point undefined here for signature algorithm {oid}")
    if name in ("md5", "sha1"):
        name = "sha256"
    return hashlib.new(name, der).digest()


# --------------------------------------------------------------------------- SCRAM (RFC 5802)

class ScramClient:
    """A SCRAM client, written from RFC 5802/7677, for tests that need to control the GS2 header
    and channel-binding data (which slixmpp cannot: it only knows tls-unique)."""

    HASHES = {"SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}

    def __init__(self, mechanism: str, username: str, password: str, *,
                 gs2_flag: str = "n", cb_data: bytes = b""):
        base = mechanism[:-5] if mechanism.endswith("-PLUS") else mechanism
        self.hash = self.HASHES[base[len("SCRAM-"):]]
        self.username = username.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode()
        self.gs2_header = (gs2_flag + ",,").encode()
        self.cb_data = cb_data
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.server_signature = b""

    def first(self) -> bytes:
        self.client_first_bare = f"n={self.username},r={self.cnonce}".encode()
        return self.gs2_header + self.client_first_bare

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash).digest()

    def final(self, server_first: bytes) -> bytes:
        attrs = dict(item.split(b"=", 1) for item in server_first.split(b","))
        nonce = attrs[b"r"]
        assert nonce.startswith(self.cnonce.encode()), "server nonce does not extend the client nonce"
        salt = base64.b64decode(attrs[b"s"])
        iterations = int(attrs[b"i"])
        salted = hashlib.pbkdf2_hmac(self.hash, self.password, salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = b"c=" + base64.b64encode(self.gs2_header + self.cb_data) + b",r=" + nonce
        auth_message = self.client_first_bare + b"," + server_first + b"," + without_proof
        signature = self._hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return without_proof + b",p=" + base64.b64encode(proof)

    def verify(self, server_final: bytes) -> bool:
        attrs = dict(item.split(b"=", 1) for item in server_final.split(b","))
        return b"v" in attrs and base64.b64decode(attrs[b"v"]) == self.server_signature


def scram_login(stream: RawStream, mechanism: str, username: str, password: str, *,
                gs2_flag: str = "n", cb_data: bytes = b"") -> ET.Element:
    """Runs a SCRAM exchange on an open, post-TLS stream whose features were read. Returns the
    final <success/> or <failure/> element; on success the server signature was verified."""
    client = ScramClient(mechanism, username, password, gs2_flag=gs2_flag, cb_data=cb_data)
    stream.auth(mechanism, client.first())
    reply = stream.next_element()
    if reply.tag != q(SASL_NS, "challenge"):
        return reply
    server_first = base64.b64decode(reply.text or "")
    stream.send(f"<response xmlns='{SASL_NS}'>{base64.b64encode(client.final(server_first)).decode()}</response>")
    reply = stream.next_element()
    if reply.tag == q(SASL_NS, "challenge"):
        # Server-final sent as a challenge (allowed, though RFC 6120 prefers <success/> with
        # additional data): verify it, answer with an empty response, then expect the outcome.
        additional = base64.b64decode(reply.text or "")
        assert client.verify(additional), (f"server signature did not verify: {additional!r}\n"
                                           + stream.describe())
        stream.send(f"<response xmlns='{SASL_NS}'/>")
        return stream.next_element()
    if reply.tag == q(SASL_NS, "success"):
        additional = base64.b64decode(reply.text or "")
        assert client.verify(additional), (f"server signature did not verify: {additional!r}\n"
                                           + stream.describe())
    return reply
