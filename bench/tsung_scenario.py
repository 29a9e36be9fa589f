"""Tsung (Debian's XMPP load tool) as a second, independent load generator for the message scenario.

bench/run drives every server with parley-load; this module writes the Tsung configuration of the
same traffic (the same users, each sending chat messages to a contact at a fixed pace) and reads
Tsung's results, so the CPU figures can be checked with a client nobody here wrote. Tsung 1.7's
XMPP plugin authenticates with SASL PLAIN only, so its sessions use STARTTLS and then PLAIN (every
server here offers PLAIN over TLS only).
"""

import math
import re
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

ARRIVAL_RATE = 100      # sessions started per second: every server logs them in as they come
LOGIN_WAIT_S = 4        # each session waits this long after logging in before its first message


def write_users(path: Path, users: int, group: int, password: str) -> None:
    """One line per session: 'user;password;peer', the peer being the next member of its contact group."""
    with open(path, "w") as f:
        for n in range(1, users + 1):
            first = (n - 1) // group * group + 1
            peer = first + (n - first + 1) % group
            f.write(f"user{n};{password};user{peer if peer <= users else first}\n")


def chats_per_session(users: int, rate: float, measured_s: float) -> tuple[float, int]:
    """The pause between one session's messages, and how many it sends so that every session is
    still sending while the window after the last login (plus its wait and a margin) is measured."""
    pause = users / rate
    arrival_s = users / ARRIVAL_RATE
    return pause, math.ceil((arrival_s + LOGIN_WAIT_S + 3 + measured_s + 3) / pause)


def write_config(path: Path, users_csv: Path, port: int, domain: str, users: int, rate: float,
                 measured_s: float, body_size: int) -> int:
    """Writes the Tsung configuration; returns the number of messages each session sends."""
    pause, chats = chats_per_session(users, rate, measured_s)
    body = ("tsung message %%_i%% " + "x" * body_size)[:max(body_size, 24)]
    stanza = (f"<message to='%%_peer%%@{domain}' type='chat' id='t%%_i%%'><body>{body}</body></message>")
    path.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="{users + 100}"/></clients>
  <servers><server host="127.0.0.1" port="{port}" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="{math.ceil(users / ARRIVAL_RATE) + 1}" unit="second">
      <users maxnumber="{users}" arrivalrate="{ARRIVAL_RATE}" unit="second"/>
    </arrivalphase>
  </load>
  <options>
    <option type="ts_jabber" name="domain" value="{domain}"/>
    <option name="file_server" id="userdb" value={quoteattr(str(users_csv))}/>
  </options>
  <sessions>
    <session probability="100" name="chat" type="ts_jabber" bidi="true">
      <setdynvars sourcetype="file" fileid="userdb" delimiter=";" order="iter">
        <var name="username"/><var name="password"/><var name="peer"/>
      </setdynvars>
      <request subst="true"><jabber type="connect" ack="local"><xmpp_authenticate username="%%_username%%" passwd="%%_password%%"/></jabber></request>
      <request><jabber type="starttls" ack="bidi_ack"/></request>
      <request><jabber type="connect" ack="local"/></request>
      <request><jabber type="auth_sasl" ack="local"/></request>
      <request><jabber type="connect" ack="local"/></request>
      <request><jabber type="auth_sasl_bind" ack="local"/></request>
      <request><jabber type="auth_sasl_session" ack="local"/></request>
      <request><jabber type="iq:roster:get" ack="local"/></request>
      <request><jabber type="presence:initial" ack="no_ack"/></request>
      <thinktime value="{LOGIN_WAIT_S}"/>
      <for from="1" to="{chats}" var="i">
        <request subst="true"><jabber type="raw" ack="no_ack" data={quoteattr(stanza)}/></request>
        <thinktime value="{pause:.4f}"/>
      </for>
      <thinktime value="1"/>
      <request><jabber type="close" ack="no_ack"/></request>
    </session>
  </sessions>
</tsung>
""")
    return chats


def established(port: int) -> int:
    """Established TCP connections whose local port is `port` (the server's side), from /proc/net/tcp."""
    wanted = f":{port:04X}"
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1].endswith(wanted) and fields[3] == "01":
                count += 1
    return count


def wait_for_arrivals(port: int, users: int, alive, limit_s: float = 120) -> int:
    """Waits until the server holds every session's connection, or, once the arrival phase is over,
    until no new connection has come for 2 s (a session that failed to connect must not stall the
    run). Bounded by `limit_s` after the arrival phase; returns the connections held."""
    start = time.monotonic()
    arrival_end = start + users / ARRIVAL_RATE
    last_count, last_change = 0, start
    while alive() and time.monotonic() < arrival_end + limit_s:
        count = established(port)
        now = time.monotonic()
        if count >= users:
            return count
        if count != last_count:
            last_count, last_change = count, now
        elif count > 0 and now > arrival_end and now - last_change > 2:
            return count
        time.sleep(0.2)
    return established(port)


def read_results(log_dir: Path) -> dict:
    """Totals from the newest tsung.log under `log_dir`: each counter's last cumulative value, and
    every error counter (Tsung names them error_*)."""
    logs = sorted(log_dir.glob("*/tsung.log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return {}
    totals: dict[str, float] = {}
    for line in logs[-1].read_text(errors="replace").splitlines():
        m = re.match(r"stats: (\S+) (\S+) (\S+)", line)
        if m and not m.group(1).startswith("{"):
            try:
                totals[m.group(1)] = float(m.group(3))
            except ValueError:
                pass
    return {"log": str(logs[-1]),
            "sessions_finished": int(totals.get("finish_users_count", 0)),
            "requests_no_ack": int(totals.get("request_noack", 0)),
            "errors": {k: int(v) for k, v in totals.items() if k.startswith("error")}}
