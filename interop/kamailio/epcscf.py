"""KEMI (app_python3) part of the Kamailio eP-CSCF: glue for what Kamailio 5.6 (Debian bookworm)
has no module for, called from kamailio.cfg with ``python_exec``. It reads the message (and the
``usrloc`` contacts ``reg_fetch_contacts`` left in ``$ulc(aor)``), hands the work to wimpu_helper.py
in a separate process (which says why: OpenSSL must stay out of Kamailio's processes) and puts the
result in ``$var(...)``; the configuration decides the SIP answers.

- ``check_token``: $var(token) = ok | missing | invalid | mismatch, $var(token_detail).
- ``w6_sync``: the W6 entry of the AoR mirrors its usrloc contacts; $var(w6) = ok | failed. With
  identity option B the AoR is the external identity and the entry that of the IMPU bound to it
  (allocated by the helper if none is): $var(impu).
- ``w6_contacts``: the called IMPU's contacts read over W6 (5.2.2.5.4 step 4); $var(w6_contacts),
  and $var(external), the external identity bound to it (option B; "" in option A).
- ``w6_external``: option B, 5.2.2.5.3 step 2: the IMPU bound to the external identity
  $var(identity), read over W6; $var(impu) ("" if none is registered), $var(w6) = ok | failed.
- ``leases``: one tick of the block leases (5.2.2.2, run every second by ``rtimer``): claims and
  renewals over W6, and what changed: $var(acquired) / $var(lost) (a block's uac_reg l_uuid, or ""),
  $var(acquired_aor) / $var(lost_aor), $var(taken_over) = 1 when the block came from another eP-CSCF,
  $var(acquired_registration): the acquired block's registration option (5.2.2.5.1: 1 or 2),
  $var(leases_ready) = 1 once every primary block's lease has been claimed and reported.
- ``removal_credentials``: $var(auser) and $var(apasswd) of the block whose AoR is $var(baor), for
  the REGISTER that removes the failed eP-CSCF's binding of a block taken over.

Failover (``docs/validation.md``, "Failover"): the eP-CSCF serves each block of ``KAM_BLOCKS``
(JSON: name, wimpu, option, aor, auth_username, role, registration) only while it holds the
block's lease in the wIMPU Registrar. It claims its *primary* block at once and renews it every
``KAM_LEASE_RENEW`` seconds of its clock (the tester's: after a jump of that clock, at the next
tick). It claims a *standby* block only after ``STANDBY_DELAY`` ticks from its start, and only once
it has read the
lease lapsed (taken before, not renewed) on ``GRACE`` ticks in a row: the registrar's clock is the
tester's too, and a jump of it lapses every lease at once; the holder, alive, renews at its next
tick, before the standby's grace is over. Ticks are counted, not timed, for that reason. A primary
that finds its block held by another (started again after a failure) stands by for it from then on,
with the same grace: no fail-back, as the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import KSR  # type: ignore[import-not-found]  # provided by Kamailio's app_python3

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wimpu_helper.py")
TIMEOUT = 10.0
STANDBY_DELAY = 5
"Ticks (seconds) after its start before the eP-CSCF claims a block it stands by for."
GRACE = 3
"Ticks in a row on which a standby block's lease must read lapsed before the standby claims it."


def _helper(command: str, request: dict[str, Any]) -> dict[str, Any]:
    try:
        done = subprocess.run(
            ["/usr/bin/python3", HELPER, command], input=json.dumps(request), capture_output=True,
            text=True, timeout=TIMEOUT, check=True,
        )  # fmt: skip
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer
    except (subprocess.SubprocessError, OSError, ValueError) as error:
        stderr = getattr(error, "stderr", "") or ""
        KSR.err(f"wimpu_helper {command}: {error} {stderr[-500:]}\n")
        return {}


def _pv(name: str) -> str:
    value = KSR.pv.get(name)
    return "" if value is None else str(value)


class Leases:
    """The lease state of the blocks of ``KAM_BLOCKS`` in the one process that runs the ticks."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, str]] = json.loads(os.environ["KAM_BLOCKS"])
        self.own = os.environ["KAM_IDENTITY"]
        self.renew = float(os.environ["KAM_LEASE_RENEW"])
        self.ticks = 0
        self.held: dict[str, float] = {}  # wimpu -> when last granted, on this eP-CSCF's clock
        self.lapsed: dict[str, int] = {}  # wimpu -> ticks in a row its lease read lapsed
        self.deferring: set[str] = set()
        """Primary blocks another eP-CSCF held when this one claimed them (it was started again after
        a failure, TP_WIMPU_LIFE_010): no fail-back, it stands by for them as for any other block."""
        # ("acquired" | "lost", the block, the previous holder) not yet reported to the configuration
        self.events: list[tuple[str, dict[str, str], str | None]] = []

    def ready(self) -> bool:
        """Every primary block's lease has been claimed once (held, or found held by another eP-CSCF)
        and reported: from then on the eP-CSCF knows which blocks it serves."""
        primaries = [b["wimpu"] for b in self.blocks if b["role"] == "primary"]
        answered = all(w in self.held or w in self.deferring for w in primaries)
        return answered and not any(kind == "acquired" for kind, _, _ in self.events)

    def tick(self) -> None:
        self.ticks += 1
        now = time.time()
        claim, observe = [], []
        for block in self.blocks:
            wimpu = block["wimpu"]
            if wimpu in self.held:
                if now - self.held[wimpu] >= self.renew or now < self.held[wimpu]:
                    claim.append(wimpu)
            elif block["role"] == "primary" and wimpu not in self.deferring:
                claim.append(wimpu)
            elif self.ticks > STANDBY_DELAY and self.lapsed.get(wimpu, 0) >= GRACE:
                claim.append(wimpu)
            elif self.ticks > STANDBY_DELAY - GRACE:
                observe.append(wimpu)
        if not claim and not observe:
            return
        answers = _helper("lease", {"claim": claim, "observe": observe})
        for block in self.blocks:
            self._receive(block, answers.get(block["wimpu"]), now)

    def _receive(self, block: dict[str, str], answer: dict[str, Any] | None, now: float) -> None:
        wimpu = block["wimpu"]
        outcome = None if answer is None else answer.get("outcome")
        if outcome == "granted":
            if wimpu not in self.held:
                self.events.append(("acquired", block, answer.get("previous") if answer else None))
            self.held[wimpu] = now
            self.lapsed.pop(wimpu, None)
        elif outcome == "held":
            if wimpu in self.held:
                del self.held[wimpu]
                self.events.append(("lost", block, None))
            self.deferring.add(wimpu)
            self.lapsed.pop(wimpu, None)
        elif outcome == "read":
            # a lease that lapsed counts; one nobody ever took (no holder) does not: a standby takes
            # over a block from a failed eP-CSCF, not one whose eP-CSCF has not started yet
            lapsed = answer is not None and answer.get("holder") is not None and not answer.get("live")
            self.lapsed[wimpu] = self.lapsed.get(wimpu, 0) + 1 if lapsed else 0
        elif wimpu not in self.held:
            # no self-fencing (docs/failover.md): a holder that cannot reach the registrar keeps
            # serving; a standby counts nothing it could not read, and starts counting again
            self.lapsed.pop(wimpu, None)
        if outcome == "failed":
            KSR.warn(f"lease of {wimpu}: {answer.get('detail') if answer else 'no answer'}\n")


class EpCscf:
    def __init__(self) -> None:
        self.leases: Leases | None = None

    def child_init(self, rank: int) -> int:
        return 0

    def leases_tick(self, msg: Any, args: Any = None) -> int:
        """One tick (rtimer, every second): claims, renewals, reads; at most one block acquired
        and one lost reported per tick (the others on the next ones)."""
        if self.leases is None:
            self.leases = Leases()
        leases = self.leases
        leases.tick()
        for name in ("acquired", "acquired_aor", "lost", "lost_aor"):
            KSR.pv.sets(f"$var({name})", "")
        KSR.pv.seti("$var(taken_over)", 0)
        KSR.pv.seti("$var(acquired_registration)", 1)
        for kind in ("acquired", "lost"):
            event = next((e for e in leases.events if e[0] == kind), None)
            if event is None:
                continue
            leases.events.remove(event)
            _, block, previous = event
            KSR.pv.sets(f"$var({kind})", block["name"])
            KSR.pv.sets(f"$var({kind}_aor)", block["aor"])
            if kind == "acquired":
                KSR.pv.seti("$var(acquired_registration)", int(block.get("registration", 1)))
            if kind == "acquired" and previous not in (None, leases.own):
                KSR.pv.seti("$var(taken_over)", 1)
                answer = _helper("cleanup", {"wimpu": block["wimpu"]})
                KSR.warn(
                    f"block {block['wimpu']} taken over from {previous}: {answer.get('removed', 0)} of its "
                    f"contacts written by another eP-CSCF removed over W6 ({answer.get('detail') or 'ok'})\n"
                )
            elif kind == "acquired":
                KSR.info(f"block {block['wimpu']}: lease held\n")
            else:
                KSR.warn(f"block {block['wimpu']}: lease lost to another eP-CSCF\n")
        # after the events: ready on the very tick the primary block's lease is acquired and reported
        KSR.pv.seti("$var(leases_ready)", 1 if leases.ready() else 0)
        return 1

    def removal_credentials(self, msg: Any, args: Any = None) -> int:
        """$var(auser), $var(apasswd): the digest credentials of the block whose AoR is $var(baor)
        (its password from the lab's secrets directory, KAM_SECRETS/block.<name>.password)."""
        aor = _pv("$var(baor)")
        for block in json.loads(os.environ["KAM_BLOCKS"]):
            if block["aor"] == aor:
                path = os.path.join(os.environ["KAM_SECRETS"], f"block.{block['name']}.password")
                with open(path) as handle:
                    KSR.pv.sets("$var(apasswd)", handle.read().strip())
                KSR.pv.sets("$var(auser)", block["auth_username"])
                return 1
        return -1

    def check_token(self, msg: Any, args: Any = None) -> int:
        values: list[str] = []
        while (value := KSR.pv.get(f"$(hdr(Authorization)[{len(values)}])")) is not None:
            values.append(str(value))
        request = {"authorization": values, "body": _pv("$rb"), "content_type": _pv("$cT"), "to": _pv("$tu")}
        answer = _helper("token", request)
        KSR.pv.sets("$var(token)", str(answer.get("verdict", "invalid")))
        KSR.pv.sets("$var(token_detail)", str(answer.get("detail", "token check failed")))
        return 1

    def w6_sync(self, msg: Any, args: Any = None) -> int:
        identity = os.environ["KAM_IDENTITY"]
        now = time.time()  # usrloc's expiry is Kamailio's time: the tester's, through libfaketime
        contacts: dict[str, dict[str, Any]] = {}
        for index in range(int(_pv("$(ulc(aor=>count))") or 0)):

            def field(name: str, i: int = index) -> str:
                return _pv(f"$(ulc(aor=>{name})[{i}])")

            expires_at = float(field("expires") or 0)
            if expires_at <= now:
                # usrloc purges an expired contact only at its timer: reg_fetch_contacts still lists it
                # for a while, and the W6 entry must not (found by TP_WIMPU_BLK_005 with blocks of
                # option 2: a WIC whose registration ran out was written back with 1 s to live)
                continue
            instance = field("instance").strip('"<>')
            reg_id = int(field("regid") or 0)
            uri = field("addr")
            contacts[f"{instance}#{reg_id}" if instance else uri] = {
                "uri": uri,
                "flow": f"{identity};conid={field('conid')}",
                "instance_id": instance or None,
                "reg_id": reg_id or None,
                "path": [],
                "ep_cscf": identity,
                "expires": max(1, int(expires_at - now)),
            }
        aor = _pv("$var(aor)")  # the REGISTER's To, or the AoR of a closed WebSocket's contacts
        answer = _helper("w6", {"impu": aor, "contacts": contacts, "option": _pv("$var(option)") or "A"})
        if not answer.get("ok"):
            KSR.err(f"W6 write of {aor} failed: {answer.get('detail')}\n")
        KSR.pv.sets("$var(w6)", "ok" if answer.get("ok") else "failed")
        KSR.pv.sets("$var(impu)", str(answer.get("impu", "")))
        return 1

    def w6_external(self, msg: Any, args: Any = None) -> int:
        answer = _helper("external", {"external": _pv("$var(identity)")})
        if not answer.get("ok"):
            KSR.err(f"W6 read of external {_pv('$var(identity)')} failed: {answer.get('detail')}\n")
        KSR.pv.sets("$var(w6)", "ok" if answer.get("ok") else "failed")
        KSR.pv.sets("$var(impu)", str(answer.get("impu", "")))
        return 1

    def w6_contacts(self, msg: Any, args: Any = None) -> int:
        """5.2.2.5.4 step 4: fetch the called IMPU's contacts from the wIMPU Registrar (W6) before
        delivering; $var(w6_contacts) = how many it holds, -1 when the read failed."""
        answer = _helper("contacts", {"impu": _pv("$var(called)")})
        if not answer.get("ok"):
            KSR.err(f"W6 read of {_pv('$var(called)')} failed: {answer.get('detail')}\n")
            KSR.pv.seti("$var(w6_contacts)", -1)
        else:
            KSR.pv.seti("$var(w6_contacts)", len(answer.get("contacts", [])))
        KSR.pv.sets("$var(external)", str(answer.get("external_identity", "")))
        return 1


def mod_init() -> EpCscf:
    return EpCscf()
