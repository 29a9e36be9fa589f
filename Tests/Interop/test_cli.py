"""The `parley user ...` and `parley config check` commands, checked through what a client sees:
accounts the CLI changes while the server runs are what the server authenticates against."""

from __future__ import annotations

import re

import slix
from conftest import ACCOUNTS, ParleyServer, to_yaml
from xmpp_raw import SASL_NS, RawStream, q, sasl_condition


def _output(result) -> str:
    return (result.stdout or "") + (result.stderr or "")


def _plain(server: ParleyServer, user: str, password: str):
    """Raw PLAIN over STARTTLS; returns the <success/> or <failure/> element."""
    with RawStream(server.c2s_port) as s:
        s.open()
        s.starttls()
        s.open()
        return s.auth_plain(user, password), s.describe()


def _slix_login(server: ParleyServer, jid: str, password: str, mechanism: str) -> str | None:
    """The bound JID, or None when authentication failed."""
    async def body():
        client = slix.make_client(jid, password, mechanism=mechanism)
        try:
            await slix.login(client, server.c2s_port)
            return client.boundjid.full
        except slix.LoginFailed as failed:
            if "failed_all_auth" in str(failed):
                return None
            raise
        finally:
            await slix.close(client)
    return slix.run(body)


def test_user_add_twice_fails(server):
    first = server.cli("user", "add", "carol@localhost", "--password", "carol-1")
    assert first.returncode == 0, _output(first)
    second = server.cli("user", "add", "carol@localhost", "--password", "carol-2")
    assert second.returncode != 0, "adding an existing account must fail:\n" + _output(second)
    assert re.search(r"exist|already", _output(second), re.I), \
        "the message must say the account exists:\n" + _output(second)
    # The first password still works; the second add changed nothing.
    result, wire = _plain(server, "carol", "carol-1")
    assert result.tag == q(SASL_NS, "success"), wire


def test_user_add_for_unserved_host_fails(server):
    result = server.cli("user", "add", "eve@not-served.example", "--password", "x")
    assert result.returncode != 0, _output(result)
    assert "not-served.example" in _output(result), _output(result)


def test_user_list_shows_accounts(server):
    result = server.cli("user", "list")
    assert result.returncode == 0, _output(result)
    listed = set(result.stdout.split())
    for user in ACCOUNTS:
        assert f"{user}@localhost" in listed, _output(result)


def test_user_passwd_changes_password(server):
    jid = "dave@localhost"
    assert server.cli("user", "add", jid, "--password", "dave-old").returncode == 0
    assert _slix_login(server, jid + "/before", "dave-old", "SCRAM-SHA-256") == jid + "/before"

    changed = server.cli("user", "passwd", jid, "--password", "dave-new")
    assert changed.returncode == 0, _output(changed)

    for mechanism in ("SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"):
        assert _slix_login(server, f"{jid}/{mechanism}", "dave-new", mechanism) == f"{jid}/{mechanism}"
    result, wire = _plain(server, "dave", "dave-old")
    assert result.tag == q(SASL_NS, "failure") and sasl_condition(result) == ["not-authorized"], wire
    assert _slix_login(server, jid + "/old", "dave-old", "SCRAM-SHA-256") is None


def test_user_passwd_unknown_account_fails(server):
    result = server.cli("user", "passwd", "nobody@localhost", "--password", "x")
    assert result.returncode != 0, _output(result)


def test_user_delete_then_login_fails(server):
    jid = "frank@localhost"
    assert server.cli("user", "add", jid, "--password", "frank-pw").returncode == 0
    assert _slix_login(server, jid + "/a", "frank-pw", "SCRAM-SHA-1") == jid + "/a"

    deleted = server.cli("user", "delete", jid)
    assert deleted.returncode == 0, _output(deleted)

    result, wire = _plain(server, "frank", "frank-pw")
    assert result.tag == q(SASL_NS, "failure") and sasl_condition(result) == ["not-authorized"], wire
    assert _slix_login(server, jid + "/b", "frank-pw", "SCRAM-SHA-512") is None
    listed = server.cli("user", "list")
    assert jid not in listed.stdout.split(), _output(listed)
    again = server.cli("user", "delete", jid)
    assert again.returncode != 0, "deleting a missing account must fail:\n" + _output(again)


def test_user_delete_while_online_closes_the_sessions_and_tells_contacts(server):
    """`parley user delete` while the account is online: the running server deletes it itself, as
    `ejabberdctl unregister` does. The account's stream is closed with <not-authorized/> (RFC 6120
    §4.9.3.12, as for XEP-0077 account removal), and its contact sees it go unavailable and lose
    the subscription, instead of a deleted account staying online until it disconnects."""
    import asyncio

    from conftest import unique_accounts
    from slix import presence_from

    acc = unique_accounts(server, "doomed", "friend")
    doomed_jid, friend_jid = acc["doomed"][0], acc["friend"][0]
    added = server.cli("user", "add-contact", doomed_jid, friend_jid)
    assert added.returncode == 0, _output(added)

    async def body():
        async with slix.Clients(server.c2s_port) as clients:
            doomed = await clients.connect(*acc["doomed"], resource="d")
            friend = await clients.connect(*acc["friend"], resource="f")
            await friend.inbox.wait_for(presence_from(doomed.boundjid.full), 10, "the contact's presence")
            error = slix.event_future(doomed, "stream_error")
            result = await asyncio.to_thread(server.cli, "user", "delete", doomed_jid)
            assert result.returncode == 0, _output(result)
            assert f"deleted {doomed_jid}; 1 online session(s) closed" in result.stdout, _output(result)
            condition = await slix.wait(error, 10, "a stream error for the deleted account", doomed)
            assert condition["condition"] == "not-authorized", str(condition)
            await friend.inbox.wait_for(presence_from(doomed.boundjid.full, "unavailable"), 10,
                                        "the deleted account going unavailable")
            await friend.inbox.wait_for(presence_from(doomed_jid, "unsubscribe"), 10,
                                        "the deleted account's subscription ending")

    slix.run(body)
    assert doomed_jid not in server.cli("user", "list").stdout.split()
    assert _slix_login(server, doomed_jid + "/again", acc["doomed"][1], "SCRAM-SHA-1") is None


def test_admin_socket_refuses_bad_account_commands(server):
    """The admin socket (the CLI's way into a running server) answers a malformed or impossible
    account command with an error and changes nothing; the server goes on serving."""
    import json
    import socket

    def ask(command: str) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(server.data_dir / "parley.sock"))
            s.sendall(command.encode() + b"\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        return json.loads(answer)

    jid = "admin-target@localhost"
    assert server.cli("user", "add", jid, "--password", "target-pw").returncode == 0
    assert "error" in ask(f"contacts add {jid} {jid}"), "an account cannot be its own contact"
    assert "error" in ask(f"contacts add {jid} nobody-here@localhost")
    assert "error" in ask(f"contacts add {jid} someone@elsewhere.example")
    assert "error" in ask("user delete someone@elsewhere.example")
    assert "error" in ask("user delete not a jid")
    assert ask("user delete nobody-here@localhost") == {"ok": True, "removed": False, "sessions": 0}
    assert "error" in ask("contacts add")
    roster = server.cli("user", "roster", jid)
    assert roster.returncode == 0 and "0 contact(s)" in roster.stdout, _output(roster)
    assert _slix_login(server, jid + "/still", "target-pw", "SCRAM-SHA-1") == jid + "/still"
    assert not [line for line in server.log_text().splitlines()
                if "admin socket: account deleted" in line and jid in line]


def test_config_check_accepts_valid_config(server):
    result = server.cli("config", "check")
    assert result.returncode == 0, _output(result)


def test_config_check_reports_every_problem(server, tmp_path):
    config = {
        "hosts": ["localhost"],
        "data_directory": "data",
        "no_such_option": True,
        "listeners": {"c2s": {"address": "127.0.0.1", "port": 70000}},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(to_yaml(config) + "\n")
    result = server.cli("config", "check", config=path)
    out = _output(result)
    assert result.returncode != 0, "a config with problems must be rejected:\n" + out
    assert "no_such_option" in out, "the unknown key must be named:\n" + out
    assert re.search(r"listeners\W+c2s\W+port", out), \
        "the bad port must be reported with its key path (listeners.c2s.port):\n" + out



def test_roster_commands_need_no_server_and_do_not_wait_for_a_stuck_one(parley_bin, tmp_path):
    """The roster commands tell a running server what they changed (it keeps subscription lists in
    memory). Without a server there is nobody to tell; a server that accepts on its admin socket
    but never answers must not hang the command, which has done its work already."""
    import socket
    import time

    srv = ParleyServer(parley_bin, tmp_path / "no-server", name="never started")
    srv.add_user("alice@localhost", "alice-pw-1")
    srv.add_user("bob@localhost", "bob-pw-1")
    started = time.monotonic()
    result = srv.cli("user", "add-contact", "alice@localhost", "bob@localhost")
    assert result.returncode == 0, _output(result)
    assert time.monotonic() - started < 10, "nothing to wait for without a server"

    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        stuck.bind(str(srv.data_dir / "parley.sock"))
        stuck.listen(4)  # accepts (through the backlog) and never answers
        started = time.monotonic()
        result = srv.cli("user", "delete", "bob@localhost", timeout=40)
        assert result.returncode == 0, _output(result)
        assert "deleted bob@localhost" in result.stdout, _output(result)
        assert time.monotonic() - started < 30, "the command waited too long for the stuck server"
    finally:
        stuck.close()
    roster = srv.cli("user", "roster", "alice@localhost")
    assert roster.returncode == 0, _output(roster)
