"""The rules of TR 23.701 5.2.2 that a capture can show kept or broken, one small pure function each.

A rule takes a :class:`captures.flows.Flow` (its messages, each named by its leg) and a
:class:`Context` (the PIXIT's blocks, and the :class:`captures.flows.Knowledge` of the
whole capture) and returns :class:`Finding` objects: ``pass``, ``fail`` with the message
that broke it, or ``inconclusive`` with the reason (a leg the rule needs is not in the
capture, an option the PIXIT does not give). A rule that does not apply to a flow
returns nothing. No rule does I/O: the live steps call them on the messages the harness
saw, ``wimpu-conformance verify`` on a decoded capture.

Where the text leaves the wire open, the rules read it as the solution profile
(``docs/solution-profile.md``) does: the token in ``Authorization: Bearer``, W6 and W7
as HTTP under ``/w6/`` and ``/w7/`` naming the IMPU or external identity, 480/404 for an
unregistered webRTC user, CANCEL with ``Reason: SIP;cause=200`` for the losing branches.
``docs/verify.md`` lists every rule with its clause and step. The rules are kept by clause, one
module each (:mod:`.registration`, :mod:`.block_registration`, :mod:`.origination`,
:mod:`.termination`), imported here in the order of the text, which is the order of :data:`RULES`;
:mod:`.core` holds what they share.
"""

from __future__ import annotations

import importlib

from .core import RULES, Context, Finding, Rule, Verdict, block_for, check, profile_pics_item, rule

CLAUSES = ("registration", "block_registration", "origination", "termination")
"""The modules of the rules, in the order of the text: importing them in this order fills :data:`RULES`
in that order (the order ``verify`` prints and the reports list)."""

for _clause in CLAUSES:
    importlib.import_module(f".{_clause}", __name__)

from .termination import TIMER_C_FLOOR, TIMER_C_GRACE, has_sip_cause  # noqa: E402

__all__ = [
    "CLAUSES",
    "RULES",
    "TIMER_C_FLOOR",
    "TIMER_C_GRACE",
    "Context",
    "Finding",
    "Rule",
    "Verdict",
    "block_for",
    "check",
    "has_sip_cause",
    "profile_pics_item",
    "rule",
]
