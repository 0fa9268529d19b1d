"""Each rule of captures.rules on hand-built flows: the correct flow passes, the flow with the
one fault the rule guards against fails on the message that carries the fault, and a flow
missing the leg the rule needs is inconclusive (never pass)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Callable

import pytest
from test_flows import (
    ALICE,
    BLOCK1,
    BLOCK2,
    BLOCKS,
    BOB,
    BOB_IMPU,
    EP1_HTTP,
    EP2_HTTP,
    ICSCF,
    ICSCF_HTTP,
    IWF1,
    IWF2,
    PCSCF1,
    PCSCF2,
    PORTS,
    REGISTRAR,
    REMOTE,
    SCSCF,
    TOKEN,
    WIC1,
    WIC2,
    WIC3,
    Endpoint,
    Wire,
    contact_of,
    ends,
)

from captures.flows import Ends, Knowledge, group
from captures.model import HttpInfo, TcpConnection, WireMessage
from captures.rules import RULES, Context, Finding, block_for, check
from conformance.pixit import Block


def findings(
    w: Wire,
    rule_id: str,
    blocks: tuple[Block, ...] = BLOCKS,
    pics: dict[str, str] | None = None,
    jumps: tuple[tuple[float, float], ...] = (),
    complete: bool = False,
) -> list[Finding]:
    knowledge = Knowledge(clock_jumps=jumps, complete=complete)
    flows = group(w.messages, ends(), knowledge)
    ctx = Context(blocks, knowledge, pics)
    return [f for flow in flows for f in check(flow, ctx, [rule_id])]


def verdicts(
    w: Wire, rule_id: str, blocks: tuple[Block, ...] = BLOCKS, jumps: tuple[tuple[float, float], ...] = ()
) -> list[str]:
    return [f.verdict for f in findings(w, rule_id, blocks, jumps=jumps)]


def only(
    w: Wire, rule_id: str, blocks: tuple[Block, ...] = BLOCKS, pics: dict[str, str] | None = None
) -> Finding:
    (finding,) = findings(w, rule_id, blocks, pics)
    return finding


def test_every_rule_names_its_clause_and_has_a_docstring() -> None:
    assert len(RULES) >= 20
    for rule in RULES.values():
        assert rule.clause.startswith("TR 23.701 5.2.2"), rule.id
        assert rule.check.__doc__ and "5.2.2" in rule.check.__doc__, rule.id


class TestRegistration:
    """5.2.2.5.2 steps 3 to 7."""

    def test_the_token_is_carried(self) -> None:
        w = Wire()
        w.wic_registration()
        assert verdicts(w, "REG_TOKEN") == ["pass"]

    def test_a_register_without_token_accepted_fails(self) -> None:
        w = Wire()
        w.wic_registration(token=None)
        finding = only(w, "REG_TOKEN")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/wss -> WIC@40001"
        assert finding.message is not None and b"200" in finding.message.raw.split(b"\r\n")[0]

    def test_a_register_without_token_refused_passes(self) -> None:
        w = Wire()
        w.wic_registration(token=None, status=401)
        assert verdicts(w, "REG_TOKEN") == ["pass"]

    def test_a_deregistration_without_token_on_the_authorised_websocket_passes(self) -> None:
        """The solution profile (PROFILE_REG_DEREG_NO_TOKEN): SIP.js un-REGISTERs without its token,
        over the WebSocket on which its REGISTER with the token was accepted."""
        w = Wire()
        w.wic_registration(token=None, expires=0, cseq=2)
        assert [f.verdict for f in findings(w, "REG_TOKEN")] == ["fail"]  # never authorised
        w = Wire()
        w.wic_registration()
        w.wic_registration(token=None, expires=0, cseq=2)
        (found,) = findings(w, "REG_TOKEN")
        assert found.verdict == "pass" and found.detail.endswith("(and 1 more)")

    def test_a_deregistration_without_token_on_another_websocket_fails(self) -> None:
        w = Wire()
        w.wic_registration()
        w.wic_registration(WIC2, token=None, expires=0, cseq=2)
        finding = only(w, "REG_TOKEN")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/wss -> WIC@40002"

    def test_a_refresh_without_token_on_the_authorised_websocket_fails(self) -> None:
        w = Wire()
        w.wic_registration()
        w.wic_registration(token=None, cseq=2)
        assert verdicts(w, "REG_TOKEN") == ["fail"]

    def test_the_token_stays_on_the_wic_leg(self) -> None:
        w = Wire()
        w.wic_registration()
        w.origination()
        assert verdicts(w, "TOKEN_CONFINED") == ["pass", "pass"]

    def test_a_bearer_forwarded_into_the_core_fails(self) -> None:
        w = Wire()
        w.wic_registration()
        w.origination(bearer=True)
        fails = [f for f in findings(w, "TOKEN_CONFINED") if f.verdict == "fail"]
        assert len(fails) == 1 and fails[0].leg == "ep-cscf1/sip -> s-cscf"

    def test_the_remote_partys_own_bearer_is_not_blamed_on_the_system(self) -> None:
        """Issue 15: a remote party's ``Authorization: Bearer`` (not a WWSF token) made the rule FAIL
        the stack; it is the remote party's credential, carried through the core as any header."""
        w = Wire()
        w.wic_registration()
        w.termination(from_remote=[("Authorization", "Bearer remote-partys-own-credential")])
        assert "fail" not in verdicts(w, "TOKEN_CONFINED")

    def test_a_token_the_remote_party_sends_is_not_blamed_on_the_nodes_that_carry_it_on(self) -> None:
        w = Wire()
        w.wic_registration()
        w.termination(from_remote=[("Authorization", f"Bearer {TOKEN}")])
        assert "fail" not in verdicts(w, "TOKEN_CONFINED")

    def test_a_node_that_puts_a_wics_token_into_a_core_request_is_named(self) -> None:
        w = Wire()
        w.wic_registration()
        w.termination(to_wic=[])  # the token appears first in the I-CSCF's W7 query below
        w.http(ICSCF_HTTP, "GET", f"/w7/v1/registration-status?identity={ALICE}&t={TOKEN}", 200, answer={})
        fails = [f for f in findings(w, "TOKEN_CONFINED") if f.verdict == "fail"]
        assert fails and "outside the WIC's leg" in fails[0].detail

    def test_the_token_in_a_w6_body_fails(self) -> None:
        w = Wire()
        w.wic_registration()
        w.http(("127.0.0.1", 43001), "PUT", f"/w6/v1/registrations/{ALICE}/x", 200, body={"t": TOKEN})
        assert "fail" in verdicts(w, "TOKEN_CONFINED")

    def test_w6_is_queried_before_the_200(self) -> None:
        w = Wire()
        w.wic_registration()
        finding = only(w, "REG_W6_QUERY")
        assert finding.verdict == "pass" and finding.leg == "127.0.0.1:43001 -> registrar"

    def test_a_200_without_a_w6_query_fails(self) -> None:
        w = Wire()
        w.wic_registration(query=False)
        finding = only(w, "REG_W6_QUERY")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/wss -> WIC@40001"

    def test_without_any_w6_or_w7_in_the_capture_it_is_inconclusive(self) -> None:
        w = Wire()
        w.wic_registration(query=False, store=False)
        finding = only(w, "REG_W6_QUERY")
        assert finding.verdict == "inconclusive" and "registrar's leg" in finding.detail

    def test_the_registration_is_stored_option_a_and_b(self) -> None:
        w = Wire()
        w.wic_registration()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU, call_id="b")
        assert verdicts(w, "REG_W6_STORE") == ["pass", "pass"]

    def test_a_200_without_a_w6_write_fails(self) -> None:
        w = Wire()
        w.wic_registration(store=False)
        assert verdicts(w, "REG_W6_STORE") == ["fail"]

    def write_answered(self, status: int | None, *, after_the_200: bool) -> Wire:
        """A WIC registers; the registrar answers the eP-CSCF's W6 write ``status`` (None: never),
        before or after the eP-CSCF's 200 OK."""
        w = Wire()
        contact = f"<{contact_of(WIC1)}>;expires=600"
        headers = [("Contact", contact), ("Expires", "600"), ("Authorization", f"Bearer {TOKEN}")]
        register = w.request(
            WIC1, IWF1, "REGISTER", "sip:block1.ims.example.net", call_id="late", from_=ALICE, to=ALICE,
            transport="WSS", headers=headers,
        )  # fmt: skip
        w.http(EP1_HTTP, "GET", f"/w6/v1/registrations/{ALICE}", 404)
        path = f"/w6/v1/registrations/{ALICE}/contacts/c{WIC1[1]}"
        write = w.http_request(EP1_HTTP, "PUT", path, body={"uri": contact_of(WIC1)})
        entry = {"impu": ALICE, "contacts": [{"uri": contact_of(WIC1)}]}
        if status is not None and not after_the_200:
            w.http_answer(write, status, answer={"outcome": "created", "entry": entry})
        w.response(register, 200, headers=[("Contact", contact)])
        if status is not None and after_the_200:
            w.http_answer(write, status, answer={"outcome": "created", "entry": entry})
        return w

    def test_a_write_the_registrar_confirmed_before_the_200_is_a_store(self) -> None:
        assert verdicts(self.write_answered(201, after_the_200=False), "REG_W6_STORE") == ["pass"]

    def test_a_200_before_the_registrar_confirmed_the_write_fails(self) -> None:
        """TP_WIMPU_REG_013 on the wire: a write the registrar has not answered has stored nothing
        (step 6), so the OK of step 7 may not come yet (it passed before: a write was enough)."""
        for status in (None, 201):
            finding = only(self.write_answered(status, after_the_200=True), "REG_W6_STORE")
            assert finding.verdict == "fail" and "confirmed none" in finding.detail, status
            assert finding.leg == "ep-cscf1/wss -> WIC@40001"

    def test_a_200_after_the_registrar_refused_the_write_fails(self) -> None:
        finding = only(self.write_answered(503, after_the_200=False), "REG_W6_STORE")
        assert finding.verdict == "fail" and "confirmed none" in finding.detail

    def test_a_de_registration_deletes(self) -> None:
        w = Wire()
        w.wic_registration(expires=0)
        finding = only(w, "REG_W6_STORE")
        assert finding.verdict == "pass" and "DELETE" in finding.detail

    def deregistration(self, read: int, *, write: bool = False) -> Wire:
        """A WIC de-registers (Expires 0); the eP-CSCF's W6 read is answered ``read``; it deletes
        nothing, and writes an entry when ``write``."""
        w = Wire()
        headers = [
            ("Contact", f"<{contact_of(WIC1)}>;expires=0"),
            ("Expires", "0"),
            ("Authorization", f"Bearer {TOKEN}"),
        ]
        register = w.request(
            WIC1, IWF1, "REGISTER", "sip:block1.ims.example.net", call_id="dereg", from_=ALICE, to=ALICE,
            transport="WSS", headers=headers,
        )  # fmt: skip
        entry = {"impu": ALICE, "contacts": [{"uri": contact_of(WIC1)}]}
        w.http(EP1_HTTP, "GET", f"/w6/v1/registrations/{ALICE}", read, answer=entry if read == 200 else None)
        if write:
            path = f"/w6/v1/registrations/{ALICE}/contacts/c{WIC1[1]}"
            w.http(EP1_HTTP, "PUT", path, 201, body={"uri": contact_of(WIC1)}, answer={"outcome": "created"})
        w.response(register, 200, headers=[("Contact", f"<{contact_of(WIC1)}>;expires=0")])
        return w

    def test_a_de_registration_of_an_identity_w6_finds_unregistered_needs_no_delete(self) -> None:
        """Issue 15 (REG_009 on the wire): 5.2.2.3.1 removes an entry "upon de-registration"; when
        the W6 read says there is none (404) there is nothing to delete, and the rule blamed the
        eP-CSCF for not deleting it."""
        finding = only(self.deregistration(404), "REG_W6_STORE")
        assert finding.verdict == "pass" and "nothing to remove" in finding.detail

    def test_a_de_registration_that_creates_an_entry_fails(self) -> None:
        """5.2.2.3.1: an entry is created upon a registration's authorisation, never by a
        de-registration (the fault unknown_deregistration_registers)."""
        finding = only(self.deregistration(404, write=True), "REG_W6_STORE")
        assert finding.verdict == "fail" and "creates an entry" in finding.detail
        assert finding.message is not None and finding.message.http is not None
        assert finding.message.http.method == "PUT"

    def test_a_de_registration_of_a_registered_identity_without_delete_fails(self) -> None:
        finding = only(self.deregistration(200), "REG_W6_STORE")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/wss -> WIC@40001"


WWSF, BROWSER = ("127.0.0.1", 8443), ("127.0.0.1", 40500)
WWSF_ORIGIN = "https://127.0.0.1:8443"


def exchange(
    w: Wire,
    client: tuple[str, int],
    server: tuple[str, int],
    method: str,
    path: str,
    status: int,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    reply_headers: tuple[tuple[str, str], ...] = (),
    body: object = None,
    answer: object = None,
    transport: str = "HTTPS",
    connection: int = 500,
) -> None:
    """One HTTP exchange of the web side (5.2.2.5.2 steps 1-2), in ``transport``."""
    from captures.model import HttpInfo

    data = b"" if body is None else json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    raw = f"{method} {path} HTTP/1.1\r\n{head}Content-Length: {len(data)}\r\n\r\n".encode() + data
    w.add(
        client,
        server,
        raw,
        transport,
        http=HttpInfo(method, path, None, headers, data),
        connection=connection,
    )  # type: ignore[arg-type]
    reply = b"" if answer is None else json.dumps(answer).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in reply_headers)
    raw = f"HTTP/1.1 {status} X\r\n{head}Content-Length: {len(reply)}\r\n\r\n".encode() + reply
    info = HttpInfo(method, path, status, (("Content-Type", "application/json"), *reply_headers), reply)
    w.add(server, client, raw, transport, http=info, connection=connection)  # type: ignore[arg-type]


def web_findings(
    w: Wire, rule_id: str, origins: tuple[str, ...] = (WWSF_ORIGIN,), pics: dict[str, str] | None = None,
    blocks: tuple[Block, ...] = BLOCKS,
) -> list[Finding]:
    addresses = {(h, p): name for p, name in PORTS.items() for h in ("127.0.0.1",)}
    addresses[WWSF] = "wwsf"
    the_ends = Ends(addresses)
    knowledge = Knowledge()
    flows = group(w.messages, the_ends, knowledge)
    ctx = Context(blocks, knowledge, pics, the_ends, origins)
    return [f for flow in flows for f in check(flow, ctx, [rule_id])]


def jwt_of(claims: dict[str, object]) -> str:
    """A JWS compact serialisation of ``claims`` (HS256 with a throw-away key: the rule reads the
    claims without checking who signed them)."""
    import jwt

    return jwt.encode(claims, "k" * 32, algorithm="HS256")


class TestTokenTimes:
    """5.2.2.5.2 step 1 with the solution profile's token (PROFILE_WWSF_TOKEN_TIMES): iat, nbf and
    exp in seconds since the epoch, exp - iat the log-in answer's expires_in."""

    NOW = 1_700_000_000  # the Wire's capture clock

    def login(self, token: str, status: int = 200, **answer: object) -> Wire:
        w = Wire()
        body: dict[str, object] = {"token": token, "identity": ALICE, "ep_cscf": "wss://127.0.0.1:7443"}
        body.update({"expires_in": 3600, **answer})
        exchange(w, BROWSER, WWSF, "POST", "/login", status, body={"username": "alice", "password": "x"},
                 answer=body)  # fmt: skip
        return w

    def claims(self, **times: object) -> dict[str, object]:
        return {"sub": ALICE, "iat": self.NOW, "nbf": self.NOW, "exp": self.NOW + 3600, **times}

    def test_seconds_and_the_answers_lifetime_pass(self) -> None:
        (finding,) = web_findings(self.login(jwt_of(self.claims())), "WWSF_TOKEN_TIMES")
        assert finding.verdict == "pass" and finding.leg.startswith("wwsf ->")

    def test_a_lifetime_off_by_a_second_of_rounding_passes(self) -> None:
        found = web_findings(self.login(jwt_of(self.claims()), expires_in=3599), "WWSF_TOKEN_TIMES")
        assert [f.verdict for f in found] == ["pass"]

    def test_an_exp_in_milliseconds_is_a_deviation(self) -> None:
        token = jwt_of(self.claims(exp=(self.NOW + 3600) * 1000))
        (finding,) = web_findings(self.login(token), "WWSF_TOKEN_TIMES")
        assert finding.verdict == "deviation" and finding.choice == "PROFILE_WWSF_TOKEN_TIMES"
        assert "exp lies more than ten years" in finding.detail

    def test_every_claim_in_milliseconds_is_a_deviation(self) -> None:
        token = jwt_of(self.claims(iat=self.NOW * 1000, nbf=self.NOW * 1000, exp=(self.NOW + 3600) * 1000))
        (finding,) = web_findings(self.login(token, expires_in=3_600_000), "WWSF_TOKEN_TIMES")
        assert finding.verdict == "deviation" and "iat, nbf, exp lie" in finding.detail

    def test_an_expires_in_that_is_the_expiry_time_is_a_deviation(self) -> None:
        absolute = self.login(jwt_of(self.claims()), expires_in=self.NOW + 3600)
        found = web_findings(absolute, "WWSF_TOKEN_TIMES")
        assert [f.verdict for f in found] == ["deviation"] and "3600 s from iat to exp" in found[0].detail

    @pytest.mark.parametrize("expires_in", ["3600", True, 0])
    def test_an_expires_in_that_is_no_lifetime_in_seconds_is_a_deviation(self, expires_in: object) -> None:
        found = web_findings(self.login(jwt_of(self.claims()), expires_in=expires_in), "WWSF_TOKEN_TIMES")
        assert [f.verdict for f in found] == ["deviation"] and "expires_in" in found[0].detail

    def test_an_answer_without_expires_in_is_judged_on_exp_alone(self) -> None:
        """RFC 6749 5.1: expires_in is RECOMMENDED, not required; exp in milliseconds still shows."""
        w = Wire()
        body = {"token": jwt_of(self.claims()), "identity": ALICE, "ep_cscf": "wss://127.0.0.1:7443"}
        exchange(w, BROWSER, WWSF, "POST", "/login", 200, body={"username": "alice", "password": "x"},
                 answer=body)  # fmt: skip
        assert [f.verdict for f in web_findings(w, "WWSF_TOKEN_TIMES")] == ["pass"]

    def test_a_token_issued_earlier_with_what_is_left_of_it_passes(self) -> None:
        """RFC 6749 5.1: the lifetime counts from the answer: a WWSF handing back a token it issued
        600 s before says 3,000 s are left."""
        token = jwt_of(self.claims(iat=self.NOW - 600, nbf=self.NOW - 600, exp=self.NOW + 3000))
        found = web_findings(self.login(token, expires_in=3000), "WWSF_TOKEN_TIMES")
        assert [f.verdict for f in found] == ["pass"], found[0].detail

    @pytest.mark.parametrize("claim", ["iat", "nbf", "exp"])
    def test_a_non_numeric_time_claim_is_a_deviation_and_only_exp_is_required(self, claim: str) -> None:
        for value in ("1700003600", True):
            (finding,) = web_findings(self.login(jwt_of(self.claims(**{claim: value}))), "WWSF_TOKEN_TIMES")
            assert finding.verdict == "deviation" and "NumericDate" in finding.detail, (claim, value)
        times = self.claims()
        del times[claim]
        (finding,) = web_findings(self.login(jwt_of(times)), "WWSF_TOKEN_TIMES")
        wanted = "deviation" if claim == "exp" else "pass"  # RFC 7519: iat and nbf are OPTIONAL
        assert finding.verdict == wanted, (claim, finding.detail)

    def test_an_encrypted_token_is_inconclusive(self) -> None:
        (finding,) = web_findings(self.login("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), "WWSF_TOKEN_TIMES")
        assert finding.verdict == "inconclusive" and "JWE" in finding.detail

    def test_a_token_expiring_before_it_is_valid_is_a_deviation(self) -> None:
        token = jwt_of(self.claims(nbf=self.NOW + 7200))
        (finding,) = web_findings(self.login(token), "WWSF_TOKEN_TIMES")
        assert finding.verdict == "deviation" and "no later than its nbf" in finding.detail

    def test_an_opaque_token_is_a_deviation_unless_the_pics_says_otherwise(self) -> None:
        (finding,) = web_findings(self.login("opaque-session-handle-0123"), "WWSF_TOKEN_TIMES")
        assert finding.verdict == "deviation" and "no JWT" in finding.detail
        (allowed,) = web_findings(
            self.login("opaque-session-handle-0123"), "WWSF_TOKEN_TIMES",
            pics={"PICS_PROFILE_WWSF_TOKEN_TIMES": "no"},
        )  # fmt: skip
        assert allowed.verdict == "pass" and "PICS_PROFILE_WWSF_TOKEN_TIMES = no" in allowed.detail

    def test_a_refused_log_in_is_not_judged(self) -> None:
        assert web_findings(self.login(jwt_of(self.claims()), status=401), "WWSF_TOKEN_TIMES") == []


class TestThrottleFailures:
    """5.2.2.5.2 step 1 with the solution profile's throttle (PROFILE_WWSF_THROTTLE_FAILURES): a
    log-in is never refused for the successful ones before it; one refused for failed ones may be."""

    def logins(self, *answers: tuple[str, int], retry_after: bool = False, w: Wire | None = None) -> Wire:
        """One log-in per ``(client address, status)``, each on a TCP connection of its own (after
        what ``w`` holds, when given)."""
        w = Wire() if w is None else w
        for n, (host, status) in enumerate(answers, len(w.messages)):
            refused = status >= 400
            exchange(
                w, (host, 40600 + n), WWSF, "POST", "/login", status, connection=600 + n,
                body={"username": "alice", "password": "x"},
                answer={"token": jwt_of({"sub": ALICE})} if not refused else {"title": "refused"},
                reply_headers=(("Retry-After", "6"),) if refused and retry_after else (),
            )  # fmt: skip
        return w

    def test_successful_log_ins_after_successful_ones_pass(self) -> None:
        found = web_findings(self.logins(*[("127.0.0.1", 200)] * 3), "WWSF_THROTTLE_FAILURES")
        assert [f.verdict for f in found] == ["pass", "pass"]  # the first has none before it
        assert "2 log-ins from 127.0.0.1" in found[-1].detail

    def test_a_429_after_only_successful_log_ins_is_a_profile_deviation(self) -> None:
        w = self.logins(*[("127.0.0.1", 200)] * 5, ("127.0.0.1", 429), retry_after=True)
        found = web_findings(w, "WWSF_THROTTLE_FAILURES")
        assert [f.verdict for f in found] == ["pass"] * 4 + ["deviation"]
        assert found[-1].choice == "PROFILE_WWSF_THROTTLE_FAILURES" and "5 log-ins" in found[-1].detail

    def test_an_overloaded_wwsf_or_a_refused_password_is_not_this_rules(self) -> None:
        # a 503 with Retry-After (RFC 9110 15.6.4) is no throttle of log-ins; a 401 refuses credentials
        for status in (503, 401):
            w = self.logins(("127.0.0.1", 200), ("127.0.0.1", status), retry_after=True)
            assert web_findings(w, "WWSF_THROTTLE_FAILURES") == [], status

    def test_a_429_to_log_ins_in_flight_at_once_is_not_judged(self) -> None:
        """Log-ins sent together are each charged before their passwords are checked (docs/security.md):
        a throttle of failures only may refuse the last of them."""
        w = self.logins(("127.0.0.1", 200))
        for n in range(2):  # two log-ins sent before either is answered
            body = json.dumps({"username": "alice", "password": "x"}).encode()
            raw = b"POST /login HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            w.add(("127.0.0.1", 40700 + n), WWSF, raw, "HTTPS",
                  http=HttpInfo("POST", "/login", None, (), body), connection=700 + n)  # fmt: skip
        for n, status in ((1, 429), (0, 200)):  # the second answered first
            head = (("Content-Type", "application/json"), ("Retry-After", "6"))
            w.add(WWSF, ("127.0.0.1", 40700 + n), b"HTTP/1.1 %d X\r\n\r\n" % status, "HTTPS",
                  http=HttpInfo("POST", "/login", status, head, b"{}"), connection=700 + n)  # fmt: skip
        # the first of the two had none in flight when it was sent: judged; the refused one had
        assert [f.verdict for f in web_findings(w, "WWSF_THROTTLE_FAILURES")] == ["pass"]

    def test_a_log_in_never_answered_stops_the_judging(self) -> None:
        w = self.logins(("127.0.0.1", 200))
        body = json.dumps({"username": "alice", "password": "x"}).encode()
        w.add(("127.0.0.1", 40800), WWSF, b"POST /login HTTP/1.1\r\n\r\n", "HTTPS",
              http=HttpInfo("POST", "/login", None, (), body), connection=800)  # fmt: skip
        self.logins(("127.0.0.1", 429), retry_after=True, w=w)
        assert web_findings(w, "WWSF_THROTTLE_FAILURES") == []

    def test_an_answer_pipelined_after_a_log_in_is_paired_with_its_own_request(self) -> None:
        """RFC 9112 9.3.2: answers come in the order of the requests of their connection; the 401 to
        the log-in is a refusal even when a GET of the page follows it on the same connection."""
        w = self.logins(("127.0.0.1", 200))
        client = ("127.0.0.1", 40900)
        body = json.dumps({"username": "alice", "password": "wrong"}).encode()
        w.add(client, WWSF, b"POST /login HTTP/1.1\r\n\r\n", "HTTPS",
              http=HttpInfo("POST", "/login", None, (), body), connection=900)  # fmt: skip
        w.add(client, WWSF, b"GET / HTTP/1.1\r\n\r\n", "HTTPS", http=HttpInfo("GET", "/", None, (), b""),
              connection=900)  # fmt: skip
        w.add(WWSF, client, b"HTTP/1.1 401 X\r\n\r\n", "HTTPS",
              http=HttpInfo("POST", "/login", 401, (), b"{}"), connection=900)  # fmt: skip
        w.add(WWSF, client, b"HTTP/1.1 200 X\r\n\r\n", "HTTPS", http=HttpInfo("GET", "/", 200, (), b"page"),
              connection=900)  # fmt: skip
        knowledge = Knowledge()
        group(w.messages, Ends({WWSF: "wwsf"}), knowledge)
        assert [r.status for r in knowledge.logins.values()] == [200, 401]
        assert knowledge.first_login_refusal == w.messages[-2].frame  # the 401, not the GET's 200
        self.logins(("127.0.0.1", 429), retry_after=True, w=w)
        assert web_findings(w, "WWSF_THROTTLE_FAILURES") == []  # the 429 follows a refusal

    def test_the_knowledge_of_log_ins_is_bounded(self) -> None:
        """Every table of log-ins keeps at most ``limit`` entries, the count of those in flight with them."""
        w = Wire()
        for n in range(6):  # six log-ins on six connections, none answered
            body = json.dumps({"username": "alice", "password": "x"}).encode()
            w.add(("127.0.0.1", 41000 + n), WWSF, b"POST /login HTTP/1.1\r\n\r\n", "HTTPS",
                  http=HttpInfo("POST", "/login", None, (), body), connection=1000 + n)  # fmt: skip
        knowledge = Knowledge(limit=3)
        group(w.messages, Ends({WWSF: "wwsf"}), knowledge)
        assert len(knowledge.logins) == 3
        assert [r.in_flight for r in knowledge.logins.values()] == [3, 3, 3]  # the oldest pending dropped
        assert [r.earlier_from_address for r in knowledge.logins.values()] == [3, 4, 5]

    def test_a_429_after_a_failed_log_in_is_not_judged(self) -> None:
        # a failed guess, here from another address, may rightly have spent the user's budget
        w = self.logins(("127.0.0.1", 200), ("127.0.0.9", 401), ("127.0.0.1", 429), retry_after=True)
        assert web_findings(w, "WWSF_THROTTLE_FAILURES") == []

    def test_a_first_log_in_from_an_address_is_not_judged(self) -> None:
        # nothing succeeded from 127.0.0.9 before its 429: another address's successes do not count
        w = self.logins(("127.0.0.1", 200), ("127.0.0.9", 429), retry_after=True)
        assert web_findings(w, "WWSF_THROTTLE_FAILURES") == []

    def test_the_pics_answer_no_makes_it_a_pass(self) -> None:
        w = self.logins(("127.0.0.1", 200), ("127.0.0.1", 429), retry_after=True)
        pics = {"PICS_PROFILE_WWSF_THROTTLE_FAILURES": "no"}
        (finding,) = web_findings(w, "WWSF_THROTTLE_FAILURES", pics=pics)
        assert finding.verdict == "pass" and "PICS_PROFILE_WWSF_THROTTLE_FAILURES = no" in finding.detail


class TestThrottleGuessing:
    """5.2.2.5.2 step 1 with the solution profile's throttle (PROFILE_WWSF_THROTTLE_GUESSING): failed
    log-ins from one address limited to twenty a minute, which no limiter of that rate lets exceed
    forty in any 60 s; beyond, 429 with Retry-After."""

    logins = TestThrottleFailures.logins

    def guessed(self, host: str, failures: int, *then: int, w: Wire | None = None, gap: float = 0.0) -> Wire:
        """``failures`` log-ins from ``host`` answered 401, then one per status of ``then`` (a 429 with
        Retry-After), ``gap`` seconds of capture time before the last of the failures."""
        w = self.logins(*[(host, 401)] * (failures - 1), w=w) if failures > 1 else (w or Wire())
        if failures:
            w.time += gap
            self.logins((host, 401), w=w)
        for status in then:
            self.logins((host, status), retry_after=status == 429, w=w)
        return w

    def test_a_429_with_retry_after_after_failed_log_ins_passes(self) -> None:
        found = web_findings(self.guessed("127.0.0.1", 5, 429), "WWSF_THROTTLE_GUESSING")
        assert [f.verdict for f in found] == ["pass"] * 5  # four checked within the limit, the 429
        assert "checked (answered 401) after 1 failed log-in from 127.0.0.1" in found[0].detail
        assert "refused 429, Retry-After 6, after 5 failed log-ins from 127.0.0.1" in found[-1].detail

    def test_a_forty_first_failure_in_60_s_is_a_profile_deviation(self) -> None:
        found = web_findings(self.guessed("127.0.0.1", 45), "WWSF_THROTTLE_GUESSING")
        deviations = [f for f in found if f.verdict == "deviation"]
        assert len(deviations) == 5 and len(found) == 44  # the 41st to the 45th were checked
        assert all(f.choice == "PROFILE_WWSF_THROTTLE_GUESSING" for f in deviations)
        assert "after 40 failed log-ins" in deviations[0].detail
        within = web_findings(self.guessed("127.0.0.1", 40), "WWSF_THROTTLE_GUESSING")
        assert {f.verdict for f in within} == {"pass"}

    def test_a_success_after_forty_failures_is_a_deviation_and_a_5xx_or_a_400_is_not_judged(self) -> None:
        found = web_findings(self.guessed("127.0.0.1", 40, 200), "WWSF_THROTTLE_GUESSING")
        assert found[-1].verdict == "deviation" and "answered 200" in found[-1].detail
        for status in (503, 400):
            found = web_findings(self.guessed("127.0.0.1", 40, status), "WWSF_THROTTLE_GUESSING")
            assert len(found) == 39 and {f.verdict for f in found} == {"pass"}, status

    def test_failures_sent_more_than_60_s_before_do_not_count(self) -> None:
        # forty failures, then a minute and more of quiet, then one more: none is in its 60 s
        found = web_findings(self.guessed("127.0.0.1", 41, gap=61.0), "WWSF_THROTTLE_GUESSING")
        assert len(found) == 39 and {f.verdict for f in found} == {"pass"}

    def test_another_address_s_failures_do_not_count(self) -> None:
        w = self.guessed("127.0.0.9", 40)
        found = web_findings(self.logins(("127.0.0.1", 401), w=w), "WWSF_THROTTLE_GUESSING")
        assert len(found) == 39 and all("127.0.0.9" in f.detail for f in found)

    def test_a_429_without_retry_after_is_a_deviation(self) -> None:
        w = self.guessed("127.0.0.1", 5)
        self.logins(("127.0.0.1", 429), w=w)  # no Retry-After
        found = web_findings(w, "WWSF_THROTTLE_GUESSING")
        assert found[-1].verdict == "deviation" and "no Retry-After" in found[-1].detail

    def test_pipelined_log_ins_are_paired_with_their_own_answers_and_a_1xx_answers_none(self) -> None:
        """RFC 9112 9.3.2: two log-ins pipelined on one connection, a 100 Continue, then a 401 and a 429:
        the 429 answers the second log-in, after one failure."""
        w = Wire()
        client = ("127.0.0.1", 41100)
        body = json.dumps({"username": "alice", "password": "x"}).encode()
        for _ in range(2):
            w.add(client, WWSF, b"POST /login HTTP/1.1\r\n\r\n", "HTTPS",
                  http=HttpInfo("POST", "/login", None, (), body), connection=1100)  # fmt: skip
        for status, head in ((100, ()), (401, ()), (429, (("Retry-After", "6"),))):
            w.add(WWSF, client, b"HTTP/1.1 %d X\r\n\r\n" % status, "HTTPS",
                  http=HttpInfo("POST", "/login", status, head, b"{}"), connection=1100)  # fmt: skip
        knowledge = Knowledge()
        group(w.messages, Ends({WWSF: "wwsf"}), knowledge)
        assert [r.status for r in knowledge.logins.values()] == [401, 429]
        # sent before the first was answered: no failure in its 60 s yet, so nothing to judge
        assert web_findings(w, "WWSF_THROTTLE_GUESSING") == []
        (login,) = web_findings(w, "WWSF_LOGIN")
        assert login.verdict == "pass" and "(401)" in login.detail  # the 100 is no answer

    def test_the_pics_answer_no_makes_it_a_pass(self) -> None:
        pics = {"PICS_PROFILE_WWSF_THROTTLE_GUESSING": "no"}
        found = web_findings(self.guessed("127.0.0.1", 41), "WWSF_THROTTLE_GUESSING", pics=pics)
        assert {f.verdict for f in found} == {"pass"}
        assert "PICS_PROFILE_WWSF_THROTTLE_GUESSING = no" in found[-1].detail


class TestWebAccess:
    """5.2.2.5.2 steps 1-2 and 5.2.2.5.1 step 1: the login at the WWSF and the WSS handshake."""

    def login(self, status: int = 200, *, identity: str = ALICE, ep: str = "wss://127.0.0.1:7443",
              token: bool = True, transport: str = "HTTPS", wimpu: str = BLOCK1) -> Wire:  # fmt: skip
        w = Wire()
        answer: dict[str, object] = {"identity": identity, "ep_cscf": ep, "wimpu": wimpu}
        if token:
            answer["token"] = TOKEN
        if status >= 400:
            answer = {"title": "Unauthorized", **({"token": TOKEN} if token else {})}
        exchange(w, BROWSER, WWSF, "POST", "/login", status, body={"username": "alice", "password": "x"},
                 answer=answer, transport=transport)  # fmt: skip
        return w

    def test_a_login_over_tls_issues_the_token(self) -> None:
        assert [f.verdict for f in web_findings(self.login(), "WWSF_LOGIN")] == ["pass"]

    def test_a_login_in_clear_text_fails(self) -> None:
        (finding,) = web_findings(self.login(transport="HTTP"), "WWSF_LOGIN")
        assert (
            finding.verdict == "fail" and "clear text" in finding.detail and finding.leg.startswith("wwsf ->")
        )

    def test_a_successful_login_without_a_token_fails(self) -> None:
        assert [f.verdict for f in web_findings(self.login(token=False), "WWSF_LOGIN")] == ["fail"]

    def test_a_refused_login_carries_no_token(self) -> None:
        assert [f.verdict for f in web_findings(self.login(401, token=False), "WWSF_LOGIN")] == ["pass"]
        (finding,) = web_findings(self.login(401), "WWSF_LOGIN")
        assert finding.verdict == "fail" and "issuing a token" in finding.detail

    def test_the_wic_is_sent_to_its_blocks_ep_cscf(self) -> None:
        assert [f.verdict for f in web_findings(self.login(), "WWSF_EP_CSCF")] == ["pass"]
        bob = self.login(identity=BOB, ep="wss://127.0.0.1:7444", wimpu=BLOCK2)
        assert [f.verdict for f in web_findings(bob, "WWSF_EP_CSCF")] == ["pass"]

    def test_a_wic_sent_to_another_blocks_ep_cscf_fails(self) -> None:
        (finding,) = web_findings(
            self.login(identity=BOB, ep="wss://127.0.0.1:7443", wimpu=BLOCK2), "WWSF_EP_CSCF"
        )
        assert finding.verdict == "fail" and "to ep-cscf1" in finding.detail and "ep-cscf2" in finding.detail

    def test_a_wic_given_another_block_fails(self) -> None:
        (finding,) = web_findings(self.login(wimpu=BLOCK2), "WWSF_EP_CSCF")
        assert finding.verdict == "fail" and "not its block" in finding.detail

    def test_after_a_failover_the_new_ep_cscf_registering_the_block_next_is_right(self) -> None:
        """Option 2 after a re-allocation (found against Kamailio, issue 16): ep-cscf1's registration
        of block 1 is still live when the WWSF sends alice to ep-cscf2, standing by for it, which
        registers the block only upon her WIC's registration. Without that later registration, or to
        an eP-CSCF neither allocated nor standing by, it stays a FAIL."""
        def login(w: Wire) -> None:
            answer = {"identity": ALICE, "ep_cscf": "wss://127.0.0.1:7444", "wimpu": BLOCK1, "token": TOKEN}
            exchange(w, BROWSER, WWSF, "POST", "/login", 200, body={"username": "alice", "password": "x"},
                     answer=answer)  # fmt: skip

        def refreshed(w: Wire) -> None:  # ep-cscf1 alive: it refreshes the block after the answer
            login(w)
            w.block_registration(PCSCF1, BLOCK1, call_id="one", cseq=5)

        def web(w: Wire, blocks: tuple[Block, ...] = STANDBY) -> Finding:
            (finding,) = [f for f in web_findings(w, "WWSF_EP_CSCF", blocks=blocks) if f.message is not None]
            return finding

        taken = web(failover(before_takeover=login))
        assert taken.verdict == "pass" and "registers block" in taken.detail, taken.detail
        early = Wire()
        early.block_registration(PCSCF1, BLOCK1, call_id="one")
        login(early)
        assert web(early).verdict == "fail" and "served by ep-cscf1" in web(early).detail
        kept = failover(before_takeover=login, removed=False)  # ep-cscf1's binding kept
        assert web(kept).verdict == "fail"
        assert web(failover(before_takeover=refreshed)).verdict == "fail"  # ep-cscf1 still serving
        assert web(failover(before_takeover=login), BLOCKS).verdict == "fail"  # ep-cscf2 not standing by

    def test_an_address_of_no_node_is_inconclusive(self) -> None:
        (finding,) = web_findings(self.login(ep="wss://ep.example.net"), "WWSF_EP_CSCF")
        assert finding.verdict == "inconclusive"

    def handshake(self, status: int, *, origin: str | None = WWSF_ORIGIN, sip: bool = True,
                  transport: str = "HTTPS", offer: tuple[str, ...] = ("sip",),
                  selected: str | None = None) -> Wire:  # fmt: skip
        """``offer``: one Sec-WebSocket-Protocol field each; ``selected``: the 101's subprotocol
        (default: sip when ``sip``)."""
        w = Wire()
        headers = [("Upgrade", "websocket"), ("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw==")]
        headers += [("Sec-WebSocket-Protocol", value) for value in offer]
        if origin is not None:
            headers.append(("Origin", origin))
        chosen = selected if selected is not None else "sip" if sip else None
        reply = [("Upgrade", "websocket")] + (
            [("Sec-WebSocket-Protocol", chosen)] if chosen and status == 101 else []
        )
        exchange(w, WIC1, IWF1, "GET", "/", status, headers=tuple(headers), reply_headers=tuple(reply),
                 transport=transport)  # fmt: skip
        return w

    def test_a_page_of_the_wwsf_opens_wss_with_sip(self) -> None:
        (finding,) = web_findings(self.handshake(101), "WSS_ORIGIN")
        assert finding.verdict == "pass" and finding.leg == "ep-cscf1/wss -> WIC@40001"

    def test_a_page_of_another_origin_accepted_fails_and_refused_passes(self) -> None:
        for origin in ("https://evil.example.com", WWSF_ORIGIN + ".evil.example.com", WWSF_ORIGIN + "0"):
            (accepted,) = web_findings(self.handshake(101, origin=origin), "WSS_ORIGIN")
            assert accepted.verdict == "fail" and "not an authorised WWSF" in accepted.detail, origin
            (refused,) = web_findings(self.handshake(403, origin=origin), "WSS_ORIGIN")
            assert refused.verdict == "pass", origin

    def test_origins_compare_whole_not_by_spelling(self) -> None:
        """RFC 6454 4-5: the scheme and host compare case-insensitively, a default port is no port."""
        (finding,) = web_findings(self.handshake(101, origin="HTTPS://127.0.0.1:8443/"), "WSS_ORIGIN")
        assert finding.verdict == "pass"

    def test_a_handshake_without_origin_accepted_fails(self) -> None:
        (finding,) = web_findings(self.handshake(101, origin=None), "WSS_ORIGIN")
        assert finding.verdict == "fail" and "no Origin" in finding.detail

    def test_a_101_without_the_sip_subprotocol_fails(self) -> None:
        """The fault subprotocol_not_selected (RFC 7118 4.1); the Origin is WSS_ORIGIN's, which passes."""
        (finding,) = web_findings(self.handshake(101, sip=False), "WSS_SUBPROTOCOL")
        assert finding.verdict == "fail" and "MUST contain" in finding.detail and "but none" in finding.detail
        assert [f.verdict for f in web_findings(self.handshake(101, sip=False), "WSS_ORIGIN")] == ["pass"]

    def test_sip_offered_and_selected_passes_in_any_field_layout(self) -> None:
        for offer in (("sip",), ("chat, sip",), ("chat", "sip")):
            (finding,) = web_findings(self.handshake(101, offer=offer), "WSS_SUBPROTOCOL")
            assert finding.verdict == "pass", offer

    def test_subprotocols_match_exactly_and_a_101_selects_one(self) -> None:
        """RFC 6455 4.1: the client matches the server's value to its own as written ("SIP" is not
        the "sip" offered); 11.3.4: one Sec-WebSocket-Protocol field in a response."""
        (upper,) = web_findings(self.handshake(101, offer=("sip",), selected="SIP"), "WSS_SUBPROTOCOL")
        assert upper.verdict == "fail" and "did not offer" in upper.detail
        both = self.handshake(101, offer=("sip", "chat"), selected="sip, chat")
        (two,) = web_findings(both, "WSS_SUBPROTOCOL")
        assert two.verdict == "fail" and "one subprotocol" in two.detail

    def test_a_subprotocol_the_wic_did_not_offer_fails(self) -> None:
        """RFC 6455 4.2.2: the server selects one of the client's values or none."""
        for offer, selected in (((), "sip"), (("chat",), "sip"), (("sip",), "chat")):
            (finding,) = web_findings(self.handshake(101, offer=offer, selected=selected), "WSS_SUBPROTOCOL")
            assert finding.verdict == "fail" and "did not offer" in finding.detail, (offer, selected)

    def test_a_websocket_without_sip_accepted_is_the_profiles_deviation(self) -> None:
        for offer in ((), ("chat",)):
            (finding,) = web_findings(self.handshake(101, offer=offer, sip=False), "WSS_SUBPROTOCOL")
            assert finding.verdict == "deviation" and finding.choice == "PROFILE_WSS_SIP_ONLY", offer
        plain = self.handshake(101, offer=(), sip=False)
        allowed = web_findings(plain, "WSS_SUBPROTOCOL", pics={"PICS_PROFILE_WSS_SIP_ONLY": "no"})
        assert [f.verdict for f in allowed] == ["pass"]

    def test_a_websocket_without_sip_refused_passes_whatever_the_code(self) -> None:
        for status in (400, 403, 426):
            (finding,) = web_findings(self.handshake(status, offer=("chat",)), "WSS_SUBPROTOCOL")
            assert finding.verdict == "pass" and f"({status})" in finding.detail

    def test_a_refused_handshake_offering_sip_is_not_this_rules(self) -> None:
        assert web_findings(self.handshake(403, origin="https://evil.example.com"), "WSS_SUBPROTOCOL") == []

    def test_a_websocket_without_tls_fails(self) -> None:
        (finding,) = web_findings(self.handshake(101, transport="HTTP"), "WSS_ORIGIN")
        assert finding.verdict == "fail" and "without TLS" in finding.detail

    def test_without_the_topologys_origins_only_the_wwsfs_own_address_is_known(self) -> None:
        assert [f.verdict for f in web_findings(self.handshake(101), "WSS_ORIGIN", origins=())] == ["pass"]
        other = self.handshake(101, origin="https://wwsf.example.com")
        (finding,) = web_findings(other, "WSS_ORIGIN", origins=())
        assert finding.verdict == "inconclusive"

    def test_the_web_exchanges_are_flows_of_their_own(self) -> None:
        w = self.login()
        exchange(w, WIC1, IWF1, "GET", "/", 101, headers=(("Upgrade", "websocket"), ("Origin", WWSF_ORIGIN)),
                 reply_headers=(("Sec-WebSocket-Protocol", "sip"),), connection=501)  # fmt: skip
        w.wic_registration()
        flows = group(w.messages, Ends.from_ports({**PORTS, WWSF[1]: "wwsf"}))
        kinds = [sorted(k.value for k in f.kinds) for f in flows]
        assert kinds == [["web-access"], ["web-access"], ["wic-registration"]]


class TestRegistrarEntry:
    """5.2.2.3.1: the registrar's entry holds every contact it stored for the IMPU (REG_W6_ENTRY)."""

    START = 1_800_000_000.0

    @staticmethod
    def _contact(cid: str, expires_at: float, now: float) -> dict[str, object]:
        iso = datetime.datetime.fromtimestamp(expires_at, tz=datetime.UTC).isoformat(timespec="milliseconds")
        return {
            "contact_id": cid,
            "expires": math.ceil(expires_at - now),
            "expires_at": iso.replace("+00:00", "Z"),
        }

    @staticmethod
    def _entry(*contacts: dict[str, object]) -> dict[str, object]:
        return {"entry": {"impu": ALICE, "contacts": list(contacts)}}

    def wire(
        self, *, second_answer: str = "both", read: str = "both", removed: bool = False, clock: float = 0
    ) -> Wire:
        """Two WICs of alice store contacts c1 and c2 (600 s each) under one SIP flow; the answer to
        the second write lists ``second_answer``; then (when ``removed``) c1 is deleted; then a read
        lists ``read`` (``both``, ``c2``, ``none``). ``clock``: seconds the registrar's clock runs
        ahead of the capture's."""
        w = Wire()
        w.time = self.START
        w.request(WIC1, IWF1, "OPTIONS", "sip:block1.ims.example.net", call_id="entry", from_=ALICE, to=ALICE,
                  transport="WSS")  # fmt: skip
        base = f"/w6/v1/registrations/{ALICE}"
        t1 = w.time + clock
        w.http(EP1_HTTP, "PUT", f"{base}/contacts/c1", 201, body={},
               answer=self._entry(self._contact("c1", t1 + 600, t1)))  # fmt: skip
        t2 = w.time + clock
        listed = [self._contact("c1", t1 + 600, t2), self._contact("c2", t2 + 600, t2)]
        w.http(EP1_HTTP, "PUT", f"{base}/contacts/c2", 200, body={},
               answer=self._entry(*(listed if second_answer == "both" else listed[1:])))  # fmt: skip
        if removed:
            t3 = w.time + clock
            w.http(EP1_HTTP, "DELETE", f"{base}/contacts/c1", 200,
                   answer=self._entry(self._contact("c2", t2 + 600, t3)))  # fmt: skip
        t4 = w.time + clock
        contacts = {"both": [self._contact("c1", t1 + 600, t4), self._contact("c2", t2 + 600, t4)],
                    "c2": [self._contact("c2", t2 + 600, t4)], "none": []}[read]  # fmt: skip
        w.http(EP1_HTTP, "GET", base, 200, answer={"impu": ALICE, "contacts": contacts})
        return w

    def test_every_stored_contact_is_listed(self) -> None:
        finding = only(self.wire(), "REG_W6_ENTRY")
        assert finding.verdict == "pass" and "one entry holds 2 contacts" in finding.detail

    def test_an_answer_to_a_write_that_omits_a_stored_contact_fails(self) -> None:
        """The fault registrar_write_answer_partial: the entry it returns is not the one it holds."""
        finding = only(self.wire(second_answer="c2"), "REG_W6_ENTRY")
        assert finding.verdict == "fail" and "omits contact c1" in finding.detail
        assert finding.message is not None and finding.message.http is not None
        assert finding.message.http.method == "PUT" and finding.leg == "registrar -> 127.0.0.1:43001"

    def test_a_read_that_omits_a_stored_contact_fails(self) -> None:
        assert verdicts(self.wire(read="c2"), "REG_W6_ENTRY") == ["fail"]

    def test_a_removed_contact_may_not_be_listed(self) -> None:
        assert verdicts(self.wire(removed=True, read="c2"), "REG_W6_ENTRY") == ["pass"]
        finding = only(self.wire(removed=True, read="both"), "REG_W6_ENTRY")
        assert finding.verdict == "fail" and "said was removed" in finding.detail

    def test_a_contact_whose_removal_is_in_flight_may_be_omitted(self) -> None:
        """The eP-CSCF sends a DELETE of c1 on one connection and reads the entry on another; the
        registrar takes the DELETE first and answers the read without c1 before the DELETE's own 200
        is in the capture (its order, not the capture's): no failure. A DELETE it refused removed
        nothing: an entry without c1 after that fails again."""
        base = f"/w6/v1/registrations/{ALICE}"
        for status, expected in ((200, ["pass"]), (404, ["fail"])):
            w = Wire()
            w.time = t1 = self.START
            w.request(
                WIC1, IWF1, "OPTIONS", "sip:block1.ims.example.net", call_id="entry", from_=ALICE, to=ALICE,
                transport="WSS",
            )  # fmt: skip
            c1, c2 = self._contact("c1", t1 + 600, t1), self._contact("c2", t1 + 600, t1)
            w.http(EP1_HTTP, "PUT", f"{base}/contacts/c1", 201, body={}, answer=self._entry(c1))
            w.http(EP1_HTTP, "PUT", f"{base}/contacts/c2", 200, body={}, answer=self._entry(c1, c2))
            deleting = w.http_request(EP1_HTTP, "DELETE", f"{base}/contacts/c1")
            read = w.http_request(EP2_HTTP, "GET", base)
            if status == 200:
                w.http_answer(read, 200, answer={"impu": ALICE, "contacts": [c2]})
                w.http_answer(deleting, 200, answer=self._entry(c2))
            else:
                w.http_answer(deleting, 404)
                w.http_answer(read, 200, answer={"impu": ALICE, "contacts": [c2]})
            assert verdicts(w, "REG_W6_ENTRY") == expected, status

    def test_expiry_is_judged_on_the_registrar_clock_not_the_captures(self) -> None:
        """A registrar whose clock runs 700 s ahead (a tester's jump, a lab's skew) has c1 expired
        when it answers: c1's absence is no failure, though by the capture's clock c1 is live."""
        w = Wire()
        w.time = self.START
        w.request(WIC1, IWF1, "OPTIONS", "sip:block1.ims.example.net", call_id="entry", from_=ALICE, to=ALICE,
                  transport="WSS")  # fmt: skip
        base = f"/w6/v1/registrations/{ALICE}"
        t1 = w.time
        w.http(EP1_HTTP, "PUT", f"{base}/contacts/c1", 201, body={},
               answer=self._entry(self._contact("c1", t1 + 600, t1)))  # fmt: skip
        t2 = w.time
        w.http(EP1_HTTP, "PUT", f"{base}/contacts/c2", 200, body={},
               answer=self._entry(self._contact("c2", t2 + 3600, t2)))  # fmt: skip
        ahead = w.time + 700
        w.http(
            EP1_HTTP,
            "GET",
            base,
            200,
            answer={"impu": ALICE, "contacts": [self._contact("c2", t2 + 3600, ahead)]},
        )
        found = findings(w, "REG_W6_ENTRY")
        assert [f.verdict for f in found] == ["fail"], "the second write's answer omits a live c1"
        assert found[0].message is not None and found[0].message.http is not None
        assert found[0].message.http.method == "PUT"

    def test_an_empty_answer_says_nothing_of_the_registrar_clock(self) -> None:
        assert verdicts(self.wire(read="none"), "REG_W6_ENTRY") == ["pass"]


class TestOptionBIdentities:
    """5.2.2.1: IMS identities are only used within the IMS domain (option B)."""

    def test_option_b_wic_sees_only_its_external_identity(self) -> None:
        w = Wire()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU)
        assert verdicts(w, "OPTB_IMPU_HIDDEN") == ["pass"]

    def test_the_allocated_impu_in_p_associated_uri_fails(self) -> None:
        w = Wire()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU, associated=BOB_IMPU)
        finding = only(w, "OPTB_IMPU_HIDDEN")
        assert finding.verdict == "fail" and "P-Associated-URI" in finding.detail

    def test_the_impu_in_p_called_party_id_of_the_invite_to_the_wic_fails(self) -> None:
        w = Wire()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU)
        w.termination(BOB, impu=BOB_IMPU, contacts=(WIC2,), to_wic=[("P-Called-Party-ID", f"<{BOB_IMPU}>")])
        fails = [f for f in findings(w, "OPTB_IMPU_HIDDEN") if f.verdict == "fail"]
        assert len(fails) == 1 and fails[0].leg == "ep-cscf2/wss -> WIC@40002"

    def test_option_a_is_not_concerned(self) -> None:
        w = Wire()
        w.wic_registration()
        assert verdicts(w, "OPTB_IMPU_HIDDEN") == []

    def test_without_blocks_the_option_is_unknown(self) -> None:
        w = Wire()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU)
        assert verdicts(w, "OPTB_IMPU_HIDDEN", blocks=()) == ["inconclusive"]

    def test_p_profile_key_stays_in_the_core(self) -> None:
        w = Wire()
        w.termination()
        assert verdicts(w, "PROFILE_KEY_CONFINED") == ["pass"]

    def test_p_profile_key_sent_to_a_wic_fails(self) -> None:
        w = Wire()
        w.termination(to_wic=[("P-Profile-Key", f"<{BLOCK1}>")])
        assert verdicts(w, "PROFILE_KEY_CONFINED") == ["fail"]


class TestBlockRegistration:
    """5.2.2.5.1."""

    def test_path_challenge_own_ep_cscf_single(self) -> None:
        w = Wire()
        w.block_registration()
        for rule_id in ("BLK_PATH", "BLK_CHALLENGE", "BLK_FROM_ITS_EP_CSCF", "BLK_SINGLE"):
            assert verdicts(w, rule_id) == ["pass"], rule_id

    def test_no_path_fails(self) -> None:
        w = Wire()
        w.block_registration(path=False)
        assert verdicts(w, "BLK_PATH") == ["fail", "fail"]

    def test_a_200_without_credentials_fails(self) -> None:
        w = Wire()
        w.block_registration(challenge=False, authorize=False)
        assert verdicts(w, "BLK_CHALLENGE") == ["fail"]

    def test_credentials_refused_with_403_are_inconclusive_other_refusals_fail(self) -> None:
        """A 403 to the REGISTER that answered the challenge: a wrong digest of the eP-CSCF or a
        password the HSS holds otherwise (TP_WIMPU_BLK_008), and the capture holds neither
        password; any other refusal, or a 403 without a challenge answered, still fails."""
        w = Wire()
        w.block_registration(answer=403)
        (finding,) = findings(w, "BLK_CHALLENGE")
        assert finding.verdict == "inconclusive" and "refused the credentials" in finding.detail
        for answer, challenge in ((500, True), (404, True), (403, False)):
            w = Wire()
            w.block_registration(answer=answer, challenge=challenge)
            assert verdicts(w, "BLK_CHALLENGE") == ["fail"], (answer, challenge)

    def test_the_challenge_before_the_capture_is_inconclusive(self) -> None:
        w = Wire()
        w.block_registration(challenge=False)
        assert verdicts(w, "BLK_CHALLENGE") == ["inconclusive"]

    def test_a_block_registered_by_another_ep_cscf_fails(self) -> None:
        w = Wire()
        w.block_registration(PCSCF2, BLOCK1)
        finding = only(w, "BLK_FROM_ITS_EP_CSCF")
        assert finding.verdict == "fail" and "belongs to ep-cscf1" in finding.detail

    def test_a_block_the_s_cscf_spells_otherwise_is_the_same_block(self) -> None:
        """RFC 3261 19.1.4: an S-CSCF whose P-Associated-URI writes the block's host in capitals
        registers the same block (the rules read it canonical, not as written)."""
        w = Wire()
        w.block_registration(PCSCF1, BLOCK1.replace("@block1.", "@BLOCK1."))
        assert verdicts(w, "BLK_FROM_ITS_EP_CSCF") == ["pass"]
        w.block_registration(PCSCF1, BLOCK1, call_id="two", contact="block1-again")
        assert verdicts(w, "BLK_SINGLE") == ["pass", "fail"]

    def test_a_second_registration_of_the_same_block_fails(self) -> None:
        w = Wire()
        w.block_registration(call_id="one")
        w.block_registration(call_id="two", contact="block1-again")
        assert verdicts(w, "BLK_SINGLE") == ["pass", "fail"]

    def test_another_contact_under_the_same_call_id_is_a_second_registration(self) -> None:
        """RFC 3261 10.3 step 7: a REGISTER naming a new contact adds a binding beside the first one,
        whatever its Call-ID (a vendor's eP-CSCF registering the block anew for each WIC); the
        refresh of the same contact replaces it (10.2.4)."""
        w = Wire()
        w.block_registration(call_id="one", contact="ep1")
        w.block_registration(call_id="one", contact="ep1-again", cseq=3)
        finding = only(w, "BLK_SINGLE")  # one Call-ID, one flow: its second registration fails
        assert finding.verdict == "fail" and "contact sip:ep1@" in finding.detail
        refreshed = Wire()
        refreshed.block_registration(call_id="one", contact="ep1")
        refreshed.block_registration(call_id="one", contact="ep1", cseq=3)
        assert verdicts(refreshed, "BLK_SINGLE") == ["pass"]

    def test_the_same_contact_under_another_call_id_replaces_the_binding(self) -> None:
        """RFC 3261 10.3 step 7: "If the Call-ID value in the existing binding differs from the
        Call-ID value in the request, the binding MUST be removed and a new binding MUST be added":
        an eP-CSCF that registers its block anew after a restart, with its own contact, still
        holds a single registration of it; another contact beside it is a second one."""
        w = Wire()
        w.block_registration(call_id="before-restart")
        w.block_registration(call_id="after-restart")
        assert verdicts(w, "BLK_SINGLE") == ["pass", "pass"]
        beside = Wire()
        beside.block_registration(call_id="before-restart")
        beside.block_registration(call_id="after-restart", contact="block1-restarted")
        assert "fail" in verdicts(beside, "BLK_SINGLE")

    def test_a_registration_made_after_the_testers_clock_lapsed_the_first_is_the_only_one(self) -> None:
        """Issue 16 (the Kamailio lab on the tester's clock): the tester moved the nodes' clock 700 s
        forward, past the block's 600 s; the eP-CSCF registered the block anew (another Call-ID) a
        moment later on the capture's clock. On the nodes' clock the first registration had lapsed:
        a single registration, not two (the rule measured lifetimes on the capture's clock)."""
        w = Wire()
        w.block_registration(call_id="one", expires=600)
        jumped = w.time + 1.0
        w.time += 2.0
        w.block_registration(call_id="two", expires=600, contact="block1-anew")
        assert verdicts(w, "BLK_SINGLE") == ["pass", "fail"]
        assert verdicts(w, "BLK_SINGLE", jumps=((jumped, 700.0),)) == ["pass", "pass"]
        assert verdicts(w, "BLK_SINGLE", jumps=((jumped, 500.0),)) == ["pass", "fail"]  # still live

    def test_the_block_is_registered_before_its_wics(self) -> None:
        w = Wire()
        w.block_registration(PCSCF2, BLOCK2)
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU)
        assert verdicts(w, "BLK_BEFORE_WIC") == ["pass"]

    def test_a_block_registered_after_its_wic_fails(self) -> None:
        w = Wire()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU)
        w.block_registration(PCSCF2, BLOCK2)
        assert verdicts(w, "BLK_BEFORE_WIC") == ["fail"]

    def test_a_wic_registration_in_a_registered_block_sends_nothing_to_the_s_cscf(self) -> None:
        """BLK_NOT_PER_WIC: two WICs register in block 1, registered at start-up: both judged. In
        option 2 the first WIC's registration, which registers the block, is not judged."""
        w = Wire()
        w.block_registration(PCSCF1, BLOCK1)
        w.wic_registration(WIC1, IWF1, ALICE, call_id="r1")
        w.wic_registration(WIC3, IWF1, ALICE, call_id="r2")
        assert [f.verdict for f in findings(w, "BLK_NOT_PER_WIC")] == ["pass", "pass"]
        first = Wire()
        first.wic_registration(WIC1, IWF1, ALICE, call_id="r1")
        first.block_registration(PCSCF1, BLOCK1)  # option 2: upon the first WIC registration
        assert findings(first, "BLK_NOT_PER_WIC") == []

    def _per_wic(self, answer: int = 200, expires: int = 600, early: float = 0.0) -> Wire:
        """Block 1 registered; ``early`` s later a WIC registers and the eP-CSCF sends the block's
        REGISTER again in the same registration (its answer ``answer``)."""
        w = Wire()
        w.block_registration(PCSCF1, BLOCK1, expires=expires)
        w.time += early
        w.wic_registration(WIC1, IWF1, ALICE, call_id="r1")
        w.block_registration(PCSCF1, BLOCK1, cseq=3, answer=answer, expires=expires)
        return w

    def test_a_block_registered_again_for_a_wic_deviates_from_the_profile(self) -> None:
        """A vendor's eP-CSCF that sends the block's REGISTER again on every WIC registration (blind
        fault ``pcscf_block_per_wic``): a profile deviation (``PROFILE_BLK_NO_PER_WIC``), not a FAIL,
        since a refresh of the block's one binding is not a second registration; answered or not."""
        for answer in (200, 500):
            (finding,) = findings(self._per_wic(answer), "BLK_NOT_PER_WIC")
            assert finding.verdict == "deviation" and finding.choice == "PROFILE_BLK_NO_PER_WIC", finding
        (allowed,) = findings(self._per_wic(), "BLK_NOT_PER_WIC", pics={"PICS_PROFILE_BLK_NO_PER_WIC": "no"})
        assert allowed.verdict == "pass" and "PICS_PROFILE_BLK_NO_PER_WIC = no" in allowed.detail

    def test_a_refresh_due_during_a_wic_registration_is_not_per_wic(self) -> None:
        """A refresh when half the lifetime (less the margin) has passed is the eP-CSCF's own timer,
        whenever a WIC registers: at 299.8 s of 600 (the reference refreshes at 300 s) too."""
        for expires, early in ((10, 6.0), (600, 299.8)):
            (finding,) = findings(self._per_wic(expires=expires, early=early), "BLK_NOT_PER_WIC")
            assert finding.verdict == "pass", (expires, early, finding)
        (early,) = findings(self._per_wic(expires=600, early=200.0), "BLK_NOT_PER_WIC")
        assert early.verdict == "deviation", early  # a third of the lifetime: no refresh is due

    def test_a_new_registration_of_the_block_is_not_a_refresh_for_the_wic(self) -> None:
        """An eP-CSCF that restarted registers its block anew (another Call-ID) upon a WIC's
        registration (option 2): not judged as sent for that WIC."""
        w = Wire()
        w.block_registration(PCSCF1, BLOCK1, call_id="before-restart")
        w.wic_registration(WIC1, IWF1, ALICE, call_id="r1")
        w.block_registration(PCSCF1, BLOCK1, call_id="after-restart")
        assert [f.verdict for f in findings(w, "BLK_NOT_PER_WIC")] == ["pass"]

    def test_no_block_registration_in_the_capture_is_inconclusive(self) -> None:
        w = Wire()
        w.wic_registration()
        finding = only(w, "BLK_BEFORE_WIC")
        assert finding.verdict == "inconclusive" and "start-up" in finding.detail

    def test_no_block_registration_in_a_complete_capture_fails(self) -> None:
        """The capture holds every packet since the nodes started: the block was never registered
        (the S-CSCF refused it, TP_WIMPU_BLK_008), and the WIC must not have been."""
        w = Wire()
        w.block_registration(answer=403)
        w.wic_registration()
        (finding,) = findings(w, "BLK_BEFORE_WIC", complete=True)
        assert finding.verdict == "fail" and "never registered" in finding.detail
        (partial,) = findings(w, "BLK_BEFORE_WIC", complete=False)
        assert partial.verdict == "inconclusive"


STANDBY = (dataclasses.replace(BLOCKS[0], standby=("ep-cscf2",)), BLOCKS[1])
"Block 1 with ep-cscf2 standing by for it (PIXIT ``standby``, 5.2.2.2)."


def failover(
    *,
    removed: bool = True,
    removal_call_id: str = "two",
    before_removal: Callable[[Wire], None] | None = None,
    before_takeover: Callable[[Wire], None] | None = None,
) -> Wire:
    """5.2.2.2: ep-cscf1 registered block 1 and failed; ep-cscf2 registers block 1 and (when
    ``removed``) then removes the failed one's binding in the same registration (the reference), or
    in a REGISTER of another Call-ID (``removal_call_id``, as Kamailio's uac module sends it);
    ``before_removal`` adds what ep-cscf2 does between its registration and the removal,
    ``before_takeover`` what happens between ep-cscf1's registration and ep-cscf2's."""
    w = Wire()
    w.block_registration(PCSCF1, BLOCK1, call_id="one")
    if before_takeover is not None:
        before_takeover(w)
    w.block_registration(PCSCF2, BLOCK1, call_id="two")
    if before_removal is not None:
        before_removal(w)
    if removed:
        stale = f"<sip:block1@{PCSCF1[0]}:{PCSCF1[1]}>"
        rep = "sip:block1@wrtc.ims.example.net"
        auth = ("Authorization", 'Digest username="u", realm="ims", nonce="n", uri="sip:ims", response="r"')
        removal = w.request(
            PCSCF2, SCSCF, "REGISTER", "sip:ims.example.net", call_id=removal_call_id, cseq=3, from_=rep,
            to=rep, headers=[("Contact", f"{stale};expires=0"), ("Expires", "0"), auth],
        )  # fmt: skip
        own = f"<sip:block1@{PCSCF2[0]}:{PCSCF2[1]}>;expires=600"
        w.response(removal, 200, headers=[("P-Associated-URI", f"<{rep}>, <{BLOCK1}>"), ("Contact", own)])
    return w


class TestReallocation:
    """5.2.2.2: "If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF shall be
    re-allocated to another eP-CSCF" (issue 15: the failover scenario's capture failed two rules)."""

    def test_an_ep_cscf_standing_by_for_the_block_may_register_it(self) -> None:
        assert verdicts(failover(), "BLK_FROM_ITS_EP_CSCF", STANDBY) == ["pass", "pass"]
        detail = findings(failover(), "BLK_FROM_ITS_EP_CSCF", STANDBY)[1].detail
        assert "re-allocated" in detail and "ep-cscf1" in detail

    def test_an_ep_cscf_not_standing_by_for_it_still_fails(self) -> None:
        assert verdicts(failover(), "BLK_FROM_ITS_EP_CSCF") == ["pass", "fail"]

    def test_the_registration_that_removes_the_failed_ones_is_single(self) -> None:
        (first, second) = findings(failover(), "BLK_SINGLE", STANDBY)
        assert (first.verdict, second.verdict) == ("pass", "pass")
        assert "re-allocated (5.2.2.2)" in second.detail and "removed by ep-cscf2" in second.detail

    def test_a_removal_in_a_register_of_its_own_right_after_is_single(self) -> None:
        """Issue 16 (Kamailio's take-over): the removal of the failed one's binding in a REGISTER of
        another Call-ID, before ep-cscf2 accepted anything else for the block, leaves one
        registration as the same Call-ID does: the Call-ID is the implementation's."""
        (_, second) = findings(failover(removal_call_id="removal"), "BLK_SINGLE", STANDBY)
        assert second.verdict == "pass" and "removed by ep-cscf2" in second.detail

    def test_a_removal_after_a_wic_of_the_block_registered_there_is_too_late(self) -> None:
        """ep-cscf2 served the block (alice registered through it) while the failed one's binding
        was live: two registrations of the block then, whatever removes the binding later."""

        def alice_registers(w: Wire) -> None:
            w.wic_registration(WIC3, IWF2, ALICE, call_id="alice-at-ep-cscf2")

        for call_id in ("two", "removal"):  # in the same registration or not
            w = failover(removal_call_id=call_id, before_removal=alice_registers)
            (_, second) = findings(w, "BLK_SINGLE", STANDBY)
            assert second.verdict == "fail" and "already registered by ep-cscf1" in second.detail, call_id

    def test_a_removal_long_after_the_registration_is_too_late(self) -> None:
        """Nothing else happened at ep-cscf2 in between, yet both bindings were live for 300 s: the
        S-CSCF offered the block's sessions to the failed eP-CSCF meanwhile (TAKE_OVER_REMOVAL)."""

        def later(w: Wire) -> None:
            w.time += 300.0

        (_, second) = findings(
            failover(removal_call_id="removal", before_removal=later), "BLK_SINGLE", STANDBY
        )
        assert second.verdict == "fail" and "already registered by ep-cscf1" in second.detail
        (_, same) = findings(failover(before_removal=later), "BLK_SINGLE", STANDBY)
        assert same.verdict == "fail", "the same Call-ID 300 s later is as late"

    def test_a_removal_after_the_next_registration_of_the_block_is_too_late(self) -> None:
        def refreshes(w: Wire) -> None:
            w.block_registration(PCSCF2, BLOCK1, call_id="two", cseq=5)

        w = failover(removal_call_id="removal", before_removal=refreshes)
        (_, second, *_) = findings(w, "BLK_SINGLE", STANDBY)
        assert second.verdict == "fail" and "already registered by ep-cscf1" in second.detail

    def test_an_ep_cscf_refreshing_a_block_taken_over_from_it_makes_a_second_registration(self) -> None:
        """The block was taken over from a live eP-CSCF, which then refreshes its own binding: every
        200 OK of a registration is judged, its refresh too, and that one finds the other live."""
        w = failover()
        w.block_registration(PCSCF1, BLOCK1, call_id="one", cseq=5)
        (first, _) = findings(w, "BLK_SINGLE", STANDBY)
        assert first.verdict == "fail" and "already registered by ep-cscf2" in first.detail

    def test_a_failed_ones_registration_left_live_is_a_second_registration(self) -> None:
        (_, second) = findings(failover(removed=False), "BLK_SINGLE", STANDBY)
        assert second.verdict == "fail" and "already registered by ep-cscf1" in second.detail

    def test_the_removal_ends_the_failed_ones_binding_not_the_removers(self) -> None:
        knowledge = Knowledge()
        w = failover()
        group(w.messages, ends(), knowledge)
        live = [r.ep_cscf for r in knowledge.blocks if r.since <= w.time < r.until]
        assert live == ["ep-cscf2"]
        (gone,) = [r for r in knowledge.blocks if r.ep_cscf == "ep-cscf1"]
        assert gone.removed_by == "ep-cscf2" and gone.contact == f"sip:block1@{PCSCF1[0]}:{PCSCF1[1]}"

    def test_a_wic_registered_at_the_ep_cscf_holding_its_block_passes(self) -> None:
        """REG_AT_BLOCK_HOLDER: alice registers at ep-cscf2 once it has taken block 1 over."""
        w = failover()
        w.wic_registration(WIC2, IWF2, ALICE, call_id="after")
        (finding,) = findings(w, "REG_AT_BLOCK_HOLDER", STANDBY)
        assert finding.verdict == "pass" and "ep-cscf2 holds the registration" in finding.detail

    def test_a_wic_registered_at_the_ep_cscf_its_block_was_taken_from_fails(self) -> None:
        """5.2.2.2, TP_WIMPU_LIFE_010: ep-cscf1, up again after block 1 went to ep-cscf2, registers a
        WIC that kept its first log-in's token and address: outside its block's registration."""
        w = failover()
        w.wic_registration(WIC1, IWF1, ALICE, call_id="stale")
        (finding,) = findings(w, "REG_AT_BLOCK_HOLDER", STANDBY)
        assert finding.verdict == "fail", finding
        assert "removed by ep-cscf2" in finding.detail and "registered by ep-cscf2" in finding.detail

    def test_a_wic_registered_before_the_failover_passes_and_a_refused_one_says_nothing(self) -> None:
        w = Wire()
        w.block_registration(PCSCF1, BLOCK1, call_id="one")
        w.wic_registration(WIC1, IWF1, ALICE, call_id="before")
        assert verdicts(w, "REG_AT_BLOCK_HOLDER", STANDBY) == ["pass"]
        refused = failover()
        refused.wic_registration(WIC1, IWF1, ALICE, call_id="stale", status=503, store=False)
        assert verdicts(refused, "REG_AT_BLOCK_HOLDER", STANDBY) == []

    def test_a_decomposed_eps_iwf_declared_in_the_pics_is_inconclusive(self) -> None:
        """5.2.2.2 "The IWF can communicate with any P-CSCF": a SUT whose PICS says its IWF hands WICs
        to the P-CSCF serving their block may have registered the WIC there; not on the wire."""
        w = failover()
        w.wic_registration(WIC1, IWF1, ALICE, call_id="stale")
        pics = {"PICS_EPCSCF_IWF_ANY_PCSCF": "yes"}
        (finding,) = findings(w, "REG_AT_BLOCK_HOLDER", STANDBY, pics=pics)
        assert finding.verdict == "inconclusive" and "PICS_EPCSCF_IWF_ANY_PCSCF = yes" in finding.detail

    def test_an_iwf_that_registered_no_block_is_inconclusive(self) -> None:
        """A decomposed IWF hands the REGISTER to a P-CSCF over its internal interface (5.2.2.2):
        where it landed is not on the wire."""
        w = Wire()
        w.block_registration(PCSCF2, BLOCK1, call_id="two")
        w.wic_registration(WIC1, IWF1, ALICE, call_id="via-iwf")
        (finding,) = findings(w, "REG_AT_BLOCK_HOLDER", STANDBY)
        assert finding.verdict == "inconclusive" and "internal interface" in finding.detail

    def test_a_wic_of_the_block_taken_over_is_of_that_block(self) -> None:
        ctx = Context(STANDBY)
        found = block_for(ctx, "ep-cscf2", ALICE)
        assert found is not None and found.block.wimpu == STANDBY[0].block.wimpu
        assert block_for(Context(BLOCKS), "ep-cscf2", ALICE) is BLOCKS[1]  # its only block, as before


class TestOrigination:
    """5.2.2.5.3 steps 1 to 3."""

    @pytest.mark.parametrize(("option", "identity"), [("A", ALICE), ("B", BOB)])
    def test_the_forwarded_invite_asserts_the_impu_and_keeps_from(self, option: str, identity: str) -> None:
        w = Wire()
        w.origination(WIC1, identity, option=option)
        assert verdicts(w, "ORIG_PAI_IMPU") == ["pass"]
        assert verdicts(w, "ORIG_FROM_UNTOUCHED") == ["pass"]

    def test_option_a_asserting_another_identity_fails(self) -> None:
        w = Wire()
        w.origination(asserted="sip:wrtc-mallory@block1.ims.example.net")
        finding = only(w, "ORIG_PAI_IMPU")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/sip -> s-cscf"

    @pytest.mark.parametrize(("option", "identity"), [("A", ALICE), ("B", BOB)])
    def test_a_claim_of_the_wic_passed_on_beside_the_impu_fails(self, option: str, identity: str) -> None:
        """RFC 3325 9.1: the eP-CSCF asserts; a second SIP value is the WIC's own claim."""
        w = Wire()
        w.origination(WIC1, identity, option=option, kept_claim="sip:wrtc-mallory@block1.ims.example.net")
        finding = only(w, "ORIG_PAI_IMPU")
        assert finding.verdict == "fail" and "2 SIP P-Asserted-Identity values" in finding.detail

    def test_option_b_asserting_another_impu_than_w6_gave_fails(self) -> None:
        w = Wire()
        w.origination(WIC1, BOB, option="B", asserted="sip:wrtc-other@block2.ims.example.net")
        finding = only(w, "ORIG_PAI_IMPU")
        assert finding.verdict == "fail" and BOB_IMPU in finding.detail

    def test_a_touched_from_fails_on_the_forwarded_invite(self) -> None:
        w = Wire()
        w.origination(from_line=f"From: <{ALICE}>;tag=changed")
        finding = only(w, "ORIG_FROM_UNTOUCHED")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/sip -> s-cscf"
        assert finding.message is not None and b"tag=changed" in finding.message.raw

    def test_without_the_wic_leg_from_is_inconclusive(self) -> None:
        w = Wire()
        w.origination()
        w.messages = [m for m in w.messages if m.transport != "WSS"]
        finding = only(w, "ORIG_FROM_UNTOUCHED")
        assert (
            finding.verdict == "inconclusive" and "the WIC's INVITE is not in the capture" in finding.detail
        )

    def test_option_b_reads_w6_first(self) -> None:
        w = Wire()
        w.origination(WIC1, BOB, option="B")
        assert verdicts(w, "ORIG_W6_OPTION_B") == ["pass"]

    @pytest.mark.parametrize("status", [None, 500, 503])
    def test_option_b_forwarding_without_the_context_retrieved_fails(self, status: int | None) -> None:
        """5.2.2.5.3: "shall first retrieve the registration context ... Following that": a read
        the registrar never answered (a hung registrar), or refused, retrieved nothing, even when
        the INVITE then asserts the right IMPU (an eP-CSCF's cache). A 404 is an answer (nothing
        registered): what goes on after it is the other rules'."""
        w = Wire()
        w.origination(WIC1, BOB, option="B", w6_status=status)
        finding = only(w, "ORIG_W6_OPTION_B")
        assert finding.verdict == "fail" and "registration context was not retrieved" in finding.detail
        assert finding.leg.endswith("-> s-cscf")

    def test_option_b_without_any_registrar_message_fails_only_in_a_complete_capture(self) -> None:
        w = Wire()
        w.origination(WIC1, BOB, option="B", w6=False)
        assert [f.verdict for f in findings(w, "ORIG_W6_OPTION_B")] == ["inconclusive"]
        assert [f.verdict for f in findings(w, "ORIG_W6_OPTION_B", complete=True)] == ["fail"]

    SERVICE_ROUTE = ("sip:orig@scscf.ims.example.net;lr", "sip:as@as.ims.example.net;lr")

    @pytest.mark.parametrize("option", ["A", "B"])
    def test_the_forwarded_request_follows_the_service_route(self, option: str) -> None:
        """5.2.2.5.3 step 3 (TS 24.229 5.2.6.3.3; RFC 3608): the Route is the block registration's
        Service-Route, entry for entry, in its order."""
        w = Wire()
        w.block_registration(PCSCF1 if option == "A" else PCSCF2, BLOCK1 if option == "A" else BLOCK2,
                             service_route=self.SERVICE_ROUTE)  # fmt: skip
        w.origination(WIC1, ALICE if option == "A" else BOB, option=option, route=self.SERVICE_ROUTE)
        (finding,) = findings(w, "ORIG_SERVICE_ROUTE")
        assert finding.verdict == "pass" and finding.leg.endswith("-> s-cscf")

    @pytest.mark.parametrize(
        "route",
        [
            (),  # routed by DNS alone
            SERVICE_ROUTE[:1],  # a Service-Route entry dropped
            SERVICE_ROUTE[::-1],  # out of order
            (*SERVICE_ROUTE, "sip:evil@attacker.example.org;lr"),  # the WIC's preloaded Route kept
            ("sip:evil@attacker.example.org;lr", *SERVICE_ROUTE),
        ],
    )
    def test_a_route_other_than_the_service_route_fails(self, route: tuple[str, ...]) -> None:
        w = Wire()
        w.block_registration(service_route=self.SERVICE_ROUTE)
        w.origination(route=route)
        (finding,) = findings(w, "ORIG_SERVICE_ROUTE")
        assert finding.verdict == "fail" and "expected the Service-Route" in finding.detail
        assert finding.leg == "ep-cscf1/sip -> s-cscf"

    @pytest.mark.parametrize("to", [REMOTE, ICSCF], ids=["remote", "i-cscf"])
    def test_a_request_sent_past_the_s_cscf_fails(self, to: tuple[str, int]) -> None:
        """A vendor's eP-CSCF routing by the Request-URI (DNS) when it kept no Service-Route: the
        request never reaches the S-CSCF of the block registration."""
        w = Wire()
        w.block_registration(service_route=self.SERVICE_ROUTE)
        w.origination(route=(), to=to)
        (finding,) = findings(w, "ORIG_SERVICE_ROUTE")
        assert finding.verdict == "fail" and "not to the S-CSCF" in finding.detail
        assert finding.leg.startswith("ep-cscf1/sip -> ")

    def test_without_the_block_registration_the_route_is_inconclusive(self) -> None:
        w = Wire()
        w.origination(route=self.SERVICE_ROUTE)
        (finding,) = findings(w, "ORIG_SERVICE_ROUTE")
        assert finding.verdict == "inconclusive" and "Service-Route" in finding.detail

    def test_a_service_route_of_another_eps_registration_is_not_this_ones(self) -> None:
        w = Wire()
        w.block_registration(PCSCF2, BLOCK2, service_route=self.SERVICE_ROUTE)
        w.origination(route=self.SERVICE_ROUTE)  # ep-cscf1's block1: its own registration is not in it
        assert verdicts(w, "ORIG_SERVICE_ROUTE") == ["inconclusive"]

    def test_option_b_without_w6_fails(self) -> None:
        w = Wire()
        w.wic_registration()  # some W6 traffic: the registrar's leg is in the capture
        w.origination(WIC1, BOB, option="B", w6=False)
        assert verdicts(w, "ORIG_W6_OPTION_B") == ["fail"]

    def test_option_a_without_w6_passes(self) -> None:
        w = Wire()
        w.wic_registration()
        w.origination()
        assert verdicts(w, "ORIG_NO_W6_OPTION_A") == ["pass"]

    def test_option_a_querying_w6_is_a_profile_deviation(self) -> None:
        """The text does not forbid the read: the profile's choice, never a FAIL."""
        w = Wire()
        w.origination(w6=True)
        finding = only(w, "ORIG_NO_W6_OPTION_A")
        assert finding.verdict == "deviation" and finding.leg == "127.0.0.1:43001 -> registrar"
        assert finding.choice == "PROFILE_ORIG_OPTA_NO_W6" and finding.detail.startswith(
            "PROFILE_ORIG_OPTA_NO_W6: "
        )

    def test_option_a_querying_w6_passes_for_a_sut_that_chose_otherwise(self) -> None:
        w = Wire()
        w.origination(w6=True)
        finding = only(w, "ORIG_NO_W6_OPTION_A", pics={"PICS_PROFILE_ORIG_OPTA_NO_W6": "no"})
        assert finding.verdict == "pass" and "allowed, PICS_PROFILE_ORIG_OPTA_NO_W6 = no" in finding.detail
        # an item the SUT's PICS leaves out is not followed either; a PICS answered yes is checked
        assert only(w, "ORIG_NO_W6_OPTION_A", pics={}).verdict == "pass"
        assert (
            only(w, "ORIG_NO_W6_OPTION_A", pics={"PICS_PROFILE_ORIG_OPTA_NO_W6": "yes"}).verdict
            == "deviation"
        )

    def test_option_a_asserts_the_registered_identity_whatever_the_from(self) -> None:
        """Open point 19: the From is the WIC's claim ("shall" on the WIC); an eP-CSCF that asserts
        what the WIC registered over its connection, not the From, keeps step 3."""
        w = Wire()
        w.wic_registration()
        w.origination(identity="sip:wrtc-mallory@block1.ims.example.net", asserted=ALICE)
        finding = only(w, "ORIG_PAI_IMPU")
        assert finding.verdict == "pass", finding.detail

    def test_option_a_asserting_an_unregistered_from_fails(self) -> None:
        """Asserting the WIC's claim rather than what it registered: another user's identity."""
        mallory = "sip:wrtc-mallory@block1.ims.example.net"
        w = Wire()
        w.wic_registration()
        w.origination(identity=mallory, asserted=mallory)
        finding = only(w, "ORIG_PAI_IMPU")
        assert finding.verdict == "fail" and f"expected {ALICE}" in finding.detail

    def test_option_b_w6_read_naming_the_registered_identity_passes(self) -> None:
        """The eP-CSCF looks the WIC up by what was registered over its connection, not its From."""
        eve = "sip:eve@enterprise.com"
        w = Wire()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU)
        w.origination(WIC2, eve, option="B", w6_identity=BOB)
        finding = only(w, "ORIG_W6_OPTION_B")
        assert finding.verdict == "pass" and BOB in finding.detail
        # BOB registered over another connection: a read of BOB's context is not this WIC's
        w = Wire()
        w.wic_registration(WIC1, IWF2, BOB, impu=BOB_IMPU)
        w.origination(WIC2, eve, option="B", w6_identity=BOB)
        assert verdicts(w, "ORIG_W6_OPTION_B") == ["fail"]


class TestDialogMethodRefused:
    """ORIG_DIALOG_METHOD_REFUSED (5.2.2.5.3 step 3, 5.2.2.3.2; PROFILE_SEC_DIALOG_METHODS): a BYE,
    INFO, UPDATE or PRACK a WIC sends with no To tag is refused at the eP-CSCF and sent on nowhere."""

    def request(
        self, method: str = "BYE", *, tag: str | None = None, core: bool = True
    ) -> tuple[Wire, WireMessage]:
        """A WIC's ``method`` with no To tag (or ``tag``); with ``core``, the eP-CSCF's leg to the
        S-CSCF is in the capture (its block's REGISTER), so that "sent on nowhere" can be told."""
        w = Wire()
        if core:
            block = "sip:block1@wrtc.ims.example.net"
            w.request(PCSCF1, SCSCF, "REGISTER", "sip:ims.example.net", call_id="blk-1", from_=block,
                      to=block, cseq=1)  # fmt: skip
        sent = w.request(WIC1, IWF1, method, "sip:dave@remote.example.org", call_id="nd-1", from_=ALICE,
                         to="sip:dave@remote.example.org", cseq=1, transport="WSS")  # fmt: skip
        if tag is not None:  # To: <uri> as the Wire writes it, then the dialog's tag
            to = b"To: <sip:dave@remote.example.org>"
            raw = sent.raw.replace(to, to + f";tag={tag}".encode())
            w.messages.pop()
            sent = w.add(WIC1, IWF1, raw, "WSS")
        return w, sent

    def test_a_refusal_that_sends_nothing_on_passes(self) -> None:
        for method in ("BYE", "INFO", "UPDATE", "PRACK"):
            w, sent = self.request(method)
            w.response(sent, 403)
            finding = only(w, "ORIG_DIALOG_METHOD_REFUSED")
            assert finding.verdict == "pass"
            assert f"the {method} that names no dialog is refused (403)" in finding.detail

    def test_a_request_sent_on_as_a_new_one_is_a_deviation(self) -> None:
        """The blind fault of batch 4 (pcscf_in_dialog_by_to_tag_only): relayed on the Service-Route."""
        w, sent = self.request()
        onward = w.forward(sent, PCSCF1, SCSCF)
        w.response(onward, 481, src=SCSCF, dst=PCSCF1)
        w.response(sent, 481)
        finding = only(w, "ORIG_DIALOG_METHOD_REFUSED")
        assert finding.verdict == "deviation" and finding.choice == "PROFILE_SEC_DIALOG_METHODS"
        assert finding.leg == "ep-cscf1/sip -> s-cscf"
        pics = {"PICS_PROFILE_SEC_DIALOG_METHODS": "no"}
        assert only(w, "ORIG_DIALOG_METHOD_REFUSED", pics=pics).verdict == "pass"

    def test_an_answer_2xx_is_a_deviation(self) -> None:
        w, sent = self.request("INFO")
        w.response(sent, 200)
        assert verdicts(w, "ORIG_DIALOG_METHOD_REFUSED") == ["deviation"]

    def test_requests_in_a_dialog_and_other_methods_are_not_judged(self) -> None:
        w, sent = self.request(tag="t1")  # a To tag: a dialog, the in-dialog rules' business
        w.response(sent, 403)
        assert verdicts(w, "ORIG_DIALOG_METHOD_REFUSED") == []
        w, sent = self.request("MESSAGE")  # a method that may start a transaction of its own
        w.forward(sent, PCSCF1, SCSCF)
        assert verdicts(w, "ORIG_DIALOG_METHOD_REFUSED") == []

    def test_without_the_answer_it_is_inconclusive(self) -> None:
        w, _ = self.request()
        assert verdicts(w, "ORIG_DIALOG_METHOD_REFUSED") == ["inconclusive"]

    def test_without_the_eps_leg_to_the_s_cscf_a_refusal_is_inconclusive(self) -> None:
        """Nothing the eP-CSCF sent the S-CSCF is in the capture: "sent on nowhere" cannot be told."""
        w, sent = self.request(core=False)
        w.response(sent, 481)
        finding = only(w, "ORIG_DIALOG_METHOD_REFUSED")
        assert finding.verdict == "inconclusive"
        assert "no message from the eP-CSCF (P-CSCF) to the S-CSCF" in finding.detail


class TestInDialogRouteSet:
    """ORIG_IN_DIALOG_ROUTE_SET (5.2.2.5.3 step 3, 5.2.2.3.2; PROFILE_SEC_IN_DIALOG_ROUTE_SET, open
    point 26): a WIC's request in its dialog that the eP-CSCF sends on follows the dialog's route set."""

    OWN = "sip:p1@127.0.0.1:5080;lr"
    NEXT = "sip:127.0.0.1:5070;transport=tcp;lr"
    TARGET = "sip:dave@127.0.0.1:5999;transport=tcp"

    def session(self) -> Wire:
        """A WIC's session (the WIC the caller): the eP-CSCF record-routes, so does the S-CSCF."""
        w = Wire()
        invite = w.request(WIC1, IWF1, "INVITE", "sip:dave@remote.example.org", call_id="d-1",
                           from_=ALICE, to="sip:dave@remote.example.org", cseq=1, transport="WSS",
                           headers=[("Contact", f"<{contact_of(WIC1)};ob>")])  # fmt: skip
        onward = w.forward(invite, PCSCF1, SCSCF, add=[("Record-Route", f"<{self.OWN}>")])
        rr = [("Record-Route", f"<{self.NEXT}>, <{self.OWN}>"), ("Contact", f"<{self.TARGET}>")]
        w.response(onward, 200, src=SCSCF, dst=PCSCF1, headers=rr)
        w.response(invite, 200, headers=rr)
        return w

    def bye(
        self,
        w: Wire,
        *,
        route: tuple[str, ...],
        to: tuple[str, int] | None = SCSCF,
        uri: str = TARGET,
        tag: str = "t1",
    ) -> None:
        lines = [
            f"BYE {uri} SIP/2.0",
            "Via: SIP/2.0/WSS w.invalid;branch=z9hG4bKbye",
            f"From: <{ALICE}>;tag=f1",
            f"To: <sip:dave@remote.example.org>;tag={tag}",
            "Call-ID: d-1",
            "CSeq: 2 BYE",
            f"Route: <{self.OWN}>, <{self.NEXT}>",
            "Content-Length: 0",
        ]
        bye = w.add(WIC1, IWF1, ("\r\n".join(lines) + "\r\n\r\n").encode(), "WSS")
        if to is None:
            w.response(bye, 403)
            return
        head = [line for line in lines if not line.startswith("Route:")]
        head.insert(1, f"Via: SIP/2.0/TCP {PCSCF1[0]}:{PCSCF1[1]};branch=z9hG4bKfwbye")
        if route:
            head.insert(-1, "Route: " + ", ".join(f"<{u}>" for u in route))
        w.add(PCSCF1, to, ("\r\n".join(head) + "\r\n\r\n").encode())

    def test_a_request_along_the_route_set_passes(self) -> None:
        w = self.session()
        self.bye(w, route=(self.NEXT,))
        finding = only(w, "ORIG_IN_DIALOG_ROUTE_SET")
        assert finding.verdict == "pass" and finding.leg == "ep-cscf1/sip -> s-cscf"

    def test_a_request_sent_around_the_s_cscf_is_a_deviation(self) -> None:
        """The blind fault of batch 5: the eP-CSCF follows the WIC's Route cut to its own entry."""
        w = self.session()
        self.bye(w, route=(), to=REMOTE)
        finding = only(w, "ORIG_IN_DIALOG_ROUTE_SET")
        assert finding.verdict == "deviation" and finding.choice == "PROFILE_SEC_IN_DIALOG_ROUTE_SET"
        assert f"not to {self.NEXT}, the route set's next hop" in finding.detail
        pics = {"PICS_PROFILE_SEC_IN_DIALOG_ROUTE_SET": "no"}
        assert only(w, "ORIG_IN_DIALOG_ROUTE_SET", pics=pics).verdict == "pass"

    def test_the_next_hop_written_otherwise_and_more_route_values_pass(self) -> None:
        """RFC 3261 19.1.4: parameters in another order, case; the profile's "next hop": what the
        WIC's Route names past it is not this rule's."""
        w = self.session()
        self.bye(w, route=("sip:127.0.0.1:5070;LR;Transport=TCP", "sip:more@127.0.0.1:5999;lr"))
        assert verdicts(w, "ORIG_IN_DIALOG_ROUTE_SET") == ["pass"]

    def test_a_request_in_the_second_forked_dialog_follows_its_own_route_set(self) -> None:
        """Two 2xx of two branches (RFC 3261 13.2.2.4): the BYE names the second by its To tag."""
        w = Wire()
        invite = w.request(WIC1, IWF1, "INVITE", "sip:dave@remote.example.org", call_id="d-1",
                           from_=ALICE, to="sip:dave@remote.example.org", cseq=1, transport="WSS",
                           headers=[("Contact", f"<{contact_of(WIC1)};ob>")])  # fmt: skip
        onward = w.forward(invite, PCSCF1, SCSCF, add=[("Record-Route", f"<{self.OWN}>")])
        first = [("Record-Route", f"<sip:other@127.0.0.1:5071;lr>, <{self.OWN}>"), ("Contact", "<sip:x@h>")]
        w.response(onward, 200, src=SCSCF, dst=PCSCF1, headers=first)  # To tag t1
        raw = w.messages[-1].raw.replace(b";tag=t1", b";tag=t2")
        raw = raw.replace(b"other@127.0.0.1:5071", b"127.0.0.1:5070;transport=tcp")
        w.add(SCSCF, PCSCF1, raw)
        self.bye(w, route=(self.NEXT,), tag="t2")
        assert verdicts(w, "ORIG_IN_DIALOG_ROUTE_SET") == ["pass"]

    def test_a_route_to_another_node_is_a_deviation(self) -> None:
        w = self.session()
        self.bye(w, route=("sip:127.0.0.1:5060;transport=tcp;lr",), to=ICSCF)
        assert verdicts(w, "ORIG_IN_DIALOG_ROUTE_SET") == ["deviation"]

    def test_a_refused_request_is_not_judged(self) -> None:
        w = self.session()
        self.bye(w, route=(), to=None)
        assert verdicts(w, "ORIG_IN_DIALOG_ROUTE_SET") == []

    def test_without_the_dialogs_set_up_it_is_inconclusive(self) -> None:
        w = Wire()
        self.bye(w, route=(self.NEXT,))
        assert verdicts(w, "ORIG_IN_DIALOG_ROUTE_SET") == ["inconclusive"]


class TestIcscfInDialogRoute:
    """TERM_ICSCF_IN_DIALOG_ROUTE (5.2.2.5.4; PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE): a request in a
    dialog a caller sends to the I-CSCF goes on with its Route, less only a value naming the I-CSCF."""

    SCSCF_RR = "sip:127.0.0.1:5070;transport=tcp;lr"
    EP_RR = "sip:flow1@127.0.0.1:5080;transport=tcp;lr"

    def bye(
        self, w: Wire, route: tuple[str, ...], *, onward: tuple[tuple[str, int], tuple[str, ...]] | None
    ) -> None:
        lines = [
            f"BYE {contact_of(WIC1)} SIP/2.0",
            "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKrbye",
            "From: <sip:dave@remote.example.org>;tag=r1",
            f"To: <{ALICE}>;tag=w1",
            "Call-ID: t-1",
            "CSeq: 2 BYE",
            "Route: " + ", ".join(f"<{u}>" for u in route),
            "Content-Length: 0",
        ]
        bye = w.add(REMOTE, ICSCF, ("\r\n".join(lines) + "\r\n\r\n").encode())
        if onward is None:
            w.response(bye, 403)
            return
        to, kept = onward
        head = [line for line in lines if not line.startswith("Route:")]
        head.insert(1, f"Via: SIP/2.0/TCP {ICSCF[0]}:{ICSCF[1]};branch=z9hG4bKibye")
        head.insert(-1, "Route: " + ", ".join(f"<{u}>" for u in kept))
        w.add(ICSCF, to, ("\r\n".join(head) + "\r\n\r\n").encode())

    def test_the_route_followed_passes(self) -> None:
        w = Wire()
        route = (self.SCSCF_RR, self.EP_RR)
        self.bye(w, route, onward=(SCSCF, route))
        finding = only(w, "TERM_ICSCF_IN_DIALOG_ROUTE")
        assert finding.verdict == "pass" and finding.leg == "i-cscf -> s-cscf"

    def test_only_the_icscfs_own_value_is_removed(self) -> None:
        w = Wire()
        kept = (self.SCSCF_RR, self.EP_RR)
        self.bye(w, ("sip:127.0.0.1:5060;lr", *kept), onward=(SCSCF, kept))
        assert verdicts(w, "TERM_ICSCF_IN_DIALOG_ROUTE") == ["pass"]

    def test_a_value_of_another_node_on_the_same_host_removed_is_a_deviation(self) -> None:
        """Blind batch 5's fault: the S-CSCF's value taken for the I-CSCF's own (same host)."""
        w = Wire()
        self.bye(w, (self.SCSCF_RR, self.EP_RR), onward=(PCSCF1, (self.EP_RR,)))
        finding = only(w, "TERM_ICSCF_IN_DIALOG_ROUTE")
        assert finding.verdict == "deviation" and finding.choice == "PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE"
        pics = {"PICS_PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE": "no"}
        assert only(w, "TERM_ICSCF_IN_DIALOG_ROUTE", pics=pics).verdict == "pass"

    def test_an_own_value_by_host_name_may_be_removed(self) -> None:
        """A first Route value by host name: the capture cannot tell whether it names the I-CSCF."""
        w = Wire()
        kept = (self.SCSCF_RR, self.EP_RR)
        self.bye(w, ("sip:icscf.ims.example.net;lr", *kept), onward=(SCSCF, kept))
        assert verdicts(w, "TERM_ICSCF_IN_DIALOG_ROUTE") == ["pass"]

    def test_a_refusal_is_a_deviation(self) -> None:
        w = Wire()
        self.bye(w, (self.SCSCF_RR, self.EP_RR), onward=None)
        finding = only(w, "TERM_ICSCF_IN_DIALOG_ROUTE")
        assert finding.verdict == "deviation" and "answered 403" in finding.detail

    def test_a_route_naming_only_the_icscf_is_not_judged(self) -> None:
        w = Wire()
        self.bye(w, ("sip:127.0.0.1:5060;lr",), onward=None)
        assert verdicts(w, "TERM_ICSCF_IN_DIALOG_ROUTE") == []


class TestTermination:
    """5.2.2.5.4 steps 1 to 5."""

    def test_w7_for_a_webrtc_domain_then_routed(self) -> None:
        w = Wire()
        w.termination()
        assert verdicts(w, "TERM_W7_WEBRTC") == ["pass"]
        assert verdicts(w, "TERM_REGISTERED_ROUTED") == ["pass"]

    def test_routed_without_w7_fails(self) -> None:
        w = Wire()
        w.termination(w7=False)
        finding = only(w, "TERM_W7_WEBRTC")
        assert finding.verdict == "fail" and finding.leg == "i-cscf -> s-cscf"

    def test_the_invite_to_a_wic_names_the_identity_it_registered(self) -> None:
        """PROFILE_TERM_PCPID (5.2.2.5.4 step 5 names no header): P-Called-Party-ID is the identity
        each WIC registered over its connection."""
        w = Wire()
        w.wic_registration(WIC1, IWF1, ALICE)
        w.wic_registration(WIC2, IWF1, ALICE, call_id="reg-2")
        w.termination()
        assert [f.verdict for f in findings(w, "TERM_CALLED_PARTY")] == ["pass"]

    @pytest.mark.parametrize("called_party", [None, "sip:wrtc-other@block1.ims.example.net"])
    def test_another_called_party_is_a_deviation_never_a_failure(self, called_party: str | None) -> None:
        w = Wire()
        w.wic_registration(WIC1, IWF1, ALICE)
        w.wic_registration(WIC2, IWF1, ALICE, call_id="reg-2")
        w.termination(called_party=called_party)
        deviations = findings(w, "TERM_CALLED_PARTY")
        assert [(f.verdict, f.choice) for f in deviations] == [("deviation", "PROFILE_TERM_PCPID")] * 2
        assert [f.leg.rsplit("@", 1)[1] for f in deviations] == [str(WIC1[1]), str(WIC2[1])]
        chosen_otherwise = {"PICS_PROFILE_TERM_PCPID": "no"}
        assert [f.verdict for f in findings(w, "TERM_CALLED_PARTY", pics=chosen_otherwise)] == ["pass"]

    MALLORY = "sip:wrtc-mallory@block1.ims.example.net"

    @pytest.mark.parametrize(
        ("relayed", "verdict"),
        [
            ((), "pass"),  # no assertion: the text asks for none
            ((("P-Asserted-Identity", f"<{ALICE}>"),), "pass"),  # the called identity
            ((("P-Asserted-Identity", "<sip:wrtc-bo@block1.ims.example.net>"),), "pass"),  # not the WIC's
            ((("P-Asserted-Identity", f"<{MALLORY}>"),), "fail"),  # the WIC's claim, relayed
            ((("P-Asserted-Identity", "<tel:+15550100>"),), "fail"),  # a tel URI the WIC wrote
        ],
    )
    def test_an_identity_the_wic_wrote_into_its_answer_is_never_asserted_into_the_core(
        self, relayed: tuple[tuple[str, str], ...], verdict: str
    ) -> None:
        """TERM_RESPONSE_ASSERTED (5.2.2.3.2, 5.2.2.5.4 step 5; RFC 3325 9.1): the WIC wrote a
        P-Asserted-Identity and a P-Preferred-Identity into its 180 and 200; the eP-CSCF's 200 to the
        S-CSCF fails only if it asserts one of them (and it is not the called identity)."""
        w = Wire()
        claims = [("P-Asserted-Identity", f"<{self.MALLORY}>"), ("P-Preferred-Identity", "<tel:+15550100>")]
        w.termination(contacts=(WIC1,), wic_answer=claims, relayed_answer=relayed)
        finding = only(w, "TERM_RESPONSE_ASSERTED")
        assert finding.verdict == verdict, finding.detail
        assert finding.leg.endswith("-> s-cscf")

    def test_a_wic_that_wrote_nothing_leaves_any_assertion_to_the_epcscf(self) -> None:
        w = Wire()
        w.termination(contacts=(WIC1,), relayed_answer=[("P-Asserted-Identity", f"<{self.MALLORY}>")])
        assert verdicts(w, "TERM_RESPONSE_ASSERTED") == ["pass"]

    def test_without_the_wics_registration_the_called_party_is_inconclusive(self) -> None:
        w = Wire()
        w.termination()
        assert {f.verdict for f in findings(w, "TERM_CALLED_PARTY")} == {"inconclusive"}

    def test_no_w7_for_another_domain(self) -> None:
        w = Wire()
        w.termination(call_id="t")
        w.ims_call()
        assert verdicts(w, "TERM_NO_W7_OTHER") == ["pass"]

    def test_no_registrar_message_at_all_proves_no_w7_only_in_a_complete_capture(self) -> None:
        """TP_WIMPU_TERM_002 has no W6/W7 message at all: an absence is a fact only when the capture
        holds every packet of the nodes since their start (``complete``, the suite's captures)."""
        w = Wire()
        w.ims_call()
        (unsure,) = findings(w, "TERM_NO_W7_OTHER")
        assert unsure.verdict == "inconclusive" and "not captured" in unsure.detail
        (sure,) = findings(w, "TERM_NO_W7_OTHER", complete=True)
        assert sure.verdict == "pass"

    def test_w7_for_another_domain_fails(self) -> None:
        w = Wire()
        w.ims_call(w7=True)
        assert verdicts(w, "TERM_NO_W7_OTHER") == ["fail"]

    @pytest.mark.parametrize("status", [480, 404])
    def test_an_unregistered_webrtc_user_is_rejected(self, status: int) -> None:
        w = Wire()
        w.termination(registered=False, reject=status)
        finding = only(w, "TERM_UNREGISTERED_REJECTED")
        assert finding.verdict == "pass" and finding.leg == "i-cscf -> remote"

    def test_another_rejection_code_is_a_profile_deviation(self) -> None:
        """The text: "the appropriate code"; 480/404 is the profile's choice."""
        w = Wire()
        w.termination(registered=False, reject=403)
        finding = only(w, "TERM_UNREGISTERED_REJECTED")
        assert finding.verdict == "deviation" and finding.choice == "PROFILE_TERM_REJECT_CODE"
        allowed = only(w, "TERM_UNREGISTERED_REJECTED", pics={"PICS_PROFILE_TERM_REJECT_CODE": "no"})
        assert allowed.verdict == "pass"

    def test_forwarding_an_unregistered_user_fails(self) -> None:
        w = Wire()
        w.termination(registered=False, forward_unregistered=True)
        finding = only(w, "TERM_UNREGISTERED_REJECTED")
        assert finding.verdict == "fail" and finding.leg == "i-cscf -> s-cscf"

    def test_rejecting_a_registered_user_fails(self) -> None:
        w = Wire()
        invite = w.request(REMOTE, ICSCF, "INVITE", ALICE, call_id="x", from_="sip:d@r.org", to=ALICE)
        w.http(
            ICSCF_HTTP,
            "GET",
            f"/w7/v1/registration-status?identity={ALICE}",
            200,
            answer={"registered": True},
        )
        w.response(invite, 480)
        assert verdicts(w, "TERM_REGISTERED_ROUTED") == ["fail"]

    def test_the_ep_cscf_reads_the_contacts_over_w6(self) -> None:
        w = Wire()
        w.termination()
        assert verdicts(w, "TERM_W6_CONTACTS") == ["pass"]

    def test_refusing_without_a_w6_read_on_the_wire_is_not_judged(self) -> None:
        """A registrar that never completes the TLS handshake of a new connection leaves no W6
        request on the wire: step 4 is at stake only before a delivery."""
        w = Wire()
        w.termination(w6=False, reached=())
        assert verdicts(w, "TERM_W6_CONTACTS") == []

    def test_delivering_without_a_w6_read_fails(self) -> None:
        w = Wire()
        w.termination(w6=False)
        finding = only(w, "TERM_W6_CONTACTS")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/wss -> WIC@40001"

    @pytest.mark.parametrize("status", [None, 503])
    def test_delivering_without_the_contacts_fetched_fails(self, status: int | None) -> None:
        """Step 4 "fetches the contact information" before step 5 delivers: a W6 read the
        registrar never answered (or refused) fetched nothing to deliver to."""
        w = Wire()
        w.termination(w6_status=status)
        finding = only(w, "TERM_W6_CONTACTS")
        assert finding.verdict == "fail" and "no contact information was fetched" in finding.detail
        assert finding.leg == "ep-cscf1/wss -> WIC@40001"

    def test_delivering_only_to_the_contacts_the_w6_answer_lists_passes(self) -> None:
        w = Wire()
        w.termination()
        assert verdicts(w, "TERM_ONLY_REGISTERED") == ["pass"]

    @pytest.mark.parametrize(
        ("listed", "status"),
        [
            ((WIC1,), 200),  # the other WIC de-registered before the read, or is another user's
            ((), 200),  # the entry has no contact left
            ((WIC1, WIC2), 404),  # the registrar has no entry for the IMPU
        ],
    )
    def test_delivering_to_a_wic_the_w6_answer_does_not_list_fails(
        self, listed: tuple[Endpoint, ...], status: int
    ) -> None:
        """Steps 4-5: the session goes to "the WIC associated with the individual IMPU", as the
        wIMPU Registrar gives its contacts when the session arrives, not to a WIC the eP-CSCF
        remembers."""
        w = Wire()
        w.termination(contacts=listed, reached=(WIC1, WIC2), w6_status=status)
        finding = only(w, "TERM_ONLY_REGISTERED")
        assert finding.verdict == "fail" and "WIC@40002" in finding.detail
        first = "WIC@40002" if listed == (WIC1,) else "WIC@40001"
        assert finding.leg == f"ep-cscf1/wss -> {first}"

    @pytest.mark.parametrize("status", [None, 503])
    def test_no_contact_fetched_asks_for_no_fork(self, status: int | None) -> None:
        """A registrar that never answered (or refused) the read gave the eP-CSCF no contact to
        fork to: answering without delivering breaks neither TERM_FORK_ALL nor step 4, and a
        delivery from what it remembers fails both TERM_W6_CONTACTS and TERM_ONLY_REGISTERED."""
        w = Wire()
        w.termination(w6_status=status, reached=())
        assert verdicts(w, "TERM_FORK_ALL") == []
        assert verdicts(w, "TERM_ONLY_REGISTERED") == verdicts(w, "TERM_W6_CONTACTS") == ["pass"]
        delivered = Wire()
        delivered.termination(w6_status=status)
        assert (
            verdicts(delivered, "TERM_ONLY_REGISTERED") == verdicts(delivered, "TERM_W6_CONTACTS") == ["fail"]
        )

    def test_forked_to_every_contact_the_w6_answer_lists(self) -> None:
        w = Wire()
        w.termination()
        finding = only(w, "TERM_FORK_ALL")
        assert finding.verdict == "pass" and "WIC@40001, WIC@40002" in finding.detail

    def test_a_contact_left_out_fails(self) -> None:
        w = Wire()
        w.termination(reached=(WIC1,))
        finding = only(w, "TERM_FORK_ALL")
        assert finding.verdict == "fail" and "1 of 2" in finding.detail

    def test_without_w6_the_registrations_in_the_capture_say_who(self) -> None:
        w = Wire()
        w.wic_registration(WIC1, call_id="r1")
        w.wic_registration(WIC2, call_id="r2")
        w.termination(w6=False, reached=(WIC1,))
        finding = only(w, "TERM_FORK_ALL")
        assert finding.verdict == "fail" and "c40002" in finding.detail

    @staticmethod
    def judged(w: Wire, rule_id: str, connections: list[TcpConnection]) -> list[Finding]:
        """The findings of ``rule_id`` with the decoder's TCP connections known, and the ends named
        (as ``verify`` judges)."""
        knowledge = Knowledge()
        knowledge.receive_connections(connections)
        flows = group(w.messages, ends(), knowledge)
        ctx = Context(BLOCKS, knowledge, None, ends())
        return [f for flow in flows for f in check(flow, ctx, [rule_id])]

    @staticmethod
    def arrival(w: Wire) -> float:
        """Capture time of the terminating INVITE at the eP-CSCF."""
        return next(m.time for m in w.messages if m.src == SCSCF and m.dst == PCSCF1)

    @pytest.mark.parametrize("closed", ["before", "after", None])
    def test_a_contact_whose_websocket_had_closed_is_not_asked_for(self, closed: str | None) -> None:
        """The W6 answer still lists a contact whose WebSocket closed before the session arrived (the
        profile lets the eP-CSCF keep it, PICS_PROFILE_LIFE_CLOSE_REMOVES = no): nothing can reach
        that WIC over it (RFC 7118 5), so leaving it out is no FAIL. A WebSocket closing after the
        session arrived, or still open, is still owed its INVITE. Found on Kamailio once the
        preflight's connections were readable: an opaque one had turned this FAIL into INCONCLUSIVE."""
        w = Wire()
        w.wic_registration(WIC1, call_id="r1")
        w.wic_registration(WIC2, call_id="r2")
        registered = w.time
        w.termination(reached=(WIC1,))
        at = {"before": self.arrival(w) - 0.0005, "after": self.arrival(w) + 0.0005, None: None}[closed]
        websocket = TcpConnection(WIC2, IWF1, registered - 1, 1, client_data=registered - 1, closed=at)
        (finding,) = self.judged(w, "TERM_FORK_ALL", [websocket])
        if closed == "before":
            assert (
                finding.verdict == "pass"
                and "whose WebSocket (the connection of frame 1) had closed" in finding.detail
            )
        else:
            assert finding.verdict == "fail" and "1 of 2" in finding.detail

    @pytest.mark.parametrize("answered", [False, True])
    def test_a_registrar_that_answered_not_a_byte_gave_no_contact(self, answered: bool) -> None:
        """No W6 request on the wire because the registrar did not even complete the TLS handshake
        of a connection opened while the eP-CSCF held the session (Kamailio's W6 client opens one per
        read): it fetched no contact, so answering without delivering is no FAIL, and delivering
        anyway breaks TERM_ONLY_REGISTERED. A registrar that answered on that connection says nothing
        of the kind: the registrations in the capture say who is owed the INVITE."""
        w = Wire()
        w.wic_registration(WIC1, call_id="r1")
        w.wic_registration(WIC2, call_id="r2")
        w.termination(w6=False, reached=())
        opened = self.arrival(w) + 0.0001
        read = TcpConnection(
            EP1_HTTP, REGISTRAR, opened, 9, client_data=opened, server_data=opened if answered else None
        )
        fork = self.judged(w, "TERM_FORK_ALL", [read])
        if answered:
            assert [f.verdict for f in fork] == ["fail"]
        else:
            assert fork == []
            delivered = Wire()
            delivered.wic_registration(WIC1, call_id="r1")
            delivered.termination(w6=False, contacts=(WIC1,))
            opened = self.arrival(delivered) + 0.0001
            read = TcpConnection(EP1_HTTP, REGISTRAR, opened, 9, client_data=opened)
            assert [f.verdict for f in self.judged(delivered, "TERM_ONLY_REGISTERED", [read])] == ["fail"]

    def test_without_w6_or_registrations_it_is_inconclusive(self) -> None:
        w = Wire()
        w.termination(w6=False)
        assert verdicts(w, "TERM_FORK_ALL") == ["inconclusive"]

    def test_the_first_2xx_wins_the_others_are_cancelled(self) -> None:
        w = Wire()
        w.termination()
        finding = only(w, "TERM_FORK_CANCEL")
        assert finding.verdict == "pass" and finding.leg == "WIC@40002 -> ep-cscf1/wss"

    def test_a_branch_left_ringing_fails(self) -> None:
        w = Wire()
        w.termination(cancel=False)
        finding = only(w, "TERM_FORK_CANCEL")
        assert finding.verdict == "fail" and finding.leg == "ep-cscf1/wss -> WIC@40001"

    def test_a_cancel_without_reason_is_a_profile_deviation(self) -> None:
        """Cancelling is the text's (RFC 3261 16.7 step 10); the Reason header the profile's."""
        w = Wire()
        w.termination(reason=False)
        finding = only(w, "TERM_FORK_CANCEL")
        assert finding.verdict == "deviation" and "Reason" in finding.detail
        assert finding.choice == "PROFILE_FORK_CANCEL_REASON"
        allowed = only(w, "TERM_FORK_CANCEL", pics={"PICS_PROFILE_FORK_CANCEL_REASON": "no"})
        assert allowed.verdict == "pass"

    def test_a_branch_left_ringing_fails_whatever_the_reason_header(self) -> None:
        w = Wire()
        w.termination(cancel=False, reason=False)
        assert only(w, "TERM_FORK_CANCEL", pics={"PICS_PROFILE_FORK_CANCEL_REASON": "no"}).verdict == "fail"

    def test_option_b_termination(self) -> None:
        w = Wire()
        w.wic_registration(WIC2, IWF2, BOB, impu=BOB_IMPU)
        w.termination(BOB, impu=BOB_IMPU, contacts=(WIC2,))
        for rule_id in ("TERM_W7_WEBRTC", "TERM_W6_CONTACTS", "TERM_FORK_ALL"):
            assert verdicts(w, rule_id) == ["pass"], rule_id
        assert "pass" in verdicts(w, "OPTB_IMPU_HIDDEN")
        assert PCSCF2 and IWF2


def test_rules_that_do_not_apply_say_nothing() -> None:
    w = Wire()
    w.block_registration()
    knowledge = Knowledge()
    (flow,) = group(w.messages, ends(), knowledge)
    ids = {f.rule_id for f in check(flow, Context(BLOCKS, knowledge))}
    assert ids == {"BLK_PATH", "BLK_CHALLENGE", "BLK_FROM_ITS_EP_CSCF", "BLK_SINGLE"}
