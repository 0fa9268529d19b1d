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


class EpCscf:
    def child_init(self, rank: int) -> int:
        return 0

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
                "expires": max(1, int(float(field("expires") or 0) - now)),
            }
        aor = _pv("$var(aor)")  # the REGISTER's To, or the AoR of a closed WebSocket's contacts
        answer = _helper("w6", {"impu": aor, "contacts": contacts})
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
