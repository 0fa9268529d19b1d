"""PIXIT: where each node of TR 23.701 5.2.2.2 is, and who plays it, in one TOML file.

PIXIT (Protocol Implementation eXtra Information for Testing, ISO/IEC 9646) complements the
PICS: the PICS says which options the system under test (SUT) claims, the PIXIT says how to
reach it. Each node of the architecture has a *mode*:

- ``reference``: the suite starts the bundled reference implementation of that node itself;
- ``emulated``: the harness plays the node (the remote party; the S-CSCF/HSS and a plain
  I-CSCF, :mod:`conformance.harness.ims_core`), at the address given here, around external nodes;
- ``external``: the node runs elsewhere (the vendor's SUT, or the reference started as separate
  processes), at the addresses given here.

The file format (every key, with its meaning) is in ``docs/pixit.md``; a complete example for
each mode is in ``examples/pixit/``. Every problem is one line naming the file and the key,
raised as :class:`PixitError` before anything starts.

Why a package of its own (``conformance/``) beside the design card's ``captures/`` and
``reports/``: the PIXIT is read by the harness (``steps/``), by the offline verifier
(``captures/``) and by the reports, none of which should import another's internals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from captures.flows import DEFAULT_PORTS
from conformance.layered import LayeredError, load_layered
from reference.blocks import Allocation, WimpuBlock
from reference.sip.errors import WildcardError
from reference.sip.identity import IdentityError, WildcardImpu, canonical_identity

__all__ = [
    "ROLES",
    "Block",
    "ImsUser",
    "Mode",
    "Node",
    "Pixit",
    "REFERENCE_PIXIT",
    "PixitError",
    "SipAddress",
    "User",
    "load_pixit",
    "parse_pixit",
]

Mode = Literal["reference", "emulated", "external"]

REFERENCE_PIXIT = Path(__file__).with_name("reference-pixit.toml")
"The PIXIT of the default run (the bundled reference, in-process): its values when no --sut is given."
FAILOVER_WITHIN = 10.0
"""``[timing] failover_within`` of the reference: seconds from an eP-CSCF's failure to its block's
registration by another (docs/failover.md: lease 10 s; the solution profile's timing, not the text's)."""

MIN_EXPIRES = 60
"""``[timing] min_expires`` of the reference: the shortest registration interval its eP-CSCF grants
a WIC (RFC 3261 10.3 step 7: a shorter one "MAY" get 423; this one may not)."""

ROLES: dict[str, frozenset[str]] = {
    "wwsf": frozenset({"reference", "external"}),
    "registrar": frozenset({"reference", "external"}),
    "ep_cscf": frozenset({"reference", "external"}),
    "i_cscf": frozenset({"reference", "external", "emulated"}),
    "s_cscf": frozenset({"reference", "external", "emulated"}),
    "remote": frozenset({"emulated"}),
}
"""The nodes of 5.2.2.2 (and the remote IMS party) and the modes the suite supports for each."""

ROLE_NAMES = {
    "wwsf": "WWSF",
    "registrar": "wIMPU Registrar",
    "ep_cscf": "eP-CSCF",
    "i_cscf": "I-CSCF",
    "s_cscf": "S-CSCF/HSS",
    "remote": "remote party",
}


class PixitError(ValueError):
    """A PIXIT the suite cannot run with; the message is one line naming file and key."""


@dataclasses.dataclass(frozen=True, slots=True)
class SipAddress:
    """Where a SIP node listens: ``udp://127.0.0.1:5060`` or ``tcp://...``."""

    transport: Literal["udp", "tcp"]
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}://{self.host}:{self.port}"


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    """One node instance: its role, instance name, mode and addresses (external nodes).

    ``url`` is the HTTPS origin of the WWSF, the HTTP base URL of the registrar (W6/W7), or the
    WSS URL of an eP-CSCF's IWF; ``sip`` is where a SIP node (P-CSCF, I-CSCF, S-CSCF, remote)
    listens. For ``reference`` nodes the addresses, when given, fix the ports the suite starts
    them on; when absent the suite picks free ports.
    """

    role: str
    name: str
    mode: Mode
    url: str | None = None
    sip: SipAddress | None = None
    identity: str | None = None
    "An eP-CSCF's identity as the WWSF puts it in the token audience (external eP-CSCFs)."
    fail: tuple[str, ...] = ()
    """An external eP-CSCF's fault-injection command: it makes the eP-CSCF fail as a crash would
    (the failover scenario, tag ``fault_injection``); empty: the suite cannot make it fail."""
    restart: tuple[str, ...] = ()
    """An external eP-CSCF's restart command: it stops the eP-CSCF as a crash would and starts it
    again on the same addresses (TP_WIMPU_BLK_007); empty: the suite cannot restart it."""
    start_again: tuple[str, ...] = ()
    """An external eP-CSCF's command that starts it again on its addresses after its ``fail``
    command, as its operator would once it is repaired (TP_WIMPU_LIFE_010: up again after its
    block was re-allocated); empty: the suite cannot start it again."""

    @property
    def label(self) -> str:
        return self.name if self.role == "ep_cscf" else ROLE_NAMES[self.role]

    def listening(self) -> list[tuple[str, int]]:
        """(host, port) of every address this node listens on."""
        found = [(self.sip.host, self.sip.port)] if self.sip is not None else []
        if self.url is not None:
            parts = urlsplit(self.url)
            default = DEFAULT_PORTS.get(parts.scheme, 0)
            found.append((parts.hostname or "", parts.port or default))
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class Block:
    """A wIMPU block as the PIXIT places it: the block (5.2.2.1, the one model of
    ``reference.blocks``), its eP-CSCF and registration option, and what the suite needs to
    reach and check it."""

    block: WimpuBlock
    "The block: its wildcard, identity option (A/B), external domains and short name."
    ep_cscf: str
    registration: Literal[1, 2] = 1
    password: str = ""
    "Its digest password at the S-CSCF/HSS; required when the suite emulates the S-CSCF."
    standby: tuple[str, ...] = ()
    "eP-CSCFs of the SUT configured to take the block over when its eP-CSCF fails (5.2.2.2)."
    representative: str = ""
    """The distinct IMPU the eP-CSCF registers for the block (5.2.2.5.1, solution profile "Block
    registration"); default ``sip:<name>@wrtc.<ims_domain>``, the reference's."""

    @property
    def wimpu(self) -> str:
        """The wildcarded IMPU as the PIXIT writes it (``block.wimpu``)."""
        return str(self.block.wimpu)

    @property
    def option(self) -> Literal["A", "B"]:
        """A: identities allocated by the third party; B: by the eP-CSCF (``block.option``)."""
        return self.block.option

    @property
    def external_domains(self) -> tuple[str, ...]:
        """Option B: the external identities' domains (``block.external_domains``)."""
        return self.block.external_domains

    @property
    def name(self) -> str:
        """The block's short name (its IMPI is ``<name>@<ims_domain>``; ``block.name``)."""
        return self.block.name


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    """A WWSF user the suite logs in as (third-party credentials) and the identity it gets."""

    username: str
    password: str
    identity: str
    block: str


@dataclasses.dataclass(frozen=True, slots=True)
class ImsUser:
    """An ordinary IMS subscriber (not webRTC) with its credentials at the S-CSCF/HSS."""

    identity: str
    impi: str
    password: str
    "Its password; empty when ``password_file`` names the file holding it."
    password_file: Path | None = None
    "A file holding the password (e.g. one a reference stack generated into its state directory)."

    def secret(self) -> str:
        """The password: ``password``, or the content of ``password_file`` read now (a SUT started
        by ``[sut] start`` may write it after the PIXIT was loaded)."""
        if self.password_file is None:
            return self.password
        return self.password_file.read_text(encoding="utf-8").strip()


@dataclasses.dataclass(frozen=True, slots=True)
class Pixit:
    """A validated PIXIT."""

    path: Path | None
    description: str
    pics: Path | None
    host: str
    ims_domain: str
    remote_domain: str
    nodes: dict[str, Node]
    "Instance name -> node (the eP-CSCFs by their names, every other role by its role key)."
    blocks: tuple[Block, ...]
    users: tuple[User, ...]
    ims_users: tuple[ImsUser, ...]
    trust: tuple[Path, ...] = ()
    "CA certificates (PEM) to trust for the HTTPS and WSS of external nodes."
    wwsf_signing_key: Path | None = None
    "The WWSF's token signing key (PEM), for the scenarios that need a token the WWSF would not issue."
    registrar_client: tuple[Path, Path] | None = None
    """``[registrar] client_cert`` and ``client_key``: the certificate (PEM chain) and key the suite
    presents to an external registrar that requires mutual TLS (read-only W6/W7 and leases)."""
    registrar_stall: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    """``[registrar] stall`` and ``resume``: fault injection, two commands that make the external
    registrar stop answering (requests accepted and left unanswered, as a hung process does) and
    answer again (TP_WIMPU_REG_013); None: the suite cannot make it stall."""
    clock_file: Path | None = None
    "A clock-offset file every external node reads its time from (scenarios that let time pass)."
    state_dir: Path | None = None
    start: tuple[str, ...] = ()
    """``[sut] start``: a command the suite runs before each scenario to start the external SUT
    afresh (stopped with SIGTERM after it); empty: the SUT is already running."""
    ready: float = 20.0
    "``[sut] ready``: seconds to wait for a started SUT's nodes to answer."
    failover_within: float = FAILOVER_WITHIN
    """``[timing] failover_within``: seconds within which the SUT re-allocates the block of a failed
    eP-CSCF (5.2.2.2 gives no time; the check against it is a profile check, PROFILE_LIFE_FAILOVER_TIME)."""
    min_expires: int = MIN_EXPIRES
    """``[timing] min_expires``: the SUT's minimum registration interval (its Min-Expires, RFC 3261
    10.3 step 7): a REGISTER for exactly that long must not be refused as too brief."""
    timer_c: float | None = None
    """``[timing] timer_c``: seconds of the ``[clock]`` offset file's clock after which the SUT's
    eP-CSCF ends a branch of a proxied INVITE that rang with no final response (its Timer C, RFC 3261
    16.6 item 11, 16.8). None: not given, or the eP-CSCF's Timer C runs on its own clock; the test
    purposes that let it pass are then inconclusive (a tester cannot wait minutes of real time)."""

    @property
    def profile_answers(self) -> dict[str, str] | None:
        """The SUT's PICS answers (``pics``), for ``verify``'s checks of the solution profile's
        choices; None when the PIXIT names no PICS.

        Raises:
            ValueError: the PICS file is invalid (naming the file and the item).
        """
        if self.pics is None:
            return None
        from conformance.traceability import pics_answers

        return pics_answers(self.pics)

    @property
    def origins(self) -> tuple[str, ...]:
        """The web origin of the WWSF the eP-CSCFs authorise (5.2.2.5.2 step 2), for ``verify``:
        its ``url`` when the PIXIT gives one, else none (a reference WWSF's port is chosen at start)."""
        wwsf = [n for n in self.nodes.values() if n.role == "wwsf" and n.url]
        return tuple(n.url.rstrip("/") for n in wwsf if n.url)

    @property
    def ep_cscfs(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == "ep_cscf"]

    def node(self, role: str) -> Node:
        """The single node of ``role`` (not for ``ep_cscf``, which may have several instances)."""
        found = [n for n in self.nodes.values() if n.role == role]
        if len(found) != 1:
            raise KeyError(f"{len(found)} nodes of role {role!r}")
        return found[0]

    def modes(self) -> set[str]:
        return {n.mode for n in self.nodes.values() if n.role != "remote"}

    @property
    def all_reference(self) -> bool:
        """Every node is the bundled reference started by the suite: the default, in-process run."""
        return self.modes() == {"reference"}

    def external(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.mode == "external"]

    def emulated(self, role: str) -> bool:
        """True if the harness plays the node of ``role`` (``i_cscf``, ``s_cscf``, ``remote``)."""
        return self.node(role).mode == "emulated"

    def endpoints(self) -> dict[tuple[str, int], str]:
        """Listening (host, port) -> node name, for naming the legs of a capture: ``wwsf``,
        ``registrar``, ``i-cscf``, ``s-cscf``, ``remote``, ``<ep-cscf>/wss`` and ``<ep-cscf>/sip``
        (the names :func:`captures.stack_ports` gives an in-process stack)."""
        names: dict[tuple[str, int], str] = {}
        for node in self.nodes.values():
            for host, port in node.listening():
                suffix = ""
                if node.role == "ep_cscf":
                    suffix = "/sip" if node.sip is not None and port == node.sip.port else "/wss"
                role = node.role.replace("_", "-")
                names[(host, port)] = node.name + suffix if node.role == "ep_cscf" else role
        return names


# ----- loading ------------------------------------------------------------------------------------

_TOP = {"sut", "stack", "trust", "wwsf", "registrar", "i_cscf", "s_cscf", "remote", "ep_cscf", "block",
        "user", "ims_user", "clock", "timing"}  # fmt: skip
_SUT = {"description", "pics", "start", "ready"}
_STACK = {"host", "ims_domain", "remote_domain", "state_dir"}
_TRUST = {"ca"}
_NODE_KEYS = {
    "wwsf": {"mode", "url", "signing_key"},
    "registrar": {"mode", "url", "client_cert", "client_key", "stall", "resume"},
    "i_cscf": {"mode", "sip"},
    "s_cscf": {"mode", "sip"},
    "remote": {"mode", "sip"},
    "ep_cscf": {"name", "mode", "url", "sip", "identity", "fail", "restart", "start_again"},
}
_BLOCK = {"wimpu", "option", "ep_cscf", "name", "password", "registration", "external_domains",
          "representative", "standby"}  # fmt: skip
_USER = {"username", "password", "identity", "block"}
_IMS_USER = {"identity", "impi", "password", "password_file"}
_CLOCK = {"offset_file"}
_TIMING = {"failover_within", "min_expires", "timer_c"}


def load_pixit(path: str | Path) -> Pixit:
    """Read and validate a PIXIT file.

    Raises:
        PixitError: one line naming the file and key.
    """
    path = Path(path)
    try:
        data = load_layered(path)  # a PIXIT may name a base PIXIT (conformance/layered.py)
    except LayeredError as exc:
        raise PixitError(str(exc)) from None
    return parse_pixit(data, path)


class _Reader:
    def __init__(self, where: str, base: Path | None) -> None:
        self.where = where
        self.base = base

    def fail(self, at: str, message: str) -> PixitError:
        return PixitError(f"{self.where}: {at}: {message}")

    def keys(self, table: Any, allowed: set[str], at: str) -> Mapping[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(at, f"expected a table, got {type(table).__name__}")
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(at, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        return table

    def get(self, table: Mapping[str, Any], key: str, kind: type, at: str, default: Any = ...) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f"{at}.{key}", "missing")
            return default
        value = table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(f"{at}.{key}", f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        return value

    def command(self, table: Mapping[str, Any], key: str, at: str) -> tuple[str, ...]:
        """A command to run: a list of non-empty strings (program, then arguments)."""
        value = self.get(table, key, list, at, [])
        if not all(isinstance(part, str) and part for part in value):
            raise self.fail(f"{at}.{key}", "expected a command as a list of non-empty strings")
        return tuple(value)

    def file(self, table: Mapping[str, Any], key: str, at: str, *, later: bool = False) -> Path | None:
        """A file named by ``key``; ``later``: it may not exist yet (the SUT's start command makes it)."""
        value = self.get(table, key, str, at, None)
        if value is None:
            return None
        found = Path(value) if self.base is None or Path(value).is_absolute() else self.base / value
        if not later and not found.is_file():
            raise self.fail(f"{at}.{key}", f"no such file: {found}")
        return found

    def url(self, table: Mapping[str, Any], at: str, schemes: tuple[str, ...]) -> str | None:
        value: str | None = self.get(table, "url", str, at, None)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise self.fail(f"{at}.url", f"{value!r} is not a {' or '.join(schemes)} URL with a host")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise self.fail(f"{at}.url", f"{value!r} has a bad port") from None
        return value

    def sip(self, table: Mapping[str, Any], at: str) -> SipAddress | None:
        value = self.get(table, "sip", str, at, None)
        if value is None:
            return None
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("udp", "tcp") or not parts.hostname or port is None:
            raise self.fail(f"{at}.sip", f"{value!r} is not udp://HOST:PORT or tcp://HOST:PORT")
        return SipAddress(cast("Literal['udp', 'tcp']", parts.scheme), parts.hostname, port)


def _node(r: _Reader, role: str, table: Any, at: str, name: str | None = None) -> Node:
    table = r.keys(table, _NODE_KEYS[role], at)
    default_mode = "emulated" if role == "remote" else "reference"
    mode = r.get(table, "mode", str, at, default_mode)
    if mode not in ROLES[role]:
        allowed = " or ".join(sorted(ROLES[role]))
        raise r.fail(f"{at}.mode", f"{mode!r} is not a mode for the {ROLE_NAMES[role]} (use {allowed})")
    schemes = {"wwsf": ("https",), "registrar": ("http", "https"), "ep_cscf": ("wss",)}.get(role, ())
    url = r.url(table, at, schemes) if schemes else None
    sip = r.sip(table, at) if "sip" in _NODE_KEYS[role] else None
    if mode == "emulated" and role != "remote":
        # the SUT is configured with this address: the harness must listen exactly there
        if sip is None or sip.transport != "tcp" or sip.port == 0:
            raise r.fail(f"{at}.sip", f"an emulated {ROLE_NAMES[role]} needs the address the SUT reaches "
                         "it at, tcp://HOST:PORT with a fixed port")  # fmt: skip
    if mode == "external":
        if schemes and url is None:
            raise r.fail(f"{at}.url", f"missing: an external {ROLE_NAMES[role]} needs its address")
        if "sip" in _NODE_KEYS[role] and sip is None:
            raise r.fail(f"{at}.sip", f"missing: an external {ROLE_NAMES[role]} needs its SIP address")
        zero = "has a bad port: an external node needs the port it listens on, not 0"
        if url is not None and urlsplit(url).port == 0:
            raise r.fail(f"{at}.url", f"{url!r} {zero}")
        if sip is not None and sip.port == 0:
            raise r.fail(f"{at}.sip", f"'{sip}' {zero}")
    identity = r.get(table, "identity", str, at, None) if role == "ep_cscf" else None
    fail = r.command(table, "fail", at) if role == "ep_cscf" else ()
    restart = r.command(table, "restart", at) if role == "ep_cscf" else ()
    start_again = r.command(table, "start_again", at) if role == "ep_cscf" else ()
    for key, command in (("fail", fail), ("restart", restart), ("start_again", start_again)):
        if command and mode != "external":
            raise r.fail(f"{at}.{key}", "only an external eP-CSCF needs a fault-injection command")
    if start_again and not fail:
        raise r.fail(f"{at}.start_again", "starts the eP-CSCF again after its fail command, which is missing")
    return Node(role, name or role, mode, url, sip, identity, fail, restart, start_again)


def parse_pixit(data: Mapping[str, Any], path: Path | None = None) -> Pixit:
    """Validate a parsed PIXIT document (``path`` names it in errors and anchors relative files)."""
    r = _Reader(str(path) if path is not None else "pixit", path.parent if path is not None else None)
    r.keys(data, _TOP, "top level")
    sut = r.keys(data.get("sut", {}), _SUT, "[sut]")
    stack = r.keys(data.get("stack", {}), _STACK, "[stack]")
    trust = r.keys(data.get("trust", {}), _TRUST, "[trust]")
    clock = r.keys(data.get("clock", {}), _CLOCK, "[clock]")
    timing = r.keys(data.get("timing", {}), _TIMING, "[timing]")

    nodes: dict[str, Node] = {}
    for role in ("wwsf", "registrar", "i_cscf", "s_cscf", "remote"):
        nodes[role] = _node(r, role, data.get(role, {}), f"[{role}]")
    raw_eps = data.get("ep_cscf", [])
    if not isinstance(raw_eps, list) or not raw_eps:
        raise r.fail("[[ep_cscf]]", "at least one eP-CSCF is needed (name, mode, url, sip)")
    for i, table in enumerate(raw_eps):
        at = f"ep_cscf[{i}]"
        name = r.get(r.keys(table, _NODE_KEYS["ep_cscf"], at), "name", str, at)
        if name in nodes:
            raise r.fail(f"{at}.name", f"{name!r} names two nodes")
        nodes[name] = _node(r, "ep_cscf", table, at, name)

    seen: dict[tuple[str, int], str] = {}
    for node in nodes.values():
        for address in node.listening():
            if address[1] and address in seen and seen[address] != node.name:
                raise r.fail(node.name, f"{address[0]}:{address[1]} is also the address of {seen[address]}")
            seen[address] = node.name

    if nodes["i_cscf"].mode == "emulated" and nodes["s_cscf"].mode != "emulated":
        raise r.fail("[i_cscf].mode", "an emulated I-CSCF forwards to the emulated S-CSCF: make [s_cscf] "
                     "emulated too, or make the I-CSCF external")  # fmt: skip
    domain = r.get(stack, "ims_domain", str, "[stack]", "ims.example.net")
    ep_names = {n.name for n in nodes.values() if n.role == "ep_cscf"}
    blocks = _blocks(r, data.get("block", []), ep_names, domain)
    users = _users(r, data.get("user", []), blocks)
    ims_users = []
    for i, table in enumerate(data.get("ims_user", [])):
        at = f"ims_user[{i}]"
        r.keys(table, _IMS_USER, at)
        secret_file = r.file(table, "password_file", at, later=bool(sut.get("start")))
        secret = r.get(table, "password", str, at, "" if secret_file is not None else ...)
        if secret and secret_file is not None:
            raise r.fail(f"{at}.password_file", "give password or password_file, not both")
        identity, impi = (r.get(table, k, str, at) for k in ("identity", "impi"))
        ims_users.append(ImsUser(identity, impi, secret, secret_file))

    wwsf_table = data.get("wwsf", {})
    start = r.command(sut, "start", "[sut]")
    ready = (
        r.get(sut, "ready", float, "[sut]", 20.0)
        if isinstance(sut.get("ready"), float)
        else (r.get(sut, "ready", int, "[sut]", 20))
    )
    if ready <= 0:
        raise r.fail("[sut].ready", f"must be a positive number of seconds, not {ready}")
    failover_within = _seconds(r, timing, "failover_within", "[timing]", FAILOVER_WITHIN)
    min_expires = timing.get("min_expires", MIN_EXPIRES)
    if isinstance(min_expires, bool) or not isinstance(min_expires, int) or min_expires <= 0:
        wrong = f"expected a positive whole number of seconds, not {min_expires!r}"
        raise r.fail("[timing].min_expires", wrong)
    timer_c = _seconds(r, timing, "timer_c", "[timing]", 1.0) if "timer_c" in timing else None
    if timer_c is not None and "offset_file" not in clock:
        wrong = "a Timer C on the tester's clock needs [clock] offset_file (the clock the eP-CSCF reads)"
        raise r.fail("[timing].timer_c", wrong)
    pixit = Pixit(
        path=path,
        description=r.get(sut, "description", str, "[sut]", "wIMPU reference implementation"),
        pics=r.file(sut, "pics", "[sut]"),
        host=r.get(stack, "host", str, "[stack]", "127.0.0.1"),
        ims_domain=domain,
        remote_domain=r.get(stack, "remote_domain", str, "[stack]", "remote.example.org"),
        nodes=nodes,
        blocks=blocks,
        users=users,
        ims_users=tuple(ims_users),
        trust=tuple(_trust(r, trust, later=bool(start))),
        wwsf_signing_key=r.file(wwsf_table, "signing_key", "[wwsf]", later=bool(start)),
        registrar_client=_registrar_client(r, data.get("registrar", {}), later=bool(start)),
        registrar_stall=_registrar_stall(r, data.get("registrar", {}), nodes["registrar"]),
        clock_file=(
            None if "offset_file" not in clock else _relative(r, r.get(clock, "offset_file", str, "[clock]"))
        ),
        state_dir=(
            None if "state_dir" not in stack else _relative(r, r.get(stack, "state_dir", str, "[stack]"))
        ),
        start=tuple(start),
        ready=float(ready),
        failover_within=failover_within,
        min_expires=min_expires,
        timer_c=timer_c,
    )
    if pixit.external() and any(n.url and n.url.startswith(("https", "wss")) for n in pixit.external()):
        if not pixit.trust:
            raise r.fail("[trust].ca", "missing: external HTTPS/WSS nodes need the CA certificate to trust")
    if nodes["s_cscf"].mode == "emulated":
        for i, block in enumerate(blocks):
            if not block.password:
                raise r.fail(f"block[{i}].password", "missing: the suite's emulated S-CSCF/HSS needs the "
                             "block's password (there is no default)")  # fmt: skip
    if nodes["wwsf"].mode != "external":
        for i, ep in enumerate(n for n in nodes.values() if n.role == "ep_cscf"):
            if ep.mode == "external" and ep.identity is None:
                raise r.fail(f"ep_cscf[{i}].identity", f"missing: the suite's WWSF needs the identity of "
                             f"{ep.name} (the audience of the tokens it accepts)")  # fmt: skip
    return pixit


def _seconds(r: _Reader, table: Mapping[str, Any], key: str, at: str, default: float) -> float:
    """A positive number of seconds (an integer or a float)."""
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise r.fail(f"{at}.{key}", f"expected a positive number of seconds, got {value!r}")
    return float(value)


def _registrar_client(r: _Reader, table: Mapping[str, Any], *, later: bool) -> tuple[Path, Path] | None:
    """``[registrar] client_cert`` and ``client_key``, both or neither."""
    cert = r.file(table, "client_cert", "[registrar]", later=later)
    key = r.file(table, "client_key", "[registrar]", later=later)
    if (cert is None) != (key is None):
        missing = "client_key" if key is None else "client_cert"
        raise r.fail(f"[registrar].{missing}", "missing: give client_cert and client_key together")
    return None if cert is None or key is None else (cert, key)


def _registrar_stall(
    r: _Reader, table: Mapping[str, Any], node: Node
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``[registrar] stall`` and ``resume``, both or neither, for an external registrar only."""
    stall, resume = r.command(table, "stall", "[registrar]"), r.command(table, "resume", "[registrar]")
    if not stall and not resume:
        return None
    if not stall or not resume:
        missing = "resume" if not resume else "stall"
        raise r.fail(f"[registrar].{missing}", "missing: give stall and resume together")
    if node.mode != "external":
        raise r.fail("[registrar].stall", "only an external registrar needs fault-injection commands")
    return stall, resume


def _relative(r: _Reader, value: str) -> Path:
    return Path(value) if r.base is None or Path(value).is_absolute() else r.base / value


def _trust(r: _Reader, trust: Mapping[str, Any], *, later: bool = False) -> list[Path]:
    found = []
    values = r.get(trust, "ca", list, "[trust]", [])
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise r.fail(f"[trust].ca[{i}]", f"expected a file name, got {value!r}")
        path = _relative(r, value)
        if not later and not path.is_file():
            raise r.fail(f"[trust].ca[{i}]", f"no such file: {path}")
        found.append(path)
    return found


def _blocks(r: _Reader, raw: Any, ep_names: set[str], ims_domain: str) -> tuple[Block, ...]:
    if not isinstance(raw, list) or not raw:
        raise r.fail("[[block]]", "at least one wIMPU block is needed (wimpu, option, ep_cscf)")
    blocks: list[Block] = []
    for i, table in enumerate(raw):
        at = f"block[{i}]"
        r.keys(table, _BLOCK, at)
        wimpu = r.get(table, "wimpu", str, at)
        try:
            parsed = WildcardImpu.parse(wimpu)
        except (WildcardError, IdentityError) as exc:
            raise r.fail(f"{at}.wimpu", str(exc)) from None
        if any(b.block.wimpu == parsed for b in blocks):
            raise r.fail(f"{at}.wimpu", f"block {wimpu} is listed twice")
        option = r.get(table, "option", str, at)
        if option not in ("A", "B"):
            raise r.fail(f"{at}.option", "must be 'A' (third party allocates) or 'B' (eP-CSCF allocates)")
        ep = r.get(table, "ep_cscf", str, at)
        if ep not in ep_names:
            raise r.fail(f"{at}.ep_cscf", f"{ep!r} is not an [[ep_cscf]] of this PIXIT")
        registration = r.get(table, "registration", int, at, 1)
        if registration not in (1, 2):
            raise r.fail(f"{at}.registration", f"5.2.2.5.1 has options 1 and 2, not {registration}")
        domains = r.get(table, "external_domains", list, at, [])
        if option == "B" and not domains:
            raise r.fail(f"{at}.external_domains", "option B needs the external identities' domains")
        standby = r.get(table, "standby", list, at, [])
        for other in standby:
            if other not in ep_names or other == ep:
                raise r.fail(f"{at}.standby", f"{other!r} is not another [[ep_cscf]] of this PIXIT")
        name = r.get(table, "name", str, at, f"block{i + 1}")
        representative = r.get(table, "representative", str, at, f"sip:{name}@wrtc.{ims_domain}")
        try:
            canonical_identity(representative)
        except IdentityError as exc:
            raise r.fail(f"{at}.representative", str(exc)) from None
        blocks.append(
            Block(
                block=WimpuBlock(
                    parsed, Allocation.from_letter(option), tuple(str(d) for d in domains), name=name
                ),
                ep_cscf=ep,
                registration=registration,
                password=r.get(table, "password", str, at, ""),
                representative=representative,
                standby=tuple(standby),
            )
        )
    return tuple(blocks)


def _users(r: _Reader, raw: Any, blocks: tuple[Block, ...]) -> tuple[User, ...]:
    users: list[User] = []
    for i, table in enumerate(raw if isinstance(raw, list) else []):
        at = f"user[{i}]"
        r.keys(table, _USER, at)
        identity = r.get(table, "identity", str, at)
        try:
            canonical_identity(identity)
        except IdentityError as exc:
            raise r.fail(f"{at}.identity", str(exc)) from None
        block = r.get(table, "block", str, at)
        if not any(b.wimpu == block for b in blocks):
            raise r.fail(f"{at}.block", f"{block!r} is not a [[block]] of this PIXIT")
        username, password = r.get(table, "username", str, at), r.get(table, "password", str, at)
        users.append(User(username, password, identity, block))
    return tuple(users)
