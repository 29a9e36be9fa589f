"""A real XMPP client (slixmpp), run inside a test host's network namespace and steered by the test
process over stdin/stdout with one JSON object per line.

    ip netns exec parley-fed-a .build/interop-venv/bin/python agent.py \
        --jid alice@a.fed.test --password PW --host 10.77.41.11 --port 5222

Events written to stdout:
    {"ev": "ready", "jid": FULL_JID}           logged in, roster fetched, initial presence sent
    {"ev": "failed", "text": WHY}              could not log in (the agent then exits 1)
    {"ev": "in", "xml": STANZA}                every message/presence/iq received, as XML text
    {"ev": "ack", "seq": N}                    the command with that seq was carried out
    {"ev": "disconnected", "text": WHY}        the stream ended (the agent then exits)
Commands read from stdin:
    {"op": "send", "xml": STANZA, "seq": N}    write a stanza (raw XML, jabber:client namespace)
    {"op": "quit", "seq": N}                   close the stream and exit

slixmpp answers XEP-0199 pings and XEP-0030 disco#info queries addressed to the client by itself;
subscription requests are NOT answered automatically (the test decides).
Every wait is bounded; the agent exits on its own after --lifetime seconds whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import ssl
import sys
import threading

from slixmpp import ClientXMPP

_out_lock = threading.Lock()


def emit(**event) -> None:
    line = json.dumps(event)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=5222)
    parser.add_argument("--login-timeout", type=float, default=30.0)
    parser.add_argument("--lifetime", type=float, default=300.0)
    args = parser.parse_args()

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    loop = asyncio.get_running_loop()
    client = ClientXMPP(args.jid, args.password)
    client.register_plugin("xep_0030")  # disco: answers disco#info sent to this client
    client.register_plugin("xep_0199")  # ping: answers pings sent to this client
    client.auto_authorize = None        # the test answers subscription requests itself
    client.auto_subscribe = False
    ctx = ssl.create_default_context()
    # c2s certificates are not what these tests are about (one host deliberately has a
    # self-signed one); the s2s side is where certificates are checked.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    client.ssl_context = ctx
    client.enable_starttls = True
    client.enable_direct_tls = False
    client.enable_plaintext = False
    client.use_ipv6 = False
    client.use_aiodns = False
    client.whitespace_keepalive = False
    client.reconnect_max_attempts = 0

    def record(stanza):
        if getattr(stanza, "name", None) in ("message", "presence", "iq"):
            emit(ev="in", xml=str(stanza))
        return stanza

    client.add_filter("in", record)

    started = loop.create_future()
    finished = loop.create_future()

    def settle(fut, value):
        if not fut.done():
            fut.set_result(value)

    client.add_event_handler("session_start", lambda _=None: settle(started, None))
    client.add_event_handler("failed_all_auth", lambda _=None: settle(started, "authentication failed"))
    client.add_event_handler("no_auth", lambda _=None: settle(started, "no usable SASL mechanism"))
    client.add_event_handler("connection_failed", lambda e=None: settle(started, f"connection failed: {e}"))
    client.add_event_handler(
        "stream_error", lambda e=None: settle(started, f"stream error {e['condition'] if e else ''}"))

    def on_disconnect(reason=None):
        settle(started, f"disconnected: {reason}")
        settle(finished, f"disconnected: {reason}")

    client.add_event_handler("disconnected", on_disconnect)

    client.connect(args.host, args.port)
    try:
        problem = await asyncio.wait_for(started, args.login_timeout)
    except asyncio.TimeoutError:
        problem = f"no session within {args.login_timeout}s"
    if problem is not None:
        emit(ev="failed", text=problem)
        client.abort()
        return 1
    try:
        await asyncio.wait_for(client.get_roster(), 15)
    except Exception as e:  # noqa: BLE001 - report and go on: the roster is not essential
        emit(ev="log", text=f"roster fetch failed: {e!r}")
    client.send_presence()
    emit(ev="ready", jid=str(client.boundjid))

    # Commands arrive on a thread (stdin is a pipe) and are run on the event loop.
    commands: asyncio.Queue = asyncio.Queue()

    def read_stdin():
        for line in sys.stdin:
            line = line.strip()
            if line:
                loop.call_soon_threadsafe(commands.put_nowait, line)
        loop.call_soon_threadsafe(commands.put_nowait, json.dumps({"op": "quit"}))

    threading.Thread(target=read_stdin, daemon=True).start()

    async def serve():
        while True:
            cmd = json.loads(await commands.get())
            op = cmd.get("op")
            if op == "send":
                client.send_raw(cmd["xml"])
                emit(ev="ack", seq=cmd.get("seq"))
            elif op == "quit":
                emit(ev="ack", seq=cmd.get("seq"))
                return "quit"
            else:
                emit(ev="log", text=f"unknown command {cmd!r}")

    serving = asyncio.ensure_future(serve())
    done, _ = await asyncio.wait({serving, finished}, timeout=args.lifetime,
                                 return_when=asyncio.FIRST_COMPLETED)
    if finished in done:
        emit(ev="disconnected", text=finished.result())
        serving.cancel()
        return 0
    serving.cancel()
    try:
        await asyncio.wait_for(client.disconnect(wait=1.0), 5)
    except Exception:  # noqa: BLE001
        pass
    client.abort()
    emit(ev="disconnected", text="quit" if done else "lifetime over")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
