"""Step vocabulary of WIC registration (TR 23.701 5.2.2.5.2) and its security checks."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

import pytest
from pytest_bdd import given, parsers, then, when

from conformance.harness import expect
from conformance.harness.dialects import Carriage, by_client
from conformance.harness.errors import HarnessError, premise
from conformance.harness.profile import CHOICE_STEP, ProfileChecks
from conformance.harness.sut import Unobservable
from conformance.harness.world import World
from conformance.pixit import REFERENCE_PIXIT, load_pixit
from steps.common import judged_by, pixit_of

WIC = r'WIC "(?P<wic>[^"]+)"'
USER = r"(?P<user>\w+)"
QUOTED = r'"(?P<{}>[^"]+)"'

TOKEN_VARIANTS = {
    "a copy of its token signed by another key": "another key",
    "an unsigned copy of its token": "unsigned",
    "a token the WWSF issued for another eP-CSCF": "another eP-CSCF",
    "a copy of its token valid only ten minutes from now": "not yet valid",
}
CARRIAGES: dict[str, Carriage] = {
    "in an Authorization Bearer header field": "header",
    "in an Authorization Bearer header field in TS 24.371's access_token form": "header-24371",
    "as an application/jwt body part": "body",
}


def _one_of(name: str, phrases: Iterable[str]) -> str:
    return f"(?P<{name}>{'|'.join(re.escape(p) for p in phrases)})"


# ----- step 1: the WWSF -----------------------------------------------------------------


@given(parsers.re(rf"the browser of {USER} has downloaded the WIC from the WWSF over HTTPS"))
def wic_downloaded(world: World, user: str) -> None:
    expect.wic_page(*world.download_wic(user))


@given(parsers.re(rf"{USER} has logged in at the WWSF and received a security token"))
def logged_in(world: World, user: str) -> None:
    world.login(user)


@when(parsers.re(rf"{USER} tries to log in at the WWSF with a wrong password"))
def login_with_wrong_password(world: World, user: str) -> None:
    """5.2.2.5.2 step 1, invalid behaviour: the user's name with a password that is not theirs."""
    world.try_login(world.user(user).username, f"wrong-{secrets.token_hex(8)}")


@when("someone tries to log in at the WWSF with a user name the WWSF does not know")
def login_as_nobody(world: World) -> None:
    """5.2.2.5.2 step 1, invalid behaviour: a user name no user of the PIXIT has."""
    world.try_login(f"nobody-{secrets.token_hex(8)}", f"wrong-{secrets.token_hex(8)}")


@when(parsers.re(rf"{USER} logs in at the WWSF with the right password"))
def login_with_right_password(world: World, user: str) -> None:
    """5.2.2.5.2 step 1, valid behaviour: the user's own name and password (PIXIT), the answer kept
    as it came."""
    spec = world.user(user)
    world.try_login(spec.username, spec.password)


@when(parsers.re(rf"{USER} logs in at the WWSF with the right password (?P<times>\d+) times in a row"))
def login_again_and_again(world: World, user: str, times: str) -> None:
    """5.2.2.5.2 step 1, valid behaviour again and again: the user's own name and password (PIXIT),
    each log-in on a connection of its own, as several WICs or a token refreshed make it."""
    spec = world.user(user)
    world.try_logins(
        spec.username, [spec.password] * int(times), until=lambda status: not 200 <= status < 300
    )


@when(
    parsers.re(
        r"someone tries (?P<times>\d+) passwords in a row at the WWSF from one address, for a user name "
        r"the WWSF does not know"
    )
)
def guess_passwords(world: World, times: str) -> None:
    """5.2.2.5.2 step 1, invalid behaviour again and again: one made-up user name (no account of the
    PIXIT, so no later scenario meets an account this one locked), a different wrong password each
    time, from the tester's one address, each on a connection of its own, until the WWSF answers
    anything but a refusal of the credentials (a 429 above all)."""
    username = f"nobody-{secrets.token_hex(8)}"
    guesses = [f"guess-{secrets.token_hex(8)}" for _ in range(int(times))]
    world.try_logins(username, guesses, until=lambda status: not (400 <= status < 500 and status != 429))


@then("the WWSF accepts the first log-in and refuses none of them as a failed authentication")
def logins_accepted(world: World, profile: ProfileChecks) -> None:
    """5.2.2.5.2 step 1: "Upon successful authentication, the WWSF issues a security token for the
    user": the right password is never refused as a failed authentication (the text leaves a refusal
    for the rate of log-ins to the WWSF's procedure); that each 2xx carries the token, and each
    refusal none, over TLS, is judged on the wire (``WWSF_LOGIN``)."""
    expect.logins_accepted_or_throttled([a.status for a in world.outcome.logins])
    judged_by(world, profile, ["WWSF_LOGIN"], session=False)


@then(parsers.re(rf"no log-in is refused for the successful ones before it, {CHOICE_STEP}"))
def logins_not_throttled(world: World, profile: ProfileChecks, choice: str) -> None:
    """5.2.2.5.2 step 1 with the solution profile's throttle (PROFILE_WWSF_THROTTLE_FAILURES): judged
    on the wire by ``WWSF_THROTTLE_FAILURES``, a profile check."""
    judged_by(world, profile, ["WWSF_THROTTLE_FAILURES"], choice, session=False)


@then("the WWSF refuses every guess")
def guesses_refused(world: World, profile: ProfileChecks) -> None:
    """5.2.2.5.2 step 1: "Upon successful authentication, the WWSF issues a security token": no guess
    of a wrong password is accepted (no 2xx); that no refusal carries a token, over TLS, is judged on
    the wire (``WWSF_LOGIN``)."""
    answers = world.outcome.logins
    if not answers:
        raise HarnessError("no log-in was tried")
    for answer in answers:
        expect.login_refused(answer.status)
    judged_by(world, profile, ["WWSF_LOGIN"], session=False)


@then(parsers.re(rf"the guessing is slowed to twenty failed guesses a minute, {CHOICE_STEP}"))
def guessing_slowed(world: World, profile: ProfileChecks, choice: str) -> None:
    """5.2.2.5.2 step 1 with the solution profile's throttle (PROFILE_WWSF_THROTTLE_GUESSING): judged on
    the wire by ``WWSF_THROTTLE_GUESSING``, a profile check. The rule judges a guess sent after a
    failed one (a 401 or 403): when the WWSF answered the first guess otherwise (a 429 of a throttle an
    earlier scenario spent, a 5xx, a 400) or nothing after it, there is none to judge: inconclusive."""
    answers = world.outcome.logins
    failed = (401, 403)
    after = [a.status for a in answers[1:]]
    if (
        not answers
        or answers[0].status not in failed
        or not any(s in failed or s == 429 or 200 <= s < 300 for s in after)
    ):
        said = ", ".join(str(a.status) for a in answers[:3]) + (", ..." if len(answers) > 3 else "")
        raise Unobservable(
            f"the WWSF answered the guesses {said or 'nothing'}: no guess came after a refusal of the "
            "credentials (401 or 403) with an answer the profile's throttle judges"
        )
    judged_by(world, profile, ["WWSF_THROTTLE_GUESSING"], choice, session=False)


@then("the WWSF accepts the log-in and issues a security token")
def login_accepted(world: World, profile: ProfileChecks) -> None:
    """5.2.2.5.2 step 1: "Upon successful authentication, the WWSF issues a security token for the
    user": the answer is a 2xx; that it carries the token, over TLS, is judged on the wire
    (``WWSF_LOGIN``)."""
    answer = world.outcome.login
    if answer is None:
        raise HarnessError("no log-in was tried")
    expect.login_accepted(answer.status)
    judged_by(world, profile, ["WWSF_LOGIN"], session=False)


@then(
    parsers.re(
        rf"the token's time claims are seconds since the epoch and agree with the lifetime the log-in answer "
        rf"gives, {CHOICE_STEP}"
    )
)
def token_times(world: World, profile: ProfileChecks, choice: str) -> None:
    """5.2.2.5.2 step 1 with the solution profile's token (PROFILE_WWSF_TOKEN_TIMES): judged on the
    wire by ``WWSF_TOKEN_TIMES``, a profile check."""
    judged_by(world, profile, ["WWSF_TOKEN_TIMES"], choice, session=False)


@then("the WWSF refuses the log-in")
def login_refused(world: World) -> None:
    answer = world.outcome.login
    if answer is None:
        raise HarnessError("no log-in was tried")
    expect.login_refused(answer.status)


@given(
    parsers.re(
        rf"the WWSF has issued {USER} a security token for {QUOTED.format('identity')} "
        rf"to the eP-CSCF of block {QUOTED.format('wimpu')}"
    )
)
def token_issued(world: World, user: str, identity: str, wimpu: str) -> None:
    world.token_issued_for(user, identity, wimpu)


@given(parsers.re(rf"the security token of {USER} has expired"))
def token_expired(world: World, user: str) -> None:
    world.expire_token(user)


@given(
    parsers.re(rf"the security token of {USER} has (?P<seconds>\d+) seconds left"),
    converters={"seconds": int},
)
def token_runs_down(world: World, user: str, seconds: int) -> None:
    world.let_token_run_down(user, seconds)


# ----- the WIC's client family (conformance/harness/dialects.py, docs/dialects.md) ------------


@given(parsers.re(rf"{WIC} of {USER} speaks SIP as (?P<client>.+) does"))
def wic_speaks(world: World, wic: str, user: str, client: str) -> None:
    """The WIC writes its REGISTER, INVITE, in-dialog requests and answers as ``client`` does
    (JsSIP 3.13, SIP.js 0.21, a sipML5-like client); without this step, in the suite's shape."""
    world.speak(wic, by_client(client))


# ----- step 2: the WSS connection -------------------------------------------------------


@given(parsers.re(rf"{WIC} of {USER} has opened a WSS connection to the eP-CSCF of its block"))
def wic_connected(world: World, wic: str, user: str) -> None:
    world.connect(wic, user)
    expect.handshake_accepted(world.outcome)


@when(
    parsers.re(
        rf"{WIC} of {USER} opens a WSS connection to the eP-CSCF of its block "
        rf"from origin {QUOTED.format('origin')}"
    )
)
def wic_connects_from(world: World, wic: str, user: str, origin: str) -> None:
    world.connect(wic, user, origin=origin)


@when(
    parsers.re(
        rf"{WIC} of {USER} opens a WSS connection to the eP-CSCF of its block "
        rf"from the WWSF's origin followed by {QUOTED.format('suffix')}"
    )
)
def wic_connects_from_lookalike(world: World, wic: str, user: str, suffix: str) -> None:
    """5.2.2.5.2 step 2: an origin that only begins like the WWSF's is another origin (RFC 6454
    4: scheme, host and port compare whole)."""
    world.connect(wic, user, origin=world.sut.wwsf_origin + suffix)


@when(
    parsers.re(
        rf"{WIC} of {USER} opens a WSS connection to the eP-CSCF of its block offering "
        r"(?:no subprotocol|only the subprotocol \"(?P<offer>[^\"]+)\")"
    )
)
def wic_connects_offering(world: World, wic: str, user: str, offer: str | None) -> None:
    """5.2.2.5.2 step 2, invalid behaviour: a handshake from the WWSF's page that does not offer the
    ``sip`` subprotocol RFC 7118 4.1 has every SIP client offer (a page's ``new WebSocket(url)``
    with no protocols, or another application's)."""
    world.connect(wic, user, subprotocols=(offer,) if offer else ())


@then(parsers.re(rf"the eP-CSCF refuses the WebSocket handshake, {CHOICE_STEP}"))
def handshake_refused_as_profiled(world: World, profile: ProfileChecks, choice: str) -> None:
    """A handshake the text does not say to refuse, refused by the solution profile's choice: judged on
    the wire by ``WSS_SUBPROTOCOL`` on the scenario's own handshake (a subprotocol the WIC did not offer
    is a FAIL of RFC 6455 4.2.2, an accepted WebSocket without ``sip`` the choice's deviation). A
    connection closed with no HTTP answer is refused too (the profile leaves the code open), with no
    answer on the wire for the rule to judge."""
    refused = world.outcome.refused
    if refused is not None and refused.status is None:
        return
    judged_by(world, profile, ["WSS_SUBPROTOCOL"], choice, since=world.connected_at)


# ----- step 3: REGISTER ------------------------------------------------------------------


@given(parsers.re(rf"{WIC} has registered with the identity and the token of {USER}"))
def wic_has_registered(world: World, wic: str, user: str) -> None:
    expect.status(world.register(wic, user), 200)
    world.remember_impu(user)


@given(
    parsers.re(
        rf"{WIC} has registered for (?P<seconds>\d+) seconds with the identity and the token of {USER}"
    ),
    converters={"seconds": int},
)
def wic_has_registered_for(world: World, wic: str, seconds: int, user: str) -> None:
    expect.status(world.register(wic, user, expires=seconds), 200)
    world.remember_impu(user)


@given(
    parsers.re(rf"the eP-CSCF has granted {WIC} at least (?P<seconds>\d+) seconds"),
    converters={"seconds": int},
)
def granted_at_least(world: World, wic: str, seconds: int) -> None:
    """A premise of a scenario that needs the WIC's registration to last ``seconds``: RFC 3261 10.3
    step 7 lets a registrar grant less than a WIC asks, so a SUT that did makes the scenario
    inconclusive, with the interval it granted, never failed."""
    try:
        granted = expect.granted_seconds(world.outcome.response, world.contact_uri(wic))
    except AssertionError as exc:  # the registration purposes judge the 200 OK itself
        raise Unobservable(f"the interval granted to WIC {wic!r} cannot be read: {exc}") from None
    if granted < seconds:
        raise Unobservable(f"the SUT granted WIC {wic!r} {granted} s, and the scenario needs {seconds} s")


@when(
    parsers.re(rf"{WIC} registers for (?P<seconds>\d+) seconds with the identity and the token of {USER}"),
    converters={"seconds": int},
)
def wic_registers_for(world: World, wic: str, seconds: int, user: str) -> None:
    world.register(wic, user, expires=seconds)


def min_expires(request: pytest.FixtureRequest) -> int:
    """``[timing] min_expires`` of the SUT's PIXIT (the reference PIXIT's without --sut)."""
    return (pixit_of(request) or load_pixit(REFERENCE_PIXIT)).min_expires


@when(
    parsers.re(
        rf"{WIC} registers for the minimum registration interval of the PIXIT with the identity and the "
        rf"token of {USER}"
    )
)
def wic_registers_for_minimum(world: World, wic: str, user: str, request: pytest.FixtureRequest) -> None:
    world.register(wic, user, expires=min_expires(request))


GRANTED_MIN = (
    rf"the 200 OK lists the contact of {WIC} with an interval of at most the minimum registration interval"
)


@then(parsers.re(GRANTED_MIN))
def ok_lists_contact_minimum(world: World, wic: str, request: pytest.FixtureRequest) -> None:
    """RFC 3261 10.3 steps 7-8: accepted at the minimum, granted no more than asked."""
    expect.granted_interval(world.outcome.response, world.contact_uri(wic), min_expires(request))


GRANTED = rf"the 200 OK lists the contact of {WIC} with an interval of at most (?P<seconds>\d+) seconds"


@given(
    parsers.re(
        rf"the eP-CSCF granted {WIC} more than (?P<longer>\d+) seconds, and its minimum registration "
        r"interval is at most (?P<shorter>\d+) seconds"
    ),
    converters={"longer": int, "shorter": int},
)
def granted_long_enough(
    world: World, request: pytest.FixtureRequest, wic: str, longer: int, shorter: int
) -> None:
    """The initial condition of a refresh that shortens the registration (TP_WIMPU_LIFE_012): the
    interval the 200 OK granted the WIC's contact (RFC 3261 10.3 step 8; the registrar may grant less
    than asked) must outlast the moment the scenario looks, and the shorter refresh must not be too
    brief for the SUT (its PIXIT's ``min_expires``; 423 would be its right, RFC 3261 10.3 step 7).
    Otherwise the scenario could not tell a refresh that shortens from one that does not:
    inconclusive, not a verdict on the SUT."""
    response = world.outcome.response
    expect.status(response, 200)
    assert response is not None
    mine = [c for c in response.contacts if c.uri == world.contact_uri(wic)] or response.contacts[:1]
    value = (mine[0].param("expires") if mine else None) or response.get("Expires") or ""
    if not value.strip().isdigit() or int(value) <= longer:
        granted = value or "no interval"
        raise Unobservable(f"the eP-CSCF granted WIC {wic} {granted}, not more than {longer} s")
    if min_expires(request) > shorter:
        raise Unobservable(f"the PIXIT's min_expires is {min_expires(request)} s, more than {shorter} s")


@then(parsers.re(GRANTED), converters={"seconds": int})
def ok_lists_contact_interval(world: World, wic: str, seconds: int) -> None:
    """5.2.2.5.2 step 7 with RFC 3261 10.3 step 8 and 10.2.4: the WIC's own binding, with an
    "expires" no longer than the interval asked for."""
    expect.granted_interval(world.outcome.response, world.contact_uri(wic), seconds)


@given(parsers.re(rf"{USER} has registered from (?P<count>\d+) WICs"), converters={"count": int})
def user_has_registered_from(world: World, user: str, count: int) -> None:
    expect.all_status(world.register_wics(user, count), 200, f"the REGISTERs of the WICs of {user}")


@given(
    parsers.re(
        rf"{USER} has registered from (?P<count>\d+) WICs speaking SIP as (?P<clients>.+?), "
        r"one each, in that order"
    ),
    converters={"count": int},
)
def user_has_registered_from_clients(world: World, user: str, count: int, clients: str) -> None:
    """WIC 1 ... ``count`` of ``user`` each write their messages as the client named in its place
    (``JsSIP 3.13, SIP.js 0.21 and a sipML5-like client``), then connect and register."""
    names = [c.strip() for c in re.split(r",| and ", clients) if c.strip()]
    premise(len(names) == count, f"{count} WICs, {len(names)} clients named: {names}")
    for number, client in enumerate(names, start=1):
        world.speak(world.wic_number(user, number), by_client(client))
    expect.all_status(world.register_wics(user, count), 200, f"the REGISTERs of the WICs of {user}")


@when(
    parsers.re(
        rf"(?P<count>\d+) WICs of {USER} register with the identity and the token of that user "
        r"at the same moment"
    ),
    converters={"count": int},
)
def wics_register_at_once(world: World, user: str, count: int) -> None:
    """5.2.2.5.2 step 3 from several WICs at once: each REGISTER is sent before any is answered."""
    world.register_wics_at_once(user, count)


@then(parsers.re(rf"the eP-CSCF answers 200 to each of those WICs of {USER}"))
def answers_every_wic(world: World, user: str) -> None:
    """5.2.2.5.2 step 7 for each WIC that registered at the same moment: its REGISTER's final response."""
    premise(world.registrations_at_once, "no WICs registered at the same moment in this scenario")
    expect.all_status(world.registrations_at_once, 200, f"the REGISTERs of the WICs of {user}")


@when(parsers.re(rf"{USER} logs in at the WWSF and {WIC} of that user registers with its identity and token"))
def logs_in_and_registers(world: World, user: str, wic: str) -> None:
    """5.2.2.5.2 steps 1-3 at a moment of the scenario (not in its preamble): the user logs in,
    the WIC opens its WSS connection to the eP-CSCF of the block and registers; the eP-CSCF's
    answer is the outcome."""
    world.login(user)
    world.connect(wic, user)
    expect.handshake_accepted(world.outcome)
    world.register(wic, user)


@when(parsers.re(rf"{WIC} registers with the identity and the token of {USER}"))
def wic_registers(world: World, wic: str, user: str) -> None:
    world.register(wic, user)


@when(
    parsers.re(
        rf"{WIC} registers with the identity and the token of {USER} and waits until its transaction "
        r"times out"
    )
)
def wic_registers_until_timer_f(world: World, wic: str, user: str) -> None:
    """The WIC waits for the final response as long as its transaction lives (RFC 3261 17.1.2.2,
    Timer F); TR 23.701 5.2.2.5.2 steps 5-7."""
    world.register_until_timer_f(wic, user)


@given("the wIMPU Registrar has stopped answering")
def registrar_stalled(world: World) -> None:
    """Fault injection: the registrar accepts connections and requests and answers none."""
    world.stall_registrar()


@when("the wIMPU Registrar answers again")
def registrar_resumed(world: World) -> None:
    world.resume_registrar()


@then("the eP-CSCF does not accept the registration before the WIC's transaction times out")
def registration_not_accepted_before_timer_f(world: World) -> None:
    """TR 23.701 5.2.2.5.2 steps 6-7: the OK follows the storing of the registration information in
    the wIMPU Registrar; no 2xx while the registrar has stored nothing. No final response at all
    within Timer F is not one either (whether the eP-CSCF answers is the profile's check)."""
    expect.not_accepted_if_answered(world.outcome.response)


@when(
    parsers.re(
        rf"{WIC} registers with the identity and the token of {USER}, "
        rf"the token {_one_of('carriage', CARRIAGES)}"
    )
)
def wic_registers_token_carried(world: World, wic: str, user: str, carriage: str) -> None:
    world.register(wic, user, carriage=CARRIAGES[carriage])


@when(parsers.re(rf"{WIC} registers with the identity of {USER} and no token"))
def wic_registers_without_token(world: World, wic: str, user: str) -> None:
    world.register(wic, user, with_token=False)


@when(parsers.re(rf"{WIC} registers with the identity of {USER} and {_one_of('variant', TOKEN_VARIANTS)}"))
def wic_registers_with_forged_token(world: World, wic: str, user: str, variant: str) -> None:
    world.register(wic, user, token=world.forged_token(user, TOKEN_VARIANTS[variant]))


@when(parsers.re(rf"{WIC} registers as {QUOTED.format('identity')} with the token of {USER}"))
def wic_registers_as(world: World, wic: str, identity: str, user: str) -> None:
    world.register(wic, user, identity=identity)


@when(
    parsers.re(
        rf"{WIC} registers as {QUOTED.format('identity')} with the identity of {USER} in From "
        rf"and the token of that user"
    )
)
def wic_registers_as_from(world: World, wic: str, identity: str, user: str) -> None:
    """5.2.2.5.2 step 4: the token is validated "in relation to the user identity", the one
    registered: To (RFC 3261 10.2), whatever From says."""
    world.register(wic, user, identity=identity, from_identity=world.identity_of(user))


@when(parsers.re(rf"{WIC} de-registers"))
def wic_deregisters(world: World, wic: str) -> None:
    world.register(wic, world.user_of(wic), expires=0)


@when(parsers.re(rf'{WIC} de-registers the contact of WIC "(?P<owner>[^"]+)"'))
def wic_deregisters_contact_of(world: World, wic: str, owner: str) -> None:
    """A de-registration of WIC ``owner``'s contact (its Contact, ``+sip.instance``, ``reg-id`` and
    Call-ID, Expires 0) sent over WIC ``wic``'s own WebSocket, in ``wic``'s dialect (SIP.js's carries
    no token)."""
    world.wics[wic].take_contact_of(world.wics[owner])
    world.register(wic, world.user_of(wic), expires=0)


@when(parsers.re(rf"WIC (?P<number>\d+) of {USER} de-registers"))
def numbered_wic_deregisters(world: World, number: str, user: str) -> None:
    """5.2.2.3.2: the WIC removes its own contact (Expires: 0), over its own flow."""
    world.register(world.wic_number(user, int(number)), user, expires=0)


@when(
    parsers.re(
        rf"WIC (?P<number>\d+) of {USER} de-registers every contact of its user with Contact: \* and "
        r"(?P<token>its token|no token)"
    )
)
def numbered_wic_deregisters_every_contact(world: World, number: str, user: str, token: str) -> None:
    """TR 23.701 5.2.2.3.1 (an entry is removed upon de-registration) and 5.2.2.5.2 steps 3-4 (the
    REGISTER carries the token), with RFC 3261 10.2.2: ``Contact: *`` with ``Expires: 0`` removes
    every binding of the address-of-record, those the user's other WICs registered too; sent over WIC
    ``number``'s own flow. What went out is checked first: the wildcard, and the token or none."""
    wic = world.wic_number(user, int(number))
    world.deregister_every_contact(wic, user, with_token=token == "its token")
    sent = world.wics[wic].sent_requests("REGISTER")[-1]
    premise(b"\r\nContact: *\r\n" in sent, f"WIC {wic} was to send Contact: *")
    carries = b"\r\nAuthorization: Bearer " in sent or b"application/jwt" in sent
    premise(carries == (token == "its token"), f"WIC {wic} was to send {token}")


@given(parsers.re(rf"{WIC} has de-registered"))
def wic_has_deregistered(world: World, wic: str) -> None:
    expect.status(world.register(wic, world.user_of(wic), expires=0), 200)


@when(
    parsers.re(
        rf'{WIC} registers the contact of WIC "(?P<owner>[^"]+)" with the identity and the token of {USER}'
    )
)
def wic_registers_contact_of(world: World, wic: str, owner: str, user: str) -> None:
    """A refresh of WIC ``owner``'s registration (same Contact, +sip.instance, reg-id, Call-ID)
    arriving over the WebSocket of WIC ``wic`` (RFC 5626 6)."""
    world.register_contact_of(wic, owner, user)


@when(
    parsers.re(
        rf'{WIC} registers as the instance of WIC "(?P<owner>[^"]+)" with its own Contact URI, with the '
        rf"identity and the token of {USER}"
    )
)
def wic_registers_instance_of(world: World, wic: str, owner: str, user: str) -> None:
    """Step 6 with RFC 5626 4.2 and 6: the contact is the instance and reg-id, not the URI."""
    world.register_instance_of(wic, owner, user)


# ----- what the eP-CSCF answered and what the registrar holds ---------------------------


@when(parsers.re(rf"WIC (?P<number>\d+) of {USER} closes its WebSocket"))
def numbered_wic_closes(world: World, number: str, user: str) -> None:
    """The WIC's WebSocket closes (a page closed, a network lost), with no de-registration."""
    world.close_wic(world.wic_number(user, int(number)))


@then(parsers.re(rf"the wIMPU Registrar drops the contact of WIC (?P<number>\d+) of {USER}, {CHOICE_STEP}"))
def closed_contact_dropped(world: World, profile: ProfileChecks, number: str, user: str, choice: str) -> None:
    """The solution profile (Lifecycle): the eP-CSCF removes a closed WebSocket's contacts at
    once; RFC 5626 lets a registrar keep them until they expire (a profile check)."""
    uri = world.contact_uri(world.wic_number(user, int(number)))
    profile.check(choice, lambda: world.wait_contact_gone(user, uri))


@then(parsers.re(rf"the wIMPU Registrar holds no contact of {WIC}"))
def registrar_holds_no_contact_of(world: World, wic: str) -> None:
    """5.2.2.5.2 step 6 did not happen for this WIC: its Contact is in no entry of its user (read
    over W6), whatever the user's other WICs hold."""
    assert not world.registrar_holds_contact_of(wic), (
        f"the wIMPU Registrar holds the contact {world.contact_uri(wic)} of WIC {wic}"
    )


@then(parsers.re(rf"the wIMPU Registrar holds a registration for {USER} with (?P<count>\d+) contacts?"))
def registrar_holds(world: World, user: str, count: str) -> None:
    expect.live_contacts(world.registration_of(user), int(count), f"the registration of {user}")


@then(parsers.re(rf"the eP-CSCF accepts the de-registration {WIC} sent without a token, {CHOICE_STEP}"))
def deregistration_without_token_accepted(
    world: World, profile: ProfileChecks, wic: str, choice: str
) -> None:
    """5.2.2.3.2 authorises the WIC "at WIC registration"; accepting a de-registration without the
    token over the WebSocket a valid token authorised is the solution profile's ("De-registration
    without a token"). That the WIC sent none is the harness's premise, checked first."""
    sent = world.wics[wic].sent_requests("REGISTER")[-1]
    premise(
        b"\r\nAuthorization:" not in sent and b"application/jwt" not in sent,
        f"WIC {wic} was to de-register without a token, and sent one",
    )
    profile.check(choice, lambda: expect.status(world.outcome.response, 200))


@then(
    parsers.re(
        rf"the wIMPU Registrar holds no registration for {USER} if the eP-CSCF accepted the "
        rf"de-registration, else still the contact of {WIC}"
    )
)
def registrar_follows_the_answer(world: World, user: str, wic: str) -> None:
    """5.2.2.3.1: an entry is removed upon de-registration. A de-registration the eP-CSCF refused
    (the profile's choice, judged by the step before) is none: it must leave the WIC's contact."""
    response = world.outcome.response
    entry = world.registration_of(user)
    if response is not None and 200 <= response.status < 300:
        expect.no_entry(entry, world.identity_of(user))
        return
    expect.live_contacts(entry, 1, f"the registration of {user} after a refused de-registration")
    uri = world.contact_uri(wic)
    assert entry is not None and any(c.uri == uri for c in entry.contacts), (
        f"the registration of {user} no longer lists {uri}, yet the de-registration was refused"
    )


@then(parsers.re(rf"the wIMPU Registrar holds no registration for {USER}, {CHOICE_STEP}"))
def registrar_holds_none_as_profiled(world: World, profile: ProfileChecks, user: str, choice: str) -> None:
    """A removal the text does not ask for at that moment (5.2.2.3.1 removes an entry upon
    de-registration or expiry), which the solution profile makes: a profile check, read over W6."""
    profile.check(choice, lambda: expect.no_entry(world.registration_of(user), world.identity_of(user)))


@then(parsers.re(rf"the wIMPU Registrar holds no registration for {QUOTED.format('identity')}"))
def registrar_holds_none_for_identity(world: World, identity: str) -> None:
    expect.no_entry(world.registration_for(identity), identity)


@then(parsers.re(rf"the wIMPU Registrar holds no registration for {USER}"))
def registrar_holds_none(world: World, user: str) -> None:
    expect.no_entry(world.registration_of(user), world.identity_of(user))


@then(
    parsers.re(
        rf"the wIMPU Registrar binds {USER}'s external identity to an individual IMPU "
        rf"of block {QUOTED.format('wimpu')}"
    )
)
def registrar_binds(world: World, user: str, wimpu: str) -> None:
    expect.option_b_binding(world.registration_of(user), world.identity_of(user), wimpu)


@then(
    parsers.re(rf"the wIMPU Registrar records the registration of {USER} in block {QUOTED.format('wimpu')}")
)
def registrar_records_block(world: World, user: str, wimpu: str) -> None:
    expect.in_block(world.registration_of(user), wimpu, f"the registration of {user}")


@then(parsers.re(rf"the individual IMPU of {USER} has not changed"))
def impu_unchanged(world: World, user: str) -> None:
    expect.same_impu(world.registration_of(user), world.remembered_impu(user))


@then(parsers.re(rf"the individual IMPU of {USER} has not changed, {CHOICE_STEP}"))
def impu_unchanged_as_profiled(world: World, profile: ProfileChecks, user: str, choice: str) -> None:
    """Option B after the user's registration is gone (its eP-CSCF failed, TR 23.701 5.2.2.2): the
    text does not say which IMPU a new registration gets (5.2.2.5.2 step 6); the same is the profile's."""
    entry = world.registration_of(user)
    profile.check(choice, lambda: expect.same_impu(entry, world.remembered_impu(user)))


@then(parsers.re(r"the eP-CSCF refuses the WebSocket handshake with HTTP (?P<status>\d{3})"))
def handshake_refused(world: World, status: str) -> None:
    expect.handshake_refused(world.outcome, int(status))


@then(parsers.re(rf"the response challenges for a Bearer token from the WWSF, {CHOICE_STEP}"))
def bearer_challenge(world: World, profile: ProfileChecks, choice: str) -> None:
    """5.2.2.5.2 step 4 leaves "the exact means" of the token check out of scope: how a REGISTER
    without a token is answered (RFC 8898's Bearer challenge naming the WWSF) is the profile's."""
    profile.check(choice, lambda: expect.bearer_challenge(world.outcome.response, world.sut.wwsf_origin))


@then(parsers.re(rf"the response says the security token is invalid, {CHOICE_STEP}"))
def token_invalid(world: World, profile: ProfileChecks, choice: str) -> None:
    """5.2.2.5.2 step 4 leaves "the exact means" of the token check out of scope: how the refusal of
    a token that fails a check says so (RFC 6750 3.1 ``error="invalid_token"``) is the profile's."""
    profile.check(choice, lambda: expect.token_invalid(world.outcome.response, world.sut.wwsf_origin))


@then(
    parsers.re(
        r'no message captured on the WebSocket connection of WIC "(?P<wic>[^"]+)" names the individual '
        r"IMPU of (?P<user>\w+), the wIMPU block or a P-Profile-Key"
    )
)
def impu_never_reaches_wic(world: World, profile: ProfileChecks, wic: str, user: str) -> None:
    """5.2.2.1 "IMS identities are only used within the IMS domain" (open point 15: in option B
    the WIC knows only its external identity): judged on every captured message to a WIC by
    OPTB_IMPU_HIDDEN (no IMPU of its block, nor the one allocated to it) and PROFILE_KEY_CONFINED
    (no P-Profile-Key), the rules ``verify`` applies offline; the WIC's connection carried messages."""
    expect.impu(world.registration_of(user), user)
    premise(world.captured_on_wic(wic), f"no message was captured on the WebSocket connection of WIC {wic}")
    judged_by(world, profile, ["OPTB_IMPU_HIDDEN", "PROFILE_KEY_CONFINED"], session=False)


@when(parsers.re(rf"{WIC} of {USER} logs in again, connects to the eP-CSCF of its block and registers"))
def wic_logs_in_again(world: World, wic: str, user: str) -> None:
    """5.2.2.5.2 steps 1-7 once more: a new token, the eP-CSCF the WWSF names now, REGISTER."""
    world.login(user)
    world.connect(wic, user)
    expect.handshake_accepted(world.outcome)
    world.register(wic, user)
