"""Load the reference stack's TOML configuration, or refuse it in one clear line.

Every check runs before any node starts: unknown keys (with their path), wrong types,
a block whose eP-CSCF is not configured, two eP-CSCFs claiming one block, a wildcard
that does not compile (TS 23.003 13.4A), a user of no block, and ports already in use; the
users of a ``users_file`` (one a line, :func:`read_users_file`) get the checks of a ``[[user]]`` table.
``reference/default-stack.toml`` is the reference profile with fixed ports.
"""

from __future__ import annotations

import dataclasses
import errno
import socket
import tomllib
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from reference.blocks import Allocation, WimpuBlock
from reference.limits import Limits
from reference.nodes.ep_cscf.workers import worker_name
from reference.nodes.wimpu_registrar.backends import check_location, is_postgres
from reference.nodes.wwsf.users import parse_user_secret
from reference.sip.errors import WildcardError
from reference.sip.identity import IdentityError, WildcardImpu, canonical_identity
from reference.stack import BlockSpec, LeaseTiming, PcscfSpec, StackConfig, UserSpec

__all__ = [
    "ConfigError",
    "check_ports_free",
    "default_config_text",
    "load_config",
    "parse_config",
    "read_users_file",
]


class ConfigError(ValueError):
    """A configuration that cannot run; the message is one line naming file and key."""


_TOP = {
    "stack",
    "ports",
    "ep_cscf",
    "block",
    "user",
    "users_file",
    "ims_users",
    "failover",
    "p_cscf",
    "limits",
    "registrar",
}
_REGISTRAR = {"store", "password_file"}
"``[registrar]``: where the wIMPU Registrar keeps its registrations (SQLite file or PostgreSQL URI)."
_PCSCF = {"name", "sip_port", "link_port"}
_FAILOVER = {"lease_duration", "renew_interval", "standby_delay", "retry_interval"}
_STACK = {"host", "ims_domain", "state_dir", "remote_domain", "keylog"}
_PORTS = {"registrar", "wwsf", "i_cscf", "s_cscf", "remote"}
"Listening ports of the nodes, and ``remote``: where the remote IMS party (played by the suite) listens."
_EP = {"name", "wss_port", "sip_port", "p_cscfs", "iwf_workers"}
_BLOCK = {"wimpu", "option", "ep_cscf", "name", "password", "registration", "external_domains", "standby"}
_USER = {"username", "password", "password_hash", "identity", "block"}


def default_config_text() -> str:
    return resources.files("reference").joinpath("default-stack.toml").read_text(encoding="utf-8")


def load_config(path: str | Path | None) -> StackConfig:
    """Read a TOML file (or the packaged default when ``path`` is None)."""
    where = str(path) if path else "default-stack.toml"
    try:
        text = Path(path).read_text(encoding="utf-8") if path else default_config_text()
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    return parse_config(data, where, Path(path).parent if path else None)


def _keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _get(table: Mapping[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    if key not in table:
        if default is None:
            raise ConfigError(f"{where}.{key}: missing")
        return default
    value = table[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


MAX_IWF_WORKERS = 32
"The most processes one eP-CSCF's IWF may run in (``iwf_workers``)."


def _iwf_workers(ep: Mapping[str, Any], decomposed: bool, where: str) -> int:
    """``iwf_workers``: the IWF's processes on the eP-CSCF's WSS port (``nodes/ep_cscf/workers.py``)."""
    count: int = _get(ep, "iwf_workers", int, where, 1)
    if not 1 <= count <= MAX_IWF_WORKERS:
        raise ConfigError(f"{where}.iwf_workers: {count} is outside 1-{MAX_IWF_WORKERS}")
    if count > 1 and not decomposed:
        raise ConfigError(
            f"{where}.iwf_workers: only a decomposed eP-CSCF (p_cscfs = [...]) runs its IWF in several "
            "processes (they reach its P-CSCFs over the internal interface)"
        )
    return count


def _port(table: Mapping[str, Any], key: str, where: str) -> int:
    port: int = _get(table, key, int, where, 0)
    if not 0 <= port <= 65535:
        raise ConfigError(f"{where}.{key}: port {port} is outside 0-65535")
    return port


def _seconds(table: Mapping[str, Any], key: str, where: str) -> float | None:
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{where}.{key}: expected a positive number of seconds, got {value!r}")
    return float(value)


def _failover(table: Any, where: str) -> LeaseTiming:
    """``[failover]``: the lease timings of block re-allocation (TR 23.701 5.2.2.2)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: [failover] must be a table")
    _keys(table, _FAILOVER, f"{where}: [failover]")
    duration = _seconds(table, "lease_duration", f"{where}: failover")
    try:
        return LeaseTiming(
            duration=10.0 if duration is None else duration,
            renew_interval=_seconds(table, "renew_interval", f"{where}: failover"),
            standby_delay=_seconds(table, "standby_delay", f"{where}: failover"),
            retry_interval=_seconds(table, "retry_interval", f"{where}: failover"),
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: failover: {exc}") from None


def _registrar(table: Any, where: str, base_dir: Path | None) -> tuple[str | None, str | None]:
    """``[registrar]``: the store (a SQLite file path or a ``postgresql://`` URI, never with a
    password in it) and the file holding the PostgreSQL password; relative paths are the
    configuration file's."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: [registrar] must be a table")
    _keys(table, _REGISTRAR, f"{where}: [registrar]")
    store: str | None = _get(table, "store", str, f"{where}: registrar", "") or None
    password_file: str | None = _get(table, "password_file", str, f"{where}: registrar", "") or None
    if store is not None:
        try:
            check_location(store)
        except ValueError as exc:
            raise ConfigError(f"{where}: registrar.store: {exc}") from None
        if not is_postgres(store) and base_dir is not None and store != ":memory:":
            store = str(base_dir / store)
    if password_file is not None:
        if store is None or not is_postgres(store):
            raise ConfigError(f"{where}: registrar.password_file: only for a postgresql:// store")
        path = (base_dir or Path()) / password_file
        if not path.is_file():
            raise ConfigError(f"{where}: registrar.password_file: {path}: no such file")
        password_file = str(path)
    return store, password_file


def _limits(table: Any, where: str) -> Limits:
    """``[limits]``: the limits that protect legitimate users (``reference/limits.py``)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: [limits] must be a table")
    fields = {f.name: f for f in dataclasses.fields(Limits)}
    _keys(table, set(fields), f"{where}: [limits]")
    values: dict[str, Any] = {}
    for key, value in table.items():
        integer = fields[key].type in ("int", int)
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float) or value <= 0:
            kind = "a positive whole number" if integer else "a positive number of seconds"
            raise ConfigError(f"{where}: limits.{key}: expected {kind}, got {value!r}")
        values[key] = value if integer else float(value)
    return Limits(**values)


def _password(block: Mapping[str, Any], where: str) -> str | None:
    """A block's digest password when configured; None: generated into the state directory."""
    if "password" not in block:
        return None
    value: str = _get(block, "password", str, where)
    if not value.strip():
        raise ConfigError(f"{where}.password: empty (leave it out to have one generated)")
    return value


def parse_config(data: Mapping[str, Any], where: str = "config", base_dir: Path | None = None) -> StackConfig:
    """Validate a parsed TOML document into a :class:`StackConfig`.

    ``base_dir``: where a relative ``users_file`` is (the configuration file's folder; None: the
    current directory).
    """
    _keys(data, _TOP, where)
    failover = _failover(data["failover"], where) if "failover" in data else None
    store, password_file = (
        _registrar(data["registrar"], where, base_dir) if "registrar" in data else (None, None)
    )
    stack = data.get("stack", {})
    _keys(stack, _STACK, f"{where}: [stack]")
    ports_table = data.get("ports", {})
    _keys(ports_table, _PORTS, f"{where}: [ports]")
    ports = {key: _port(ports_table, key, f"{where}: ports") for key in _PORTS}

    eps: dict[str, tuple[int, int]] = {}
    pools: dict[str, tuple[str, ...]] = {}
    workers: dict[str, int] = {}
    for i, ep in enumerate(data.get("ep_cscf", [])):
        at = f"{where}: ep_cscf[{i}]"
        _keys(ep, _EP, at)
        name = _get(ep, "name", str, at)
        if name in eps:
            raise ConfigError(f"{at}.name: eP-CSCF {name!r} is configured twice")
        eps[name] = (_port(ep, "wss_port", at), _port(ep, "sip_port", at))
        pools[name] = tuple(_get(ep, "p_cscfs", list, at, []))
        if pools[name] and failover is None:
            raise ConfigError(f"{at}.p_cscfs: a decomposed eP-CSCF needs a [failover] table (block leases)")
        workers[name] = _iwf_workers(ep, bool(pools[name]), at)
    p_cscfs = _p_cscfs(data.get("p_cscf", []), pools, eps, where)
    names = {*eps, *(spec.name for spec in p_cscfs)}
    for name, count in workers.items():
        taken = sorted(names & {worker_name(name, i) for i in range(2, count + 1)})
        if taken:
            raise ConfigError(
                f"{where}: ep_cscf {name!r}.iwf_workers: its worker {taken[0]!r} "
                "has the name of a configured node"
            )

    blocks: list[BlockSpec] = []
    for i, b in enumerate(data.get("block", [])):
        at = f"{where}: block[{i}]"
        _keys(b, _BLOCK, at)
        wimpu = _get(b, "wimpu", str, at)
        try:
            parsed = WildcardImpu.parse(wimpu)
        except (WildcardError, IdentityError) as exc:
            raise ConfigError(f"{at}.wimpu: {exc}") from None
        if any(other.block.wimpu == parsed for other in blocks):
            raise ConfigError(f"{at}.wimpu: block {wimpu} is configured twice")
        option = _get(b, "option", str, at)
        if option not in ("A", "B"):
            raise ConfigError(f"{at}.option: must be 'A' (third party allocates) or 'B' (eP-CSCF allocates)")
        ep_name = _get(b, "ep_cscf", str, at)
        if ep_name not in eps:
            raise ConfigError(f"{at}.ep_cscf: {ep_name!r} is not a configured eP-CSCF (add an [[ep_cscf]])")
        registration = _get(b, "registration", int, at, 1)
        if registration not in (1, 2):
            raise ConfigError(f"{at}.registration: 5.2.2.5.1 has options 1 and 2, not {registration}")
        domains = tuple(_get(b, "external_domains", list, at, []))
        if option == "B" and not domains:
            raise ConfigError(f"{at}.external_domains: option B needs the external identities' domains")
        standby = tuple(_get(b, "standby", list, at, []))
        for other in standby:
            if other not in eps:
                raise ConfigError(f"{at}.standby: {other!r} is not a configured eP-CSCF (add an [[ep_cscf]])")
            if other == ep_name:
                raise ConfigError(f"{at}.standby: {other!r} serves the block already; list another eP-CSCF")
        if len(set(standby)) != len(standby):
            raise ConfigError(f"{at}.standby: an eP-CSCF is listed twice")
        if standby and failover is None:
            raise ConfigError(f"{at}.standby: a standby eP-CSCF needs a [failover] table (the lease timings)")
        if standby and (pools[ep_name] or any(pools[s] for s in standby)):
            raise ConfigError(f"{at}.standby: a decomposed eP-CSCF's P-CSCFs stand in for one another")
        blocks.append(
            BlockSpec(
                block=WimpuBlock(
                    parsed,
                    Allocation.from_letter(option),
                    domains,
                    name=_get(b, "name", str, at, f"block{i + 1}"),
                ),
                ep_cscf=ep_name,
                password=_password(b, at),
                registration=registration,
                standby=standby,
            )
        )
    if not blocks:
        raise ConfigError(f"{where}: no [[block]]: the stack needs at least one wIMPU block")

    wimpus = {b.wimpu for b in blocks}
    users: list[UserSpec] = []
    seen: dict[str, str] = {}
    for i, u in enumerate(data.get("user", [])):
        at = f"{where}: user[{i}]"
        _keys(u, _USER, at)
        identity = _get(u, "identity", str, at)
        block = _get(u, "block", str, at)
        username = _get(u, "username", str, at)
        try:
            users.append(_user(username, identity, block, u, wimpus, seen, f"user[{i}]"))
        except _UserError as exc:
            raise ConfigError(f"{at}{'.' + exc.key if exc.key else ''}: {exc}") from None
    if "users_file" in data:
        users_file = _get(data, "users_file", str, where)
        users += read_users_file((base_dir or Path()) / users_file, wimpus, seen, f"{where}: users_file")

    return StackConfig(
        host=_get(stack, "host", str, f"{where}: stack", "127.0.0.1"),
        ims_domain=_get(stack, "ims_domain", str, f"{where}: stack", "ims.example.net"),
        state_dir=stack.get("state_dir"),
        keylog=_get(stack, "keylog", str, f"{where}: stack", "") or None,
        remote_domain=_get(stack, "remote_domain", str, f"{where}: stack", "remote.example.org"),
        blocks=tuple(blocks),
        users=tuple(users),
        ims_users=tuple(data.get("ims_users", ())),
        ports=ports,
        ep_ports=eps,
        failover=failover,
        p_cscfs=p_cscfs,
        iwf_workers={name: n for name, n in workers.items() if n > 1},
        limits=_limits(data["limits"], where) if "limits" in data else Limits(),
        registrar_store=store,
        registrar_password_file=password_file,
    )


class _UserError(ValueError):
    """A user refused; ``key``: the ``[[user]]`` key at fault ("": the user as a whole)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _user(
    username: str,
    identity: str,
    block: str,
    secret: Mapping[str, object],
    wimpus: Collection[str],
    seen: dict[str, str],
    source: str,
) -> UserSpec:
    """One WWSF user, from a ``[[user]]`` table or a line of a users file: the same checks for both.

    ``secret``: ``password`` and/or ``password_hash`` (exactly one allowed); ``seen``: the user
    names so far and where each was configured, ``source`` this user's place, added to it.

    Raises:
        _UserError: the key at fault and why (never the secret).
    """
    try:
        canonical_identity(identity)  # canonical input: one regex (reference/sip/identity.py)
    except IdentityError as exc:
        raise _UserError("identity", str(exc)) from None
    if block not in wimpus:
        raise _UserError("block", f"{block!r} is not a configured block")
    if username in seen:  # the WWSF would keep one of them silently: which password logs in?
        raise _UserError("username", f"{username!r} is also the user name of {seen[username]}")
    try:
        parse_user_secret(username, secret)
    except ValueError as exc:
        raise _UserError("", str(exc)) from None
    seen[username] = source
    password, password_hash = secret.get("password"), secret.get("password_hash")
    return UserSpec(username, password, identity, block, password_hash)  # type: ignore[arg-type]


USERS_FILE_FIELDS = ("username", "password_hash", "identity", "block")
"The fields of a line of a users file, in order, separated by white space."


def read_users_file(
    path: Path, wimpus: Collection[str], seen: dict[str, str] | None = None, where: str = "users_file"
) -> list[UserSpec]:
    """The users of a users file (``users_file`` in the stack configuration): one a line,
    ``username password_hash identity block`` separated by spaces or tabs, as ``[[user]]`` tables
    with a ``password_hash`` would give them (the same checks, :func:`_user`). A line whose first
    non-blank character is ``#`` is a comment; blank lines are skipped. No field can hold white
    space: a ``sip:`` URI, a wIMPU and a PHC string never do, and a user name with a space goes in a
    ``[[user]]`` table. No plaintext password: the second field must be a PHC scrypt string.

    ``seen``: user names configured already (``[[user]]`` tables) and where; extended.

    Raises:
        ConfigError: one line naming the file and line (``path:line: ...``), never quoting a hash.
    """
    seen = {} if seen is None else seen
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{where}: {path}: no such file") from None
    except UnicodeDecodeError as exc:
        bad = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{bad}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{where}: {path}: {exc.strerror}") from None
    users: list[UserSpec] = []
    name = str(path)
    for number, line in enumerate(text.split("\n"), 1):
        fields = line.split()
        if len(fields) != 4:
            if not fields or fields[0].startswith("#"):
                continue
            raise ConfigError(
                f"{name}:{number}: {len(fields)} field(s), expected 4 separated by white space: "
                f"{' '.join(USERS_FILE_FIELDS)} (no field holds a space; '#' starts a comment line)"
            )
        username, password_hash, identity, block = fields
        if username.startswith("#"):
            continue
        secret = {"password_hash": password_hash}
        try:
            users.append(_user(username, identity, block, secret, wimpus, seen, f"{name}:{number}"))
        except _UserError as exc:
            raise ConfigError(f"{name}:{number}: {exc.key + ': ' if exc.key else ''}{exc}") from None
    return users


def _p_cscfs(
    tables: Any, pools: Mapping[str, tuple[str, ...]], eps: Mapping[str, tuple[int, int]], where: str
) -> tuple[PcscfSpec, ...]:
    """``[[p_cscf]]``: the P-CSCFs of decomposed eP-CSCFs, each named by one ``p_cscfs`` list."""
    owner = {p: ep for ep, names in pools.items() for p in names}
    found: list[PcscfSpec] = []
    for i, table in enumerate(tables):
        at = f"{where}: p_cscf[{i}]"
        _keys(table, _PCSCF, at)
        name = _get(table, "name", str, at)
        if name in eps or any(s.name == name for s in found):
            raise ConfigError(f"{at}.name: {name!r} is configured twice")
        if name not in owner:
            raise ConfigError(f"{at}.name: P-CSCF {name!r} is in no eP-CSCF's p_cscfs list")
        ports = _port(table, "sip_port", at), _port(table, "link_port", at)
        found.append(PcscfSpec(name, owner[name], *ports))
    missing = sorted(set(owner) - {s.name for s in found})
    if missing:
        raise ConfigError(f"{where}: ep_cscf {owner[missing[0]]!r}.p_cscfs: {missing[0]!r} has no [[p_cscf]]")
    if len(owner) != sum(len(names) for names in pools.values()):
        raise ConfigError(f"{where}: a P-CSCF is listed twice in the p_cscfs lists")
    return tuple(found)


def check_ports_free(config: StackConfig, only: Collection[str] | None = None) -> None:
    """Fail before starting anything if a fixed port is taken (TCP, and UDP for SIP).

    ``only``: the nodes this process will run (None: all of them).
    """
    node_of = {"registrar": "registrar", "wwsf": "wwsf", "i_cscf": "i-cscf", "s_cscf": "s-cscf"}
    wanted: list[tuple[str, int, bool]] = [
        (k, p, k in ("i_cscf", "s_cscf"))
        for k, p in config.ports.items()
        if k in node_of and (only is None or node_of[k] in only)
    ]
    for name, (wss, sip) in config.ep_ports.items():
        if only is None or name in only:
            wanted += [(f"{name} wss_port", wss, False), (f"{name} sip_port", sip, True)]
    for spec in config.p_cscfs:
        if only is None or spec.name in only:
            wanted += [
                (f"{spec.name} sip_port", spec.sip_port, True),
                (f"{spec.name} link_port", spec.link_port, False),
            ]
    for name, port, udp_too in wanted:
        if port == 0:
            continue
        kinds = [socket.SOCK_STREAM, socket.SOCK_DGRAM] if udp_too else [socket.SOCK_STREAM]
        for kind in kinds:
            with socket.socket(socket.AF_INET, kind) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((config.host, port))
                except OSError as exc:
                    reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                    raise ConfigError(f"ports: {name} = {port} on {config.host}: {reason}") from None
