"""The federation lab: XMPP servers (Prosody, ejabberd, Parley) started inside the test network's
namespaces (made by netns.sh, described by $FED_STATE/topology.json), with configs, data and logs
under $FED_STATE/servers/. Every process is started in the background, its PID written to
$FED_STATE/pids/NAME.pid (scripts/test-federation stops whatever is left there on exit), and stopped
by PID.

Policies use Parley's names:
    allow_dialback              a peer whose certificate does not verify may still authenticate
                                with dialback (XEP-0220)
    require_valid_certificate   only peers with a certificate that verifies against the CA and
                                names the peer's domain are accepted
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("federation.lab")

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = Path(os.environ.get("FED_VENV_PYTHON", ROOT / ".build" / "interop-venv" / "bin" / "python"))

ALLOW_DIALBACK = "allow_dialback"
REQUIRE_VALID_CERTIFICATE = "require_valid_certificate"

C2S_PORT = 5222
S2S_TIMEOUT = 10  # seconds an outgoing s2s connection may take before queued stanzas bounce

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

# Accounts created on every server: local part -> password. Each scenario uses its own local part
# so scenarios sharing a running pair of servers do not see each other's traffic.
USERS = {name: f"{name}-secret-pw" for name in
         ("pres", "msg", "order", "iq", "dtls", "cert", "bounce", "stall", "probe")}


# --------------------------------------------------------------------------------------- helpers

def state_dir() -> Path:
    value = os.environ.get("FED_STATE")
    if not value:
        raise RuntimeError("FED_STATE is not set: run the federation tests through scripts/test-federation")
    return Path(value)


def netns_argv(namespace: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", namespace, *[str(a) for a in argv]]


def netns_run(namespace: str, argv: list[str], timeout: float = 30.0, env: dict | None = None,
              cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Runs a command to completion inside a namespace; bounded by `timeout`."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(netns_argv(namespace, argv), capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL)


def listening(namespace: str, port: int) -> bool:
    result = netns_run(namespace, ["ss", "-Hltn", f"sport = :{port}"], timeout=10)
    return bool(result.stdout.strip())


def established(namespace: str, local_port: int) -> list[str]:
    """Established TCP connections in `namespace` whose local port is `local_port` (ss lines)."""
    result = netns_run(namespace, ["ss", "-Htn", "state", "established", f"sport = :{local_port}"],
                       timeout=10)
    return [line for line in result.stdout.splitlines() if line.strip()]


def yaml_dump(value, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (strings are always quoted)."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines.append(yaml_dump(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                first, *rest = yaml_dump(item, indent + 1).split("\n")
                lines.append(f"{pad}- {first.strip()}")
                lines.extend(rest)
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(value))
    return "\n".join(lines)


def _yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    if value == []:
        return "[]"
    if value == {}:
        return "{}"
    return json.dumps(str(value))


def lua_string(value: str) -> str:
    return json.dumps(str(value))  # a JSON string literal is a valid Lua string literal here


# ------------------------------------------------------------------------------------ topology

@dataclass(frozen=True)
class Host:
    short: str        # "a"
    domain: str       # "a.fed.test"
    namespace: str    # "parley-fed-a"
    ip: str
    cert_file: Path   # the certificate this host's server presents (see certs.sh)
    key_file: Path
    chain_file: Path  # certificate followed by key, for ejabberd


class Topology:
    def __init__(self, state: Path):
        self.state = state
        data = json.loads((state / "topology.json").read_text())
        self.pki = state / "pki"
        self.ca_file = self.pki / "ca.pem"
        self.s2s_port = int(data["s2s_port"])
        self.s2s_direct_tls_port = int(data["s2s_direct_tls_port"])
        self.direct_tls_domain = data["direct_tls_domain"]
        self.unresolvable_domain = data["unresolvable_domain"]
        self.dns_ip = data["dns"]["ip"]
        self.hosts: dict[str, Host] = {}
        for short, h in data["hosts"].items():
            self.hosts[short] = Host(short=short, domain=h["domain"], namespace=h["namespace"], ip=h["ip"],
                                     cert_file=self.pki / f"{h['domain']}.crt",
                                     key_file=self.pki / f"{h['domain']}.key",
                                     chain_file=self.pki / f"{h['domain']}.chain.pem")

    def host(self, short: str) -> Host:
        return self.hosts[short]


# -------------------------------------------------------------------------------- processes

class Process:
    """One background process inside a namespace, with its PID recorded in $FED_STATE/pids."""

    def __init__(self, state: Path, name: str, namespace: str, argv: list[str], log_path: Path,
                 env: dict | None = None, cwd: Path | None = None):
        self.name = name
        self.pid_file = state / "pids" / f"{name}.pid"
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        with open(log_path, "ab") as out:
            out.write(f"\n=== {time.strftime('%H:%M:%S')} start: {shlex.join(netns_argv(namespace, argv))}\n"
                      .encode())
            out.flush()
            # `ip netns exec` execs the command, so the PID is the server's own.
            self.popen = subprocess.Popen(netns_argv(namespace, argv), stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=out, env=full_env, cwd=cwd,
                                          start_new_session=True)
        self.pid = self.popen.pid
        self.pid_file.write_text(f"{self.pid}\n")
        self.paused = False

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGTERM)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %s) ignored SIGTERM for %ss; sending SIGKILL", self.name, self.pid, timeout)
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
            except ProcessLookupError:
                pass
        self.pid_file.unlink(missing_ok=True)
        return self.popen.returncode


# ---------------------------------------------------------------------------------- servers

class ServerFailed(Exception):
    pass


class Server:
    """Base class: one XMPP server hosting one domain inside that domain's namespace."""

    kind = "?"
    ready_ports: tuple[int, ...] = ()

    def __init__(self, lab: "Lab", host: Host, policy: str, direct_tls: bool):
        self.lab = lab
        self.host = host
        self.policy = policy
        self.direct_tls = direct_tls
        while True:  # NN-kind-host, numbered in start order; never reuses a folder
            lab.sequence += 1
            self.name = f"{lab.sequence:02d}-{self.kind}-{host.short}"
            self.workdir = lab.state / "servers" / self.name
            if not self.workdir.exists():
                break
        self.workdir.mkdir(parents=True)
        self.log_path = self.workdir / "server.log"
        self.processes: list[Process] = []
        self.users = dict(USERS)

    # -- identity
    @property
    def domain(self) -> str:
        return self.host.domain

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def spec(self) -> tuple:
        return (self.kind, self.host.short, self.policy, self.direct_tls)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.domain} policy={self.policy} pid={self.pid}>"

    # -- lifecycle (subclasses implement configure/launch/create_users)
    @property
    def main(self) -> Process | None:
        return self.processes[-1] if self.processes else None

    @property
    def pid(self) -> int | None:
        return self.main.pid if self.main else None

    def start(self) -> None:
        self.configure()
        self.create_users_offline()
        self.launch()
        self.wait_ready()
        self.create_users_online()

    def configure(self) -> None:
        raise NotImplementedError

    def launch(self) -> None:
        raise NotImplementedError

    def create_users_offline(self) -> None:
        pass

    def create_users_online(self) -> None:
        pass

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        ports = self.ready_ports or (C2S_PORT, self.lab.topology.s2s_port)
        while True:
            if self.main is None or not self.main.alive():
                raise ServerFailed(f"{self.name} exited before it was ready; log tail:\n{self.log_tail()}")
            if all(listening(self.host.namespace, p) for p in ports) and self.extra_ready():
                return
            if time.monotonic() > deadline:
                raise ServerFailed(f"{self.name} not ready within {START_TIMEOUT}s; log tail:\n{self.log_tail()}")
            time.sleep(0.25)

    def extra_ready(self) -> bool:
        return True

    def alive(self) -> bool:
        return self.main is not None and self.main.alive()

    def pause(self) -> None:
        assert self.main is not None
        self.main.pause()

    def resume(self) -> None:
        if self.main is not None:
            self.main.resume()

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    # -- diagnostics
    def log_files(self) -> list[Path]:
        return [self.log_path]

    def log_tail(self, lines: int = 60) -> str:
        chunks = []
        for path in self.log_files():
            try:
                text = path.read_text(errors="replace").splitlines()
            except FileNotFoundError:
                continue
            chunks.append(f"--- {path} (last {lines} lines)\n" + "\n".join(text[-lines:]))
        return "\n".join(chunks) or "(no log)"


class ProsodyServer(Server):
    """Prosody 0.12 from Debian: own config, data dir, pidfile and log under the work dir; runs as
    root (`run_as_root`), in the foreground (`daemonize = false`)."""

    kind = "prosody"

    @property
    def config_path(self) -> Path:
        return self.workdir / "prosody.cfg.lua"

    def configure(self) -> None:
        w = self.workdir
        (w / "data").mkdir()
        (w / "certs").mkdir()
        topo = self.lab.topology
        strict = self.policy == REQUIRE_VALID_CERTIFICATE
        ssl = (f"{{ certificate = {lua_string(self.host.cert_file)}; key = {lua_string(self.host.key_file)}; "
               f"cafile = {lua_string(topo.ca_file)}; capath = false }}")
        direct = f"{{ {topo.s2s_direct_tls_port} }}" if self.direct_tls else "{}"
        self.config_path.write_text(f"""-- generated by Tests/Federation/lab.py
run_as_root = true
daemonize = false
pidfile = {lua_string(w / "prosody.pid")}
data_path = {lua_string(w / "data")}
certificates = {lua_string(w / "certs")}
plugin_paths = {{}}
log = {{
  {{ levels = {{ min = "debug" }}, to = "file", filename = {lua_string(self.log_path)} }};
}}
interfaces = {{ "*" }}
c2s_ports = {{ {C2S_PORT} }}
c2s_direct_tls_ports = {{}}
legacy_ssl_ports = {{}}
s2s_ports = {{ {topo.s2s_port} }}
s2s_direct_tls_ports = {direct}
use_ipv6 = false
-- Nothing that needs the network beyond the test namespaces: no HTTP, no admin socket, no
-- announcements, no account registration.
modules_enabled = {{
  "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "vcard"; "posix";
}}
modules_disabled = {{ "admin_shell"; "admin_socket"; "http"; "register"; "offline" }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true
s2s_require_encryption = true
-- The policy under test: with s2s_secure_auth a peer must present a certificate that verifies
-- against ssl.cafile and names its domain; without it, dialback is accepted as a fallback.
s2s_secure_auth = {"true" if strict else "false"}
-- Seconds an outgoing s2s connection may take to become ready before queued stanzas bounce.
s2s_timeout = {S2S_TIMEOUT}
s2s_close_timeout = 2
ssl = {ssl}

VirtualHost {lua_string(self.domain)}
  ssl = {ssl}
""")

    def create_users_offline(self) -> None:
        def register(item):
            user, password = item
            result = subprocess.run(["prosodyctl", "--config", str(self.config_path), "register",
                                     user, self.domain, password],
                                    capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                raise ServerFailed(f"prosodyctl register {user}@{self.domain} failed:\n{result.stdout}{result.stderr}")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(register, self.users.items()))

    def launch(self) -> None:
        self.processes.append(Process(self.lab.state, f"{self.name}", self.host.namespace,
                                      ["prosody", "--config", self.config_path],
                                      self.workdir / "stdout.log", cwd=self.workdir))

    def log_files(self) -> list[Path]:
        return [self.log_path, self.workdir / "stdout.log"]


class EjabberdServer(Server):
    """ejabberd 23.01 from Debian, run as root straight through `erl` (what ejabberdctl does,
    without its switch to the ejabberd user), with its own config, Mnesia spool and logs under the
    work dir and its own epmd inside the namespace (bound to 127.0.0.1). Accounts are created over
    Erlang distribution with the node's cookie, as ejabberdctl would."""

    kind = "ejabberd"
    node = "ejabberd@localhost"
    ebin_root = "/usr/lib/x86_64-linux-gnu"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cookie = "fed" + uuid.uuid4().hex[:16]

    @property
    def config_path(self) -> Path:
        return self.workdir / "ejabberd.yml"

    def erl_env(self) -> dict:
        return {
            "HOME": str(self.workdir),
            "ERL_LIBS": self.ebin_root,
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_INETRC": str(self.workdir / "inetrc"),
            "ERL_CRASH_DUMP": str(self.workdir / "erl_crash.dump"),
            "ERL_CRASH_DUMP_BYTES": "0",
            "EJABBERD_CONFIG_PATH": str(self.config_path),
            "EJABBERD_LOG_PATH": str(self.log_path),
        }

    def configure(self) -> None:
        w = self.workdir
        (w / "spool").mkdir()
        topo = self.lab.topology
        strict = self.policy == REQUIRE_VALID_CERTIFICATE
        # Erlang's resolver: read the namespace's /etc/resolv.conf (bind-mounted by ip-netns).
        (w / "inetrc").write_text('{file, resolv, "/etc/resolv.conf"}.\n{lookup, [file, dns]}.\n')
        listen = [
            {"port": C2S_PORT, "ip": "0.0.0.0", "module": "ejabberd_c2s", "starttls_required": True,
             "max_stanza_size": 262144, "shaper": "none", "access": "c2s"},
            {"port": topo.s2s_port, "ip": "0.0.0.0", "module": "ejabberd_s2s_in",
             "max_stanza_size": 524288, "shaper": "none"},
        ]
        if self.direct_tls:
            listen.append({"port": topo.s2s_direct_tls_port, "ip": "0.0.0.0", "module": "ejabberd_s2s_in",
                           "tls": True, "max_stanza_size": 524288, "shaper": "none"})
        modules = {
            "mod_roster": {},
            "mod_disco": {},
            "mod_ping": {},
            "mod_vcard": {},
            "mod_stream_mgmt": {},
        }
        if not strict:
            # With mod_s2s_dialback loaded (access: all), outgoing connections skip certificate
            # verification and fall back to dialback; without it only SASL EXTERNAL with a
            # certificate that verifies is possible, in both directions.
            modules["mod_s2s_dialback"] = {}
        config = {
            "hosts": [self.domain],
            "loglevel": "debug",
            "log_rotate_count": 0,
            "hide_sensitive_log_data": False,
            "certfiles": [str(self.host.chain_file)],
            "ca_file": str(topo.ca_file),
            "listen": listen,
            "s2s_use_starttls": "required",
            "s2s_access": "s2s",
            "s2s_dns_timeout": 3,
            "s2s_dns_retries": 1,
            # After a failed connection ejabberd refuses new ones to that domain for a random
            # delay up to this many seconds (default 300): keep it out of the way.
            "s2s_max_retry_delay": 1,
            "outgoing_s2s_families": ["ipv4"],
            "outgoing_s2s_timeout": S2S_TIMEOUT,  # TCP connect
            "negotiation_timeout": S2S_TIMEOUT,   # stream negotiation (also bounds a silent peer)
            "auth_method": "internal",
            "auth_password_format": "scram",
            "acl": {"local": {"user_regexp": ""}},
            "access_rules": {"local": {"allow": "local"}, "c2s": {"allow": "all"}, "s2s": {"allow": "all"}},
            "api_permissions": {"console commands": {"from": ["ejabberd_ctl"], "who": "all", "what": "*"}},
            "shaper_rules": {"max_user_sessions": 10, "c2s_shaper": "none", "s2s_shaper": "none"},
            "modules": modules,
        }
        self.config_path.write_text("# generated by Tests/Federation/lab.py\n" + yaml_dump(config) + "\n")

    def launch(self) -> None:
        env = self.erl_env()
        self.processes.append(Process(self.lab.state, f"{self.name}-epmd", self.host.namespace,
                                      ["epmd"], self.workdir / "epmd.log", env=env, cwd=self.workdir))
        deadline = time.monotonic() + 10
        while not listening(self.host.namespace, 4369):
            if time.monotonic() > deadline or not self.processes[0].alive():
                raise ServerFailed(f"epmd did not start in {self.host.namespace}")
            time.sleep(0.1)
        argv = ["erl", "-sname", self.node, "-setcookie", self.cookie, "-noinput", "-start_epmd", "false",
                "+K", "true", "+P", "250000",
                "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                "-mnesia", "dir", f'"{self.workdir / "spool"}"', "-s", "ejabberd"]
        self.processes.append(Process(self.lab.state, self.name, self.host.namespace, argv,
                                      self.workdir / "stdout.log", env=env, cwd=self.workdir))

    def ctl_eval(self, expr: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Evaluates an Erlang expression in a hidden node that can rpc into the server."""
        argv = ["erl", "-sname", f"ctl{uuid.uuid4().hex[:8]}@localhost", "-setcookie", self.cookie,
                "-hidden", "-noinput", "-start_epmd", "false", "-eval", expr]
        return netns_run(self.host.namespace, argv, timeout=timeout, env=self.erl_env(), cwd=self.workdir)

    def extra_ready(self) -> bool:
        # What `ejabberdctl status` asks: {ok, _} once the node runs the ejabberd application.
        result = self.ctl_eval(
            f"R = rpc:call('{self.node}', ejabberd_admin, status, [], 5000), "
            "io:format(\"~p~n\", [element(1, R)]), halt().", timeout=20)
        return result.stdout.strip().endswith("ok")

    def create_users_online(self) -> None:
        users = ",".join(f"{{<<\"{u}\">>, <<\"{p}\">>}}" for u, p in self.users.items())
        expr = (f"R = [rpc:call('{self.node}', ejabberd_auth, try_register, [U, <<\"{self.domain}\">>, P], 10000)"
                f" || {{U, P}} <- [{users}]], io:format(\"~p~n\", [R]), halt().")
        result = self.ctl_eval(expr)
        out = result.stdout.strip()
        if result.returncode != 0 or any(bad in out for bad in ("badrpc", "error")):
            raise ServerFailed(f"ejabberd account creation failed ({result.returncode}): {out}\n{result.stderr}")

    def log_files(self) -> list[Path]:
        # stdout.log repeats the log (ejabberd also logs to the console); it matters only when
        # the node could not start at all.
        return [self.log_path] if self.log_path.exists() else [self.workdir / "stdout.log"]


class ParleyServer(Server):
    """The real `parley run`, with the s2s configuration Parley is growing (see the brief in
    Tests/Federation/README.md). Accounts are created with `parley user add` before it starts."""

    kind = "parley"
    READY_LINE = "parley is ready"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = os.environ.get("PARLEY_BIN", "")

    @property
    def config_path(self) -> Path:
        return self.workdir / "parley.yaml"

    def config(self) -> dict:
        topo = self.lab.topology
        listeners: dict = {
            "c2s": {"address": "0.0.0.0", "port": C2S_PORT},
            "c2s_direct_tls": False,
            "s2s": {"address": "0.0.0.0", "port": topo.s2s_port},
        }
        if self.direct_tls:
            listeners["s2s_direct_tls"] = {"address": "0.0.0.0", "port": topo.s2s_direct_tls_port}
        return {
            "hosts": [{"name": self.domain, "certificate": str(self.host.cert_file),
                       "private_key": str(self.host.key_file)}],
            "data_directory": str(self.workdir / "data"),
            "listeners": listeners,
            "tls": {"require_c2s": True, "allow_plain": True},
            "limits": {"auth_failures_per_address_per_minute": 1000},
            "logging": {"level": "debug"},
            "sasl": {"scram_iterations": 4096},
            "s2s": {
                "ca_file": str(topo.ca_file),
                "policy": self.policy,
                "timeout": S2S_TIMEOUT,
                "overrides": {},
            },
        }

    def configure(self) -> None:
        self.config_path.write_text("# generated by Tests/Federation/lab.py\n" + yaml_dump(self.config()) + "\n")

    def create_users_offline(self) -> None:
        for user, password in self.users.items():
            result = subprocess.run([self.binary, "user", "add", self.jid(user), "--password", password,
                                     "--config", str(self.config_path)],
                                    capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                                    cwd=self.workdir)
            if result.returncode != 0:
                raise ServerFailed(f"parley user add {self.jid(user)} failed ({result.returncode}):\n"
                                   f"{result.stdout}{result.stderr}")

    def launch(self) -> None:
        self.processes.append(Process(self.lab.state, self.name, self.host.namespace,
                                      [self.binary, "run", "--config", self.config_path],
                                      self.log_path, cwd=self.workdir))

    def extra_ready(self) -> bool:
        try:
            return self.READY_LINE in self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return False


SERVER_CLASSES = {cls.kind: cls for cls in (ProsodyServer, EjabberdServer, ParleyServer)}


# ------------------------------------------------------------------------------------ Parley

def parley_support(binary: str, topology: Topology, workdir: Path) -> dict:
    """What the Parley binary's config accepts: {"s2s": bool, "s2s_direct_tls": bool,
    "reason": str}. s2s support is detected by `parley config check` accepting the `s2s` key."""
    if not binary or not Path(binary).is_file() or not os.access(binary, os.X_OK):
        return {"s2s": False, "s2s_direct_tls": False,
                "reason": f"no Parley binary (PARLEY_BIN={binary!r})"}
    workdir.mkdir(parents=True, exist_ok=True)

    class _Probe(ParleyServer):
        def __init__(self, direct_tls):  # noqa: D401 - a config-only stand-in
            self.lab = type("L", (), {"topology": topology})()
            self.host = topology.host("a")
            self.policy = ALLOW_DIALBACK
            self.direct_tls = direct_tls
            self.workdir = workdir

    def check(direct_tls: bool) -> subprocess.CompletedProcess:
        path = workdir / f"probe-{'dtls' if direct_tls else 'plain'}.yaml"
        path.write_text(yaml_dump(_Probe(direct_tls).config()) + "\n")
        return subprocess.run([binary, "config", "check", "--config", str(path)], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    plain = check(False)
    if plain.returncode != 0:
        problems = (plain.stdout + plain.stderr).strip()
        return {"s2s": False, "s2s_direct_tls": False,
                "reason": "Parley does not support s2s yet: `parley config check` rejects the s2s "
                          f"configuration: {' | '.join(problems.splitlines()[-4:])}"}
    dtls = check(True)
    return {"s2s": True, "s2s_direct_tls": dtls.returncode == 0,
            "reason": "" if dtls.returncode == 0 else
            "Parley does not accept listeners.s2s_direct_tls: " + (dtls.stdout + dtls.stderr).strip()[-300:]}


# --------------------------------------------------------------------------------------- lab

class Lab:
    """Which server runs on which host. `deploy` starts what a scenario needs, reusing servers
    already running with the same kind, host and policy unless `fresh` is asked for."""

    def __init__(self, state: Path):
        self.state = state
        self.topology = Topology(state)
        self.sequence = 0
        self.running: dict[str, Server] = {}  # host short name -> server
        self.used: list[Server] = []  # servers started during the current test (for reports)
        self.parley = parley_support(os.environ.get("PARLEY_BIN", ""), self.topology, state / "parley-probe")

    def supports_direct_tls(self, kind: str) -> bool:
        return kind != "parley" or bool(self.parley.get("s2s_direct_tls"))

    def deploy(self, layout: dict[str, tuple[str, str]], fresh: bool = False) -> dict[str, Server]:
        """layout: host short name -> (server kind, policy). Servers on hosts not in the layout are
        stopped. Returns host short name -> running server."""
        topo = self.topology
        wanted = {}
        for short, (kind, policy) in layout.items():
            host = topo.host(short)
            direct_tls = host.domain == topo.direct_tls_domain and self.supports_direct_tls(kind)
            wanted[short] = (kind, short, policy, direct_tls)
        for short in list(self.running):
            server = self.running[short]
            if fresh or short not in wanted or server.spec() != wanted[short] or not server.alive():
                self.stop_host(short)
        started = {}
        new = []
        for short, (kind, _, policy, direct_tls) in wanted.items():
            if short not in self.running:
                server = SERVER_CLASSES[kind](self, topo.host(short), policy, direct_tls)
                self.running[short] = server
                new.append(server)
            started[short] = self.running[short]
            if started[short] not in self.used:
                self.used.append(started[short])
        # Start the new servers side by side (ejabberd alone takes a few seconds).
        with ThreadPoolExecutor(max(1, len(new))) as pool:
            futures = [(server, pool.submit(server.start)) for server in new]
            errors = []
            for server, future in futures:
                log.info("starting %s", server.name)
                try:
                    future.result()
                except Exception as e:  # noqa: BLE001 - collected, raised below
                    errors.append(e)
        if errors:
            raise errors[0]
        return started

    def stop_host(self, short: str) -> None:
        server = self.running.pop(short, None)
        if server is not None:
            log.info("stopping %s", server.name)
            server.stop()

    def stop_all(self) -> None:
        for short in list(self.running):
            self.stop_host(short)
