"""What the offline verifier needs to know of the system that was captured: a small protocol.

The capture rules name the ends of each message and check the option-dependent rules against the
wIMPU blocks (TR 23.701 5.2.2.1). They need no more of a deployment than this, so ``captures``
depends on this protocol and not on the PIXIT: ``conformance.pixit.Pixit`` satisfies it (the
``verify --pixit`` of ``wimpu-conformance`` passes one in), and so can any other description of a
lab's topology. The import graph runs one way: reference <- captures <- conformance <- reports.

:class:`CapturedTopology` is the topology a capture carries beside it (``<capture>.topology.json``,
:func:`sidecar_of`): the suite's harness writes one next to each scenario capture
(:func:`write_topology`, from the scenario's nodes and blocks), and ``verify`` reads it
(:func:`read_topology`) when no PIXIT is given, so a scenario capture is verified offline with
nothing written by hand. It holds what the rules need and no more: the listening addresses with
their node names, and each block's wildcard, options and eP-CSCF (no password, no key).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from reference.blocks import WimpuBlock

__all__ = [
    "FORMAT",
    "CapturedBlock",
    "CapturedTopology",
    "PlacedBlock",
    "Topology",
    "TopologyLoader",
    "parse_topology",
    "read_topology",
    "sidecar_of",
    "topology_document",
    "write_topology",
]


class PlacedBlock(Protocol):
    """A wIMPU block as deployed: the block (the one model, ``reference.blocks.WimpuBlock``:
    its wildcard, identity option and external domains) and the eP-CSCF serving it."""

    @property
    def block(self) -> WimpuBlock:
        "The block: wildcarded IMPU, option A/B (5.2.2.1), option B's external domains."

    @property
    def ep_cscf(self) -> str:
        "The name of the eP-CSCF serving the block (as :meth:`Topology.endpoints` names it)."

    @property
    def registration(self) -> Literal[1, 2]:
        "5.2.2.5.1: 1 registered at eP-CSCF start-up, 2 on the first WIC registration."

    @property
    def standby(self) -> tuple[str, ...]:
        "5.2.2.2: the eP-CSCFs the block may be re-allocated to when its eP-CSCF fails."


class Topology(Protocol):
    """The nodes' listening addresses and the blocks they serve."""

    @property
    def blocks(self) -> Sequence[PlacedBlock]: ...

    def endpoints(self) -> Mapping[tuple[str, int], str]:
        """Listening (host, port) -> node name: ``wwsf``, ``registrar``, ``i_cscf``, ``s_cscf``,
        ``remote``, ``<ep-cscf>/wss`` and ``<ep-cscf>/sip``."""
        ...


TopologyLoader = Callable[[Path], Topology]
"""Reads a topology file (for ``verify --pixit``); raises ``ValueError`` with a one-line reason."""


# ----- the topology a capture carries beside it ----------------------------------------------------

FORMAT = "wimpu-topology/1"
"The ``format`` of a sidecar; another value is refused (a later format needs its own reader)."
_CAPTURE_SUFFIXES = (".pcapng", ".pcap")


PROFILE_ITEM = "PICS_PROFILE_"
"The start of the PICS items on the solution profile's choices, the only ones a sidecar keeps."


@dataclasses.dataclass(frozen=True, slots=True)
class CapturedBlock:
    """A :class:`PlacedBlock` as a sidecar gives it."""

    block: WimpuBlock
    ep_cscf: str
    registration: Literal[1, 2] = 1
    standby: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class CapturedTopology:
    """A :class:`Topology` read from a sidecar (or made from another one, to be written)."""

    addresses: Mapping[tuple[str, int], str]
    blocks: tuple[CapturedBlock, ...] = ()
    profile_answers: Mapping[str, str] | None = None
    """The SUT's PICS answers on the solution profile's choices (``PICS_PROFILE_*``) in the run that
    made the capture; None when the sidecar gives none (every choice is then checked)."""
    origins: tuple[str, ...] = ()
    """The web origins of the WWSFs authorised at the eP-CSCFs (5.2.2.5.2 step 2); empty when the
    sidecar gives none (the WWSF's own address is then the only one known)."""
    clock_jumps: tuple[tuple[float, float], ...] = ()
    """(capture time, seconds): each time the tester moved the captured nodes' clock forward (a
    PIXIT's ``[clock] offset_file``) during the capture; the rules measure a registration's lifetime
    on the nodes' clock, not on the capture's. Empty: the nodes ran on the capture's clock."""
    complete: bool = False
    """The capture holds every packet of every node named in ``addresses``, from the node's start:
    the nodes started after the capture began, on the interface it watched, with no filter leaving
    any of their packets out. A message that is not in the capture was then never sent (a rule may
    conclude on an absence, e.g. no W7 query); False (the default, and any lab capture that does not
    say so): an absence proves nothing."""
    timer_c: float | None = None
    """Seconds of the nodes' clock after which the eP-CSCF ends a ringing branch of an INVITE it
    proxied (its Timer C, RFC 3261 16.6 item 11; a PIXIT's ``[timing] timer_c``); None: not known
    (a branch left ringing is then not judged late, only one cancelled before 3 minutes)."""

    @classmethod
    def of(
        cls,
        endpoints: Mapping[tuple[str, int], str],
        blocks: Iterable[PlacedBlock],
        profile_answers: Mapping[str, str] | None = None,
        origins: Iterable[str] = (),
        clock_jumps: Iterable[tuple[float, float]] = (),
        complete: bool = False,
        timer_c: float | None = None,
    ) -> CapturedTopology:
        """The topology a capture of these nodes carries (written by :func:`write_topology`, read
        back equal by :func:`read_topology`): their listening addresses, the blocks they serve,
        and, of the SUT's PICS answers, only those on the solution profile's choices."""
        return cls(
            dict(endpoints),
            tuple(CapturedBlock(b.block, b.ep_cscf, b.registration, tuple(b.standby)) for b in blocks),
            None
            if profile_answers is None
            else {k: v for k, v in profile_answers.items() if k.startswith(PROFILE_ITEM)},
            tuple(origins),
            tuple((float(at), float(seconds)) for at, seconds in clock_jumps),
            complete,
            None if timer_c is None else float(timer_c),
        )

    def endpoints(self) -> Mapping[tuple[str, int], str]:
        return dict(self.addresses)


def sidecar_of(capture: Path) -> Path:
    """Where the topology of ``capture`` is: ``X.pcapng`` -> ``X.topology.json`` (the name may hold
    dots: a scenario's test name does)."""
    name = capture.name
    for suffix in _CAPTURE_SUFFIXES:
        if name.endswith(suffix):
            name = name.removesuffix(suffix)
            break
    return capture.with_name(f"{name}.topology.json")


def topology_document(topology: CapturedTopology) -> dict[str, Any]:
    """The JSON document of a sidecar: ``{"format", "endpoints": [{"host", "port", "node"}],
    "blocks": [{"wimpu", "option", "external_domains", "prefix", "name", "ep_cscf",
    "registration", "standby"}], "origins": [...], "profile": {"PICS_PROFILE_...": answer}}``
    (``origins``, the authorised WWSFs' web origins, only when given; ``profile`` only when answers
    are given; ``clock_jumps``, ``[[capture time, seconds], ...]``, only when the tester moved the
    nodes' clock; ``complete``, only when true: :attr:`CapturedTopology.complete`; ``timer_c``, only
    when known: :attr:`CapturedTopology.timer_c`).
    :func:`parse_topology` reads it back as ``topology``."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "endpoints": [
            {"host": host, "port": port, "node": node}
            for (host, port), node in sorted(topology.addresses.items())
        ],
        "blocks": [
            {
                "wimpu": str(placed.block.wimpu),
                "option": placed.block.option,
                "external_domains": list(placed.block.external_domains),
                "prefix": placed.block.prefix,
                "name": placed.block.name,
                "ep_cscf": placed.ep_cscf,
                "registration": placed.registration,
                "standby": list(placed.standby),
            }
            for placed in topology.blocks
        ],
    }
    if topology.origins:
        document["origins"] = list(topology.origins)
    if topology.clock_jumps:
        document["clock_jumps"] = [[at, seconds] for at, seconds in topology.clock_jumps]
    if topology.complete:
        document["complete"] = True
    if topology.timer_c is not None:
        document["timer_c"] = topology.timer_c
    if topology.profile_answers is not None:
        document["profile"] = dict(sorted(topology.profile_answers.items()))
    return document


def write_topology(capture: Path, topology: CapturedTopology) -> Path:
    """Write ``topology`` as the sidecar of ``capture`` (:func:`sidecar_of`); returns its path."""
    path = sidecar_of(capture)
    path.write_text(json.dumps(topology_document(topology), indent=1) + "\n", encoding="utf-8")
    return path


def _field(item: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = item.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{where}: {key!r} must be a {kind.__name__}, not {value!r}")
    return value


def read_topology(path: Path) -> CapturedTopology:
    """Read a sidecar (a :data:`TopologyLoader`).

    Raises:
        ValueError: the file cannot be read, or is not a topology of :data:`FORMAT` (one line
            naming the file and the entry).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read a JSON topology: {exc}") from None
    return parse_topology(data, str(path))


def parse_topology(data: Any, path: str) -> CapturedTopology:
    """The topology of a sidecar's JSON document (:func:`topology_document`); ``path`` names it in errors.

    Raises:
        ValueError: not a topology of :data:`FORMAT` (one line naming ``path`` and the entry).
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: not a topology of format {FORMAT!r} (format {found!r})")
    addresses: dict[tuple[str, int], str] = {}
    for n, item in enumerate(data.get("endpoints") or []):
        where = f"{path}: endpoints[{n}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object")
        addresses[(_field(item, "host", str, where), _field(item, "port", int, where))] = _field(
            item, "node", str, where
        )
    blocks = []
    for n, item in enumerate(data.get("blocks") or []):
        where = f"{path}: blocks[{n}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object")
        registration = item.get("registration", 1)
        if registration not in (1, 2) or isinstance(registration, bool):
            raise ValueError(f"{where}: 'registration' must be 1 or 2, not {registration!r}")
        domains, standby = item.get("external_domains") or [], item.get("standby") or []
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            raise ValueError(f"{where}: 'external_domains' must be a list of domains")
        if not isinstance(standby, list) or not all(isinstance(n, str) for n in standby):
            raise ValueError(f"{where}: 'standby' must be a list of eP-CSCF names")
        try:
            block = WimpuBlock.parse(
                _field(item, "wimpu", str, where),
                _field(item, "option", str, where),
                domains,
                prefix=str(item.get("prefix", "wrtc-")),
                name=str(item.get("name", "block")),
            )
        except ValueError as exc:  # WildcardError is one
            raise ValueError(f"{where}: {exc}") from None
        blocks.append(CapturedBlock(block, _field(item, "ep_cscf", str, where), registration, tuple(standby)))
    profile = data.get("profile")
    if profile is not None and not (
        isinstance(profile, dict)
        and all(
            isinstance(k, str) and k.startswith(PROFILE_ITEM) and isinstance(v, str)
            for k, v in profile.items()
        )
    ):
        raise ValueError(f"{path}: 'profile' must map {PROFILE_ITEM}* items to answers, not {profile!r}")
    origins = data.get("origins") or []
    if not isinstance(origins, list) or not all(isinstance(o, str) and "://" in o for o in origins):
        raise ValueError(
            f"{path}: 'origins' must be a list of web origins (https://host:port), not {origins!r}"
        )
    jumps = data.get("clock_jumps") or []
    if not isinstance(jumps, list) or not all(
        isinstance(j, list)
        and len(j) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in j)
        and j[1] >= 0
        for j in jumps
    ):
        raise ValueError(
            f"{path}: 'clock_jumps' must be a list of [capture time, seconds forward], not {jumps!r}"
        )
    clock_jumps = tuple((float(at), float(seconds)) for at, seconds in jumps)
    complete = data.get("complete", False)
    if not isinstance(complete, bool):
        raise ValueError(f"{path}: 'complete' must be true or false, not {complete!r}")
    timer_c = data.get("timer_c")
    if timer_c is not None and (
        isinstance(timer_c, bool) or not isinstance(timer_c, int | float) or timer_c <= 0
    ):
        raise ValueError(f"{path}: 'timer_c' must be a positive number of seconds, not {timer_c!r}")
    return CapturedTopology(
        addresses,
        tuple(blocks),
        profile,
        tuple(origins),
        clock_jumps,
        complete,
        None if timer_c is None else float(timer_c),
    )
