"""Federation limits a remote domain cannot get around (RFC 6120 §13.12): incoming s2s
connections per remote domain. The full federation suite (real peers in network namespaces)
is scripts/test-federation."""
import socket
import time

from conftest import free_port

HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' "
          "xmlns:stream='http://etherx.jabber.org/streams' from='peer.example' to='localhost' version='1.0'>")


def read_until(sock: socket.socket, marker: bytes, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_incoming_connections_per_remote_domain_are_limited(make_server):
    port = free_port()

    def configure(config):
        config["listeners"]["s2s"] = {"address": "127.0.0.1", "port": port}
        config["s2s"] = {"max_connections_per_domain": 1}

    make_server("s2s limits", configure=configure)
    first = socket.create_connection(("127.0.0.1", port), timeout=5)
    second = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        first.sendall(HEADER.encode())
        features = read_until(first, b"</stream:features>")
        assert b"<starttls" in features, features
        second.sendall(HEADER.encode())
        refused = read_until(second, b"</stream:stream>")
        assert b"<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in refused, refused
        assert read_until(second, b"never", timeout=3) == b"", "the refused connection must be closed"
        # The first connection is unaffected; once it goes, the domain may connect again.
        first.sendall(b"</stream:stream>")
        read_until(first, b"</stream:stream>")
        first.close()
        time.sleep(0.5)
        third = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            third.sendall(HEADER.encode())
            assert b"<starttls" in read_until(third, b"</stream:features>")
        finally:
            third.close()
    finally:
        first.close()
        second.close()
