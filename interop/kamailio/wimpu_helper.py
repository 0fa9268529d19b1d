"""Helper of the Kamailio eP-CSCF, run by its KEMI script (epcscf.py) as a separate process for each
use: the parts that need OpenSSL outside Kamailio's own ``tls`` module.

Why a separate process: Kamailio 5.6's ``tls`` module shares OpenSSL's global state with everything
else in its processes; loading Python's ``ssl`` or ``cryptography`` (PyJWT) into a Kamailio worker
makes the next TLS accept of that worker crash (SIGSEGV in EVP_CIPHER_fetch under tls_accept,
observed with Debian's kamailio 5.6.3 and OpenSSL 3.0). So Kamailio never loads them: this script
runs with Debian's python3 (python3-jwt), reads one JSON request on stdin and writes one JSON answer.

    wimpu_helper.py token   {"authorization": [...], "body": str, "content_type": str, "to": str}
                         -> {"verdict": "ok" | "missing" | "invalid" | "mismatch", "detail": str}
    wimpu_helper.py w6      {"impu": str, "contacts": {contact_id: ContactWrite}}
                         -> {"ok": bool, "detail": str, "impu": str}
    wimpu_helper.py contacts {"impu": str}
                         -> {"ok": bool, "contacts": [str], "external_identity": str, "detail": str}
    wimpu_helper.py external {"external": str}
                         -> {"ok": bool, "impu": str, "detail": str}
    wimpu_helper.py lease   {"claim": [wimpu], "observe": [wimpu]}
                         -> {wimpu: {"outcome": "granted" | "held" | "failed", "holder": str,
                                     "previous": str | None, "live": bool}}
    wimpu_helper.py cleanup {"wimpu": str}
                         -> {"ok": bool, "removed": int, "detail": str}

- ``token``: the WWSF token of a REGISTER (TR 23.701 5.2.2.5.2 steps 3-4, the solution profile's
  "Token"). Kamailio's ``jwt`` module (libjwt) is not packaged in Debian bookworm, and it takes a
  public key file, not the WWSF's JWKS: ES256 signature against the JWKS, ``iss``, ``aud``,
  ``exp``/``nbf``, and the identity binding (``sub`` is the registered identity).
- ``w6``: the W6 write to the wIMPU Registrar (5.2.2.5.2 step 6), which needs PUT and DELETE with a
  TLS client certificate; Kamailio 5.6's ``http_client`` sends only GET and POST, and
  ``http_async_client`` is not packaged in Debian bookworm. The W6 entry of the IMPU is made to hold
  exactly the contacts given (those ``usrloc`` holds after ``save()``). With identity option B
  (``"option": "B"``, the block of the identity) the REGISTER's identity is an external identity:
  the entry is that of the individual IMPU bound to it (W6 read by external identity, 5.2.2.5.2
  step 5), or of one this eP-CSCF allocates from its block (``allocate``), and the write carries
  the binding (step 6).
- ``contacts``: the called IMPU's contacts read over W6 (5.2.2.5.4 step 4), with the external
  identity bound to it (option B).
- ``external``: the registration context of an external identity (option B, 5.2.2.5.3 step 2):
  the individual IMPU bound to it.
- ``lease``: the blocks' leases in the wIMPU Registrar (5.2.2.2, the failover of
  ``docs/failover.md``): each block of ``claim`` is claimed (or renewed) under this eP-CSCF's
  identity with its WSS address as the access the WWSF hands out, each of ``observe`` is read.
- ``cleanup``: a block taken over from a failed eP-CSCF (5.2.2.2): the contacts of the block that
  another eP-CSCF wrote are removed over W6 (their WebSockets were on the failed one), so that
  terminating requests are refused until those WICs register again, here.

Settings come from the environment start.sh sets (KAM_*): ``KAM_BLOCKS`` lists the blocks this
eP-CSCF serves while it holds their leases, as JSON ``[{"name", "wimpu", "option", "aor",
"auth_username", "role"}]`` (``role``: primary or standby, read by epcscf.py's lease ticks).
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT = 5.0


def _env(name: str) -> str:
    return os.environ[f"KAM_{name}"]


def _now() -> float:
    """The stack's clock: the process's time (start.sh runs Kamailio and so this helper under
    libfaketime, on the tester's offset file), plus the offset file named by KAM_CLOCK_OFFSET_FILE
    for a run without libfaketime (start.sh no longer sets it)."""
    path = os.environ.get("KAM_CLOCK_OFFSET_FILE", "")
    try:
        with open(path) as handle:
            return time.time() + float(handle.read().strip() or 0)
    except (OSError, ValueError):
        return time.time()


def identity(uri: str) -> str:
    """A SIP URI without display name, brackets or parameters, scheme and host lower-cased."""
    uri = uri.strip()
    if "<" in uri:
        uri = uri[uri.index("<") + 1 : uri.index(">")]
    uri = uri.split(";", 1)[0]
    scheme, _, rest = uri.partition(":")
    user, at, host = rest.rpartition("@")
    return f"{scheme.lower()}:{user}{at}{host.lower()}"


def bearer(values: list[str], body: str, content_type: str) -> str | None:
    """The token of the REGISTER: ``Authorization: Bearer <token>``, the TS 24.371 form
    ``Bearer access_token="<token>"``, or an ``application/jwt`` body (PICS_TOKEN_BODY)."""
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            continue
        rest = rest.strip()
        if rest.lower().startswith("access_token="):
            return rest.split("=", 1)[1].strip().strip('"')
        return rest
    if content_type.split(";", 1)[0].strip().lower() == "application/jwt":
        return body.strip()
    return None


class Registrar:
    def __init__(self) -> None:
        self.context = ssl.create_default_context(cafile=_env("CA"))
        self.context.load_cert_chain(_env("CLIENT_CERT"), _env("CLIENT_KEY"))

    def http(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=TIMEOUT) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, None


def check_token(request: dict[str, Any]) -> dict[str, str]:
    import jwt  # here, not at the top: the lease ticks (every second) need no PyJWT

    token = bearer(list(request["authorization"]), str(request["body"]), str(request["content_type"]))
    if token is None:
        return {"verdict": "missing", "detail": "no token"}
    if not token:
        return {"verdict": "invalid", "detail": "empty Bearer credentials"}
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "ES256":
            return {"verdict": "invalid", "detail": f"alg {header.get('alg')!r}"}
        status, jwks = Registrar().http("GET", _env("WWSF") + "/.well-known/jwks.json")
        if status != 200:
            return {"verdict": "invalid", "detail": f"JWKS not readable ({status})"}
        keys = {k.key_id: k.key for k in jwt.PyJWKSet.from_dict(jwks).keys}
        key = keys.get(header.get("kid"))
        if key is None:
            return {"verdict": "invalid", "detail": "unknown key"}
        claims = jwt.decode(
            token, key, algorithms=["ES256"], audience=_env("IDENTITY"), issuer=_env("WWSF"),
            options={"require": ["iss", "aud", "sub", "exp", "iat"], "verify_exp": False,
                     "verify_nbf": False, "verify_iat": False},
        )  # fmt: skip
    except jwt.PyJWTError as error:
        return {"verdict": "invalid", "detail": str(error)}
    now = _now()
    if float(claims["exp"]) <= now:
        return {"verdict": "invalid", "detail": "expired"}
    if "nbf" in claims and float(claims["nbf"]) > now:
        return {"verdict": "invalid", "detail": "not yet valid"}
    if identity(str(claims["sub"])) != identity(str(request["to"])):
        return {"verdict": "mismatch", "detail": "the token is for another identity"}
    return {"verdict": "ok", "detail": ""}


def block_of_option(option: str) -> str:
    """The wildcarded identity of the block of identity ``option`` ("A" or "B") this eP-CSCF serves."""
    for block in json.loads(_env("BLOCKS")):
        if str(block["option"]).upper() == option.upper():
            return str(block["wimpu"])
    raise KeyError(f"no block of identity option {option} in KAM_BLOCKS")


def allocate(external: str, wimpu: str) -> str:
    """Option B (TR 23.701 5.2.2.1): the individual IMPU this eP-CSCF allocates for an external
    identity from its block's wildcard ``sip:<prefix>!.*!@<host>``: the prefix and a digest of the
    external identity. The same external identity always gets the same IMPU, also after its
    registration is gone (PROFILE_LIFE_IMPU_STABLE), without any state of its own: whichever
    eP-CSCF serves the block (5.2.2.2), the same digest gives the same IMPU."""
    user, _, host = wimpu.removeprefix("sip:").partition("@")
    prefix = user.split("!", 1)[0]
    digest = hashlib.sha256(identity(external).encode()).hexdigest()[:20]
    return f"sip:{prefix}{digest}@{host}"


def read_by_external(registrar: Registrar, external: str) -> tuple[int, Any]:
    query = urllib.parse.urlencode({"external": identity(external)})
    return registrar.http("GET", _env("REGISTRAR") + "/w6/v1/registrations?" + query)


def w6_sync(request: dict[str, Any]) -> dict[str, Any]:
    """``request["option"]``: the identity option of the block of the AoR ("A" or "B")."""
    registrar = Registrar()
    external: str | None = None
    option = str(request.get("option", "A")).upper()
    wimpu = block_of_option(option)
    if option == "B":
        # 5.2.2.5.2 step 5: the registration status of the external identity; step 6: the IMPU
        # bound to it, or a new one of this block
        external = identity(str(request["impu"]))
        status, bound = read_by_external(registrar, external)
        if status not in (200, 404):
            return {"ok": False, "detail": f"GET external {external}: {status}"}
        impu = identity(bound["impu"]) if status == 200 and bound else allocate(external, wimpu)
    else:
        impu = identity(str(request["impu"]))
    live: dict[str, dict[str, Any]] = request["contacts"]
    base = _env("REGISTRAR") + "/w6/v1/registrations/" + urllib.parse.quote(impu, safe="")
    status, entry = registrar.http("GET", base)
    stored = {c["contact_id"] for c in entry["contacts"]} if status == 200 and entry else set()
    for contact_id, contact in live.items():
        body: dict[str, Any] = {"wimpu": wimpu, "allocated_by": "third-party", "contact": contact}
        if external is not None:
            body.update(allocated_by="ep-cscf", external_identity=external)
        url = f"{base}/contacts/{urllib.parse.quote(contact_id, safe='')}"
        status, _ = registrar.http("PUT", url, body)
        if status not in (200, 201):
            return {"ok": False, "detail": f"PUT {contact_id}: {status}"}
    for contact_id in stored - live.keys():
        status, _ = registrar.http("DELETE", f"{base}/contacts/{urllib.parse.quote(contact_id, safe='')}")
        if status not in (200, 204, 404):
            return {"ok": False, "detail": f"DELETE {contact_id}: {status}"}
    return {"ok": True, "detail": "", "impu": impu}


def w6_contacts(request: dict[str, Any]) -> dict[str, Any]:
    """TR 23.701 5.2.2.5.4 step 4: the contact information of the called IMPU, read over W6."""
    impu = identity(str(request["impu"]))
    url = _env("REGISTRAR") + "/w6/v1/registrations/" + urllib.parse.quote(impu, safe="")
    status, entry = Registrar().http("GET", url)
    if status == 404:
        return {"ok": True, "contacts": [], "external_identity": ""}
    if status != 200 or not entry:
        return {"ok": False, "detail": f"GET {impu}: {status}", "contacts": []}
    contacts = [c["uri"] for c in entry["contacts"]]
    return {"ok": True, "contacts": contacts, "external_identity": entry.get("external_identity") or ""}


def w6_external(request: dict[str, Any]) -> dict[str, Any]:
    """TR 23.701 5.2.2.5.3 step 2 (option B): "the eP-CSCF retrieves the registration context" of
    the originating external identity over W6: the individual IMPU bound to it ("" if none)."""
    status, entry = read_by_external(Registrar(), str(request["external"]))
    if status == 404:
        return {"ok": True, "impu": ""}
    if status != 200 or not entry:
        return {"ok": False, "impu": "", "detail": f"GET external {request['external']}: {status}"}
    return {"ok": True, "impu": identity(str(entry["impu"]))}


def _block_url(wimpu: str, what: str) -> str:
    return f"{_env('REGISTRAR')}/w6/v1/blocks/{urllib.parse.quote(wimpu, safe='')}/{what}"


def leases(request: dict[str, Any]) -> dict[str, Any]:
    """TR 23.701 5.2.2.2 ("the wIMPU associated with the failed eP-CSCF shall be re-allocated to
    another eP-CSCF"), by the registrar's block leases (docs/failover.md): a claim of each block of
    ``claim`` (granted: this eP-CSCF serves it; 409: another holds it), a read of each of ``observe``."""
    registrar = Registrar()
    access = {"uri": _env("ACCESS"), "identity": _env("IDENTITY")}
    body = {"holder": _env("IDENTITY"), "duration": float(_env("LEASE_DURATION")), "access": access}
    answers: dict[str, Any] = {}
    for wimpu in request.get("claim", []):
        try:
            status, answer = registrar.http("PUT", _block_url(wimpu, "lease"), body)
        except OSError as error:
            answers[wimpu] = {"outcome": "failed", "detail": str(error)}
            continue
        if status == 200 and answer:
            lease = answer.get("lease", {})
            answers[wimpu] = {"outcome": "granted", "holder": lease.get("holder"),
                              "previous": answer.get("previous_holder"), "live": True}  # fmt: skip
        elif status == 409:
            answers[wimpu] = {"outcome": "held", "live": True}
        else:
            answers[wimpu] = {"outcome": "failed", "detail": f"PUT lease: {status}"}
    for wimpu in request.get("observe", []):
        try:
            status, lease = registrar.http("GET", _block_url(wimpu, "lease"))
        except OSError as error:
            answers[wimpu] = {"outcome": "failed", "detail": str(error)}
            continue
        if status == 200 and lease:
            answers[wimpu] = {
                "outcome": "read",
                "holder": lease.get("holder"),
                "live": bool(lease.get("live")),
            }
        elif status == 404:
            answers[wimpu] = {"outcome": "read", "holder": None, "live": False}
        else:
            answers[wimpu] = {"outcome": "failed", "detail": f"GET lease: {status}"}
    return answers


def cleanup(request: dict[str, Any]) -> dict[str, Any]:
    """A block taken over (5.2.2.2): remove the contacts of its entries another eP-CSCF wrote."""
    registrar = Registrar()
    own = _env("IDENTITY")
    status, listing = registrar.http("GET", _block_url(str(request["wimpu"]), "registrations"))
    if status != 200 or not listing:
        return {"ok": False, "removed": 0, "detail": f"GET registrations: {status}"}
    removed = 0
    for entry in listing.get("entries", []):
        base = _env("REGISTRAR") + "/w6/v1/registrations/" + urllib.parse.quote(entry["impu"], safe="")
        for contact in entry.get("contacts", []):
            if contact.get("ep_cscf") == own:
                continue
            url = f"{base}/contacts/{urllib.parse.quote(contact['contact_id'], safe='')}"
            status, _ = registrar.http("DELETE", url)
            if status not in (200, 204, 404):
                return {
                    "ok": False,
                    "removed": removed,
                    "detail": f"DELETE {contact['contact_id']}: {status}",
                }
            removed += status != 404  # gone meanwhile: not ours to count
    return {"ok": True, "removed": removed, "detail": ""}


COMMANDS = {
    "token": check_token,
    "w6": w6_sync,
    "contacts": w6_contacts,
    "external": w6_external,
    "lease": leases,
    "cleanup": cleanup,
}


def main() -> None:
    request = json.load(sys.stdin)
    json.dump(COMMANDS[sys.argv[1]](request), sys.stdout)


if __name__ == "__main__":
    main()
