"""What the checks look at: small read-only views and wire helpers.

The views are filled by :class:`~conformance.harness.world.World`; ``expect`` only ever sees
these values, so the same checks can run on state decoded from captures later.
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "BlockRegistrationView",
    "DirectoryEntry",
    "RegistrarUse",
    "Session",
    "header_lines",
    "sent_by",
]


@dataclasses.dataclass(frozen=True, slots=True)
class BlockRegistrationView:
    """The IMS registration of one wIMPU block (TR 23.701 5.2.2.5.1), as the nodes hold it."""

    wimpu: str
    registrations: int
    "Registrations at the S-CSCF whose implicit registration set holds the wildcarded IMPU."
    contacts: tuple[str, ...]
    "Live contacts of those registrations."
    made_by: tuple[str, ...]
    "Names of the eP-CSCFs the Path of those contacts leads to."
    service_route: tuple[str, ...]
    "Service-Route of the 200 OK, as the eP-CSCF keeps it."
    associated: tuple[str, ...]
    "P-Associated-URI of the 200 OK, in order."


@dataclasses.dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One wIMPU block as the WWSF announces it, with the eP-CSCF serving it."""

    wimpu: str
    ep_cscf_identity: str
    ep_cscf_uri: str


@dataclasses.dataclass(frozen=True, slots=True)
class RegistrarUse:
    """Requests the wIMPU Registrar received during one session attempt, per reference point."""

    w6: int
    "from the eP-CSCF (TR 23.701 5.2.2.4.1)"
    w7: int
    "from the I-CSCF (TR 23.701 5.2.2.4.2)"


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """The last session attempt of a scenario."""

    caller: str
    "Who placed it: a WIC name, or 'the remote party'."
    called: str
    started: float
    "time.monotonic() when it was placed."
    wall_started: float
    "time.time() when it was placed (the capture's clock)."
    wall_ended: float
    "time.time() when its caller had the final response."
    status: int
    "The final response the caller received."


def header_lines(raw: bytes, name: str, compact: str | None = None) -> list[bytes]:
    """The raw lines of header ``name`` (or its compact form) in a raw SIP message."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    names = {name.lower().encode(), *([compact.lower().encode()] if compact else [])}
    return [line for line in head if line.split(b":", 1)[0].strip().lower() in names]


def sent_by(via: str) -> str:
    """``host:port`` (or ``host``) of a Via value: ``SIP/2.0/TCP 127.0.0.1:5060;branch=...``."""
    parts = via.split(None, 1)
    return parts[1].split(";", 1)[0].strip() if len(parts) == 2 else ""
