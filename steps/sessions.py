"""Step vocabulary of sessions: origination (TR 23.701 5.2.2.5.3), termination and forking (5.2.2.5.4)."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from conformance.harness import expect
from conformance.harness.errors import HarnessError, premise
from conformance.harness.profile import CHOICE_STEP as CHOICE
from conformance.harness.profile import ProfileChecks
from conformance.harness.sut import Unobservable
from conformance.harness.wic import FAILURES
from conformance.harness.world import MESSAGE_TEXT, World
from reference.sip.identity import canonical_identity
from reference.sip.message import Request
from steps.common import judged_by

WIC = r'WIC "(?P<wic>[^"]+)"'
USER = r"(?P<user>\w+)"
IDENTITY = r'"(?P<identity>[^"]+)"'
INITIAL = r"(?P<method>INVITE|MESSAGE|OPTIONS)"
"""An initial request the origination and termination steps apply to: a session's INVITE, or an
out-of-dialog MESSAGE (RFC 3428; standard IMS origination applies to every initial request)."""


def _at_remote(world: World, method: str) -> Request:
    """The one ``method`` request the remote party received (INVITE: in the whole scenario; any
    other: since the last attempt began)."""
    found = world.invites_at_remote() if method == "INVITE" else world.requests_at_remote(method)
    return expect.single(found, f"{method} at the remote party")


# ----- the peers ---------------------------------------------------------------------------


@given(parsers.re(rf"the remote IMS party {IDENTITY} answers sessions"))
def remote_party(world: World, identity: str) -> None:
    world.start_remote_party()
    expect.same_identity_as(world.remote_identity, identity, "the remote party of the stack")


@given("the remote IMS party rings and does not answer")
def remote_party_rings(world: World) -> None:
    world.remote_rings_until_cancelled()


@given(parsers.re(rf"the IMS user {IDENTITY} has registered with the S-CSCF from its own UE"))
def ims_user_registered(world: World, identity: str) -> None:
    expect.status(world.register_ims_user(identity), 200, "the S-CSCF")


@given(parsers.re(rf"WIC (?P<number>\d+) of {USER} answers first and every other WIC of that user later"))
def answers_first(world: World, number: str, user: str) -> None:
    world.answer_first(user, int(number))


# ----- origination (5.2.2.5.3) -------------------------------------------------------------


@when(parsers.re(rf"{WIC} starts a session to the remote party with the identity of {USER}$"))
def wic_originates(world: World, wic: str, user: str) -> None:
    world.originate(wic, world.identity_of(user))


@when(
    parsers.re(
        rf"{WIC} starts a session to the remote party with the identity of {USER} and waits until its "
        r"transaction times out"
    )
)
def wic_originates_until_timer_b(world: World, wic: str, user: str) -> None:
    """The WIC waits for the final response as long as its INVITE transaction lives (RFC 3261
    17.1.1.2, Timer B); TR 23.701 5.2.2.5.3 steps 1-2."""
    world.originate_until_timer_b(wic, world.identity_of(user))


@given(parsers.re(rf"{WIC} has started a session to the remote party with the identity of {USER}"))
def wic_has_originated(world: World, wic: str, user: str) -> None:
    expect.status(world.originate(wic, world.identity_of(user)), 200, "the session set-up")


@when(parsers.re(rf"{WIC} starts a session to the remote party and cancels it when it rings"))
def wic_originates_then_cancels(world: World, wic: str) -> None:
    world.originate_then_cancel(wic)


@when(parsers.re(rf"{WIC} starts a session to the remote party and lets it ring past the eP-CSCF's Timer C"))
def wic_originates_past_timer_c(world: World, wic: str) -> None:
    """5.2.2.5.3 steps 1 and 3: the WIC's session rings at the remote party, which never answers;
    the nodes' clock passes the eP-CSCF's Timer C (RFC 3261 16.6 item 11: the reference's, or the
    PIXIT's ``[timing] timer_c``; inconclusive without one)."""
    world.originate_past_timer_c(wic)


@then("the eP-CSCF answers the CANCEL with 200")
def cancel_answered(world: World) -> None:
    """RFC 3261 16.10 (a proxy "MUST ... respond to the CANCEL with 200") and 9.2."""
    expect.status(world.cancel_answer, 200)


@then("the remote party receives the CANCEL of the session through the eP-CSCF and the S-CSCF")
def cancel_reaches_remote(world: World) -> None:
    """RFC 3261 16.10: the eP-CSCF cancels the INVITE it forwarded; on the wire (the eP-CSCF ->
    S-CSCF leg) and at the remote party (its ringing INVITE ended by a CANCEL)."""
    expect.single(world.captured_requests("CANCEL", "ep-cscf", "s-cscf"), "CANCEL eP-CSCF -> S-CSCF")
    expect.single(world.cancels_at_remote(), "INVITE of the remote party ended by a CANCEL")


@then(parsers.re(rf"{WIC} receives (?P<status>\d{{3}}) for its INVITE$"))
def wic_invite_final(world: World, wic: str, status: str) -> None:
    expect.status(world.outcome.response, int(status), f"the session set-up of WIC {wic}")


@then(parsers.re(rf"{WIC} receives a final response for its INVITE, not a 2xx"))
def wic_invite_refused(world: World, wic: str) -> None:
    """The session ends without being set up: one final response, and it is not a 2xx (which one is
    not the text's)."""
    response = world.outcome.response
    assert response is not None, f"expected a final response to the INVITE of WIC {wic}, got none"
    assert response.status >= 300, (
        f"expected WIC {wic}'s INVITE to end without a session, got {response.status}"
    )


@then(parsers.re(rf"{WIC} receives (?P<status>\d{{3}}) for its INVITE, {CHOICE}"))
def wic_invite_final_as_profiled(
    world: World, profile: ProfileChecks, wic: str, status: str, choice: str
) -> None:
    """A final code the text does not give: the profile's, a profile check."""
    profile.check(
        choice, lambda: expect.status(world.outcome.response, int(status), f"the session set-up of WIC {wic}")
    )


@when(parsers.re(rf"{WIC} starts a session to {USER} with the identity of (?P<caller>\w+)$"))
def wic_calls_webrtc_user(world: World, wic: str, user: str, caller: str) -> None:
    """5.2.2.5.3 step 1: the WIC starts a session with the identity it registered; the called
    identity is another webRTC user's, so the session comes back in at 5.2.2.5.4 step 1."""
    world.originate(wic, world.identity_of(caller), target=world.identity_of(user))


@when(
    parsers.re(
        rf"{WIC} starts a session to the remote party with the identity of {USER} asserting {IDENTITY}"
    )
)
def wic_originates_asserting(world: World, wic: str, user: str, identity: str) -> None:
    world.originate(wic, world.identity_of(user), asserted=identity)


@when(
    parsers.re(
        rf"{WIC} starts a session to the remote party with the identity of {USER} preferring {IDENTITY}"
    )
)
def wic_originates_preferring(world: World, wic: str, user: str, identity: str) -> None:
    """5.2.2.5.3 step 3 (TS 24.229 5.2.6.3.3, RFC 3325 9.2): a P-Preferred-Identity the WIC
    did not register is no identity the eP-CSCF may assert."""
    world.originate(wic, world.identity_of(user), preferred=identity)


@when(
    parsers.re(
        rf"{WIC} starts a session to the remote party with the identity of {USER} and the preloaded "
        rf"Route {IDENTITY}"
    )
)
def wic_originates_preloading(world: World, wic: str, user: str, identity: str) -> None:
    """A WIC that writes its own Route set (a compromised or hostile page steering the session)."""
    world.originate(wic, world.identity_of(user), route=(f"<{identity}>",))


@then(
    parsers.re(
        rf"the eP-CSCF either refuses the session with 400 or sends it to the S-CSCF on the "
        rf"Service-Route of the block of {USER} alone, without the Route {IDENTITY}"
    )
)
def preloaded_route_replaced(world: World, profile: ProfileChecks, user: str, identity: str) -> None:
    """5.2.2.5.3 step 3, "standard IMS session origination procedure": TS 24.229 5.2.6.3.3, the
    P-CSCF whose UE preloaded a Route that is not the Service-Route either replaces it with the
    Service-Route or rejects the request with 400 (Bad Request). Both are the standard's; no
    other outcome is. What is forwarded is judged by ORIG_SERVICE_ROUTE (its Route is the
    Service-Route, entry for entry: the preloaded one is gone)."""
    world.settle()
    sent = world.captured_requests("INVITE", "ep-cscf", "s-cscf")
    if world.outcome.response is not None and world.outcome.response.status == 400:
        expect.none(sent, "INVITE eP-CSCF -> S-CSCF after the eP-CSCF's 400")
        return
    expect.single(sent, "INVITE eP-CSCF -> S-CSCF")
    judged_by(world, profile, ["ORIG_SERVICE_ROUTE"])


@when(parsers.re(rf"{WIC} starts a session to the remote party as {IDENTITY}"))
def wic_originates_as(world: World, wic: str, identity: str) -> None:
    world.originate(wic, identity)


@then(parsers.re(rf"the {INITIAL} reaches the remote party through (?P<nodes>.+)"))
def invite_route_to_remote(world: World, method: str, nodes: str) -> None:
    expect.route(world.hops(_at_remote(world, method)), nodes)


@then(
    parsers.re(
        rf"the {INITIAL} reaching the remote party carries the From header field exactly as {WIC} sent it"
    )
)
def from_untouched(world: World, profile: ProfileChecks, method: str, wic: str) -> None:
    """5.2.2.5.3 step 2, judged on the capture by ORIG_FROM_UNTOUCHED (the eP-CSCF's forwarded
    request beside what the WIC sent); the request did reach the remote party."""
    _at_remote(world, method)
    judged_by(world, profile, ["ORIG_FROM_UNTOUCHED"])


@then(parsers.re(rf"the {INITIAL} reaching the remote party asserts the individual IMPU of {USER}"))
def asserted_impu(world: World, profile: ProfileChecks, method: str, user: str) -> None:
    """5.2.2.5.3 step 2 (option B: the IMPU the eP-CSCF allocated) and step 3 (standard
    origination, TS 24.229 5.2.6.3.3: the registered identity), for an INVITE or a MESSAGE:
    judged on the capture by ORIG_PAI_IMPU; the request did reach the remote party."""
    _at_remote(world, method)
    judged_by(world, profile, ["ORIG_PAI_IMPU"])


@when(parsers.re(rf"{WIC} sends a MESSAGE to the remote party with the identity of {USER}$"))
def wic_sends_message(world: World, wic: str, user: str) -> None:
    world.send_message(wic, world.identity_of(user))


@when(parsers.re(rf"{WIC} sends an OPTIONS to the remote party$"))
def wic_sends_options(world: World, wic: str) -> None:
    """5.2.2.5.3 step 1 for another request outside any session: a capability query (RFC 3261 11)."""
    world.send_options(wic)


@when(parsers.re(rf"the remote party sends an OPTIONS to {USER}$"))
def remote_sends_options(world: World, user: str) -> None:
    world.options_to(user)


@then(parsers.re(rf"every WIC of {USER} receives the OPTIONS"))
def every_wic_gets_options(world: World, user: str) -> None:
    """5.2.2.5.4 steps 4-5 with 5.2.2.3.2 ("shall support forking to all contacts associated with a
    called IMPU"): an out-of-dialog request for the IMPU reaches each of its contacts, OPTIONS as a
    MESSAGE or an INVITE (RFC 3261 11: a proxy forwards an OPTIONS as it would an INVITE)."""
    wics = world.wics_of(user)
    premise(wics, f"{user} has no WIC in this scenario")
    for name in wics:
        expect.single(world.received_by_wic(name, "OPTIONS"), f"OPTIONS at WIC {name}")


@then(parsers.re(rf"the MESSAGE reaching the remote party carries the text {WIC} sent"))
def message_text_kept(world: World, wic: str) -> None:
    """RFC 3428 (a proxy forwards the body as it is): the text the WIC wrote reaches the party."""
    sent = world.wics[wic].last_message
    if sent is None:
        raise HarnessError(f"WIC {wic} sent no MESSAGE")
    expect.same_body(_at_remote(world, "MESSAGE"), sent, "the MESSAGE at the remote party")


@when(parsers.re(rf"the remote party sends a MESSAGE to {USER}$"))
def remote_sends_message(world: World, user: str) -> None:
    world.message_to(user)


@then(parsers.re(r"the remote party receives 200 for its (?:MESSAGE|OPTIONS)$"))
def remote_message_accepted(world: World) -> None:
    expect.session_status(world.session, 200)


@then("the remote party's MESSAGE is rejected")
def remote_message_rejected(world: World) -> None:
    """5.2.2.5.4: a request to a webRTC user who is not registered is rejected, whichever node does
    it and with whatever code (the text gives neither for a MESSAGE)."""
    expect.session_rejected(world.session)


@then(parsers.re(rf"every WIC of {USER} receives the MESSAGE with the text the remote party sent"))
def every_wic_gets_message(world: World, user: str) -> None:
    """5.2.2.5.4 step 5 with 5.2.2.3.2 (forking): every contact of the called IMPU gets it."""
    wics = world.wics_of(user)
    premise(wics, f"{user} has no WIC in this scenario")
    for name in wics:
        message = expect.single(world.received_by_wic(name, "MESSAGE"), f"MESSAGE at WIC {name}")
        expect.body_text(message, MESSAGE_TEXT, f"the MESSAGE at WIC {name}")


@then(parsers.re(rf"{WIC} receives no MESSAGE"))
def wic_gets_no_message(world: World, wic: str) -> None:
    world.settle()
    expect.none(world.received_by_wic(wic, "MESSAGE", at_least=0), f"MESSAGE at WIC {wic}")


@then(parsers.re(rf"the INVITE reaching the IMS user {IDENTITY} asserts the individual IMPU of {USER}"))
def ims_user_sees_impu(world: World, profile: ProfileChecks, identity: str, user: str) -> None:
    """5.2.2.5.3 step 3, judged on the capture by ORIG_PAI_IMPU."""
    expect.single(world.invites_at_ims_user(identity), f"INVITE at the IMS user {identity}")
    judged_by(world, profile, ["ORIG_PAI_IMPU"])


@then(
    parsers.re(
        rf"the INVITE captured from the eP-CSCF to the S-CSCF asserts the individual IMPU of {USER} "
        rf"and carries the From header field exactly as {WIC} sent it"
    )
)
def captured_invite_to_scscf(world: World, profile: ProfileChecks, user: str, wic: str) -> None:
    """5.2.2.5.3 step 2: judged on the wire, on the leg the eP-CSCF sent it on (ORIG_PAI_IMPU,
    ORIG_FROM_UNTOUCHED)."""
    expect.single(world.captured_requests("INVITE", "ep-cscf", "s-cscf"), "INVITE eP-CSCF -> S-CSCF")
    judged_by(world, profile, ["ORIG_PAI_IMPU", "ORIG_FROM_UNTOUCHED"])


@then(
    parsers.re(
        rf"the INVITE captured from the eP-CSCF to the S-CSCF asserts only the individual IMPU of {USER}"
    )
)
def captured_invite_asserts_only(world: World, profile: ProfileChecks, user: str) -> None:
    """RFC 3325 9.1 (standard origination, 5.2.2.5.3): the identity is the eP-CSCF's
    assertion alone; a P-Asserted-Identity the WIC wrote is not passed on (ORIG_PAI_IMPU:
    one SIP value, the expected one)."""
    expect.single(world.captured_requests("INVITE", "ep-cscf", "s-cscf"), "INVITE eP-CSCF -> S-CSCF")
    judged_by(world, profile, ["ORIG_PAI_IMPU"])


@given(parsers.re(rf"{WIC} has ended its session with a BYE"))
def wic_has_ended_session(world: World, wic: str) -> None:
    expect.status(world.send_in_session_of(wic, wic, "BYE"), 200, "the BYE's answer")


@when(parsers.re(rf'{WIC} sends a (?P<method>[A-Z]+) in the session of WIC "(?P<owner>[^"]+)"'))
def in_session_of(world: World, wic: str, method: str, owner: str) -> None:
    world.send_in_session_of(wic, owner, method)


@when(
    parsers.re(
        rf"{WIC} sends an? (?P<method>[A-Z]+) in its session with a Route that leads around the S-CSCF "
        r"to the remote party"
    )
)
def in_own_session_around(world: World, wic: str, method: str) -> None:
    """TP_WIMPU_SEC_018: the WIC's own session, its Route cut to the eP-CSCF's entry, so that the
    next hop it names past the eP-CSCF is the remote party's Contact (around the S-CSCF)."""
    world.send_in_session_of(wic, wic, method, around=True)


@then(parsers.re(rf"the (?P<method>[A-Z]+) goes on only along the session's route set, {CHOICE}"))
def in_dialog_along_route_set(world: World, profile: ProfileChecks, method: str, choice: str) -> None:
    """5.2.2.5.3 step 3 with 5.2.2.3.2, the profile's "to the next hop of its route set" (open point
    26): when the eP-CSCF sent the request on, ORIG_IN_DIALOG_ROUTE_SET judges where it went, on
    every flow of the scenario (the session's flow began with its INVITE). When it sent nothing on,
    no 2xx may have come back (nothing answered it but the eP-CSCF), and the profile's refusal is a
    final response (its code is PROFILE_SEC_REFUSAL_403's, checked elsewhere)."""
    world.settle()
    if not world.captured_requests(method, "ep-cscf", ""):
        expect.not_accepted_if_answered(world.outcome.response)
        profile.check(choice, lambda: expect.not_accepted(world.outcome.response))
        return
    judged_by(world, profile, ["ORIG_IN_DIALOG_ROUTE_SET"], choice, session=False)


@when(parsers.re(rf"{WIC} sends an? (?P<method>[A-Z]+) that names no dialog to the remote party"))
def outside_any_dialog(world: World, wic: str, method: str) -> None:
    """TP_WIMPU_SEC_019: a method that exists only in a dialog, sent with no To tag (RFC 3261 15.1.1)."""
    world.send_outside_dialog(wic, method)


@then(parsers.re(rf"the (?P<method>[A-Z]+) goes no further than the eP-CSCF, {CHOICE}"))
def dialog_method_refused(world: World, profile: ProfileChecks, method: str, choice: str) -> None:
    """5.2.2.3.2 with 5.2.2.5.3 step 3 and the profile's "relayed only on a dialog the eP-CSCF
    record-routed on that WebSocket; anything else is 403" (PROFILE_SEC_DIALOG_METHODS): judged on
    the wire by ORIG_DIALOG_METHOD_REFUSED (refused, sent on nowhere), a profile check."""
    world.settle()
    judged_by(world, profile, ["ORIG_DIALOG_METHOD_REFUSED"], choice, session=False)


@when(parsers.re(rf"{WIC} ends its session with a BYE"))
def wic_ends_session(world: World, wic: str) -> None:
    """The WIC's BYE in its session, on the dialog's route set (RFC 3261 12.2.1.1)."""
    world.send_in_session_of(wic, wic, "BYE")


@then(parsers.re(rf"the (?P<method>BYE|INFO) reaches the remote party and {WIC} receives 200 for it"))
def request_reaches_remote(world: World, method: str, wic: str) -> None:
    """5.2.2.5.3 step 3's standard procedures: the WIC's request along its dialog's route set reaches
    the remote party, and the remote party's 200 comes back. After a request of the WIC the eP-CSCF
    refused, the dialog is as it was (RFC 3261 12.2.1.2: only a 481 or a 408 ends a dialog)."""
    world.settle()
    expect.single(world.requests_at_remote(method), f"{method} at the remote party")
    expect.status(world.outcome.response, 200, f"the answer to WIC {wic}'s {method}")


@when(
    parsers.re(rf"WIC (?P<number>\d+) of {USER} sends an? (?P<method>[A-Z]+) in the session it was offered")
)
def numbered_wic_in_offered_session(world: World, number: str, user: str, method: str) -> None:
    """The WIC, as the callee of the last INVITE it received (RFC 3261 12.1.1): its own tag, the
    INVITE's Record-Route in order, whether its answer won or not (5.2.2.5.4 step 5)."""
    world.send_in_offered_session(world.wic_number(user, int(number)), method)


@then(parsers.re(r"no (?P<method>[A-Z]+) reaches the S-CSCF or the remote party"))
def nothing_relayed(world: World, method: str) -> None:
    """Checked on the wire (the eP-CSCF -> S-CSCF leg) and at the remote party."""
    world.settle()
    expect.none(world.captured_requests(method, "ep-cscf", "s-cscf"), f"{method} eP-CSCF -> S-CSCF")
    expect.none(world.requests_at_remote(method), f"{method} at the remote party")


@then(
    parsers.re(
        rf"the {INITIAL} captured from the eP-CSCF to the S-CSCF is routed by the Service-Route "
        rf"of the registration of the block of {USER}"
    )
)
def captured_invite_service_route(world: World, profile: ProfileChecks, method: str, user: str) -> None:
    """5.2.2.5.3 step 3 (standard IMS origination, TS 24.229 5.2.6.3.3): the Route of the
    forwarded request is the Service-Route the S-CSCF returned to the block registration
    (ORIG_SERVICE_ROUTE)."""
    expect.single(world.captured_requests(method, "ep-cscf", "s-cscf"), f"{method} eP-CSCF -> S-CSCF")
    judged_by(world, profile, ["ORIG_SERVICE_ROUTE"])


@then("the eP-CSCF queried the wIMPU Registrar for the session")
def ep_cscf_queried(world: World, profile: ProfileChecks) -> None:
    """5.2.2.5.3 step 2 (option B): the W6 read naming the WIC (ORIG_W6_OPTION_B)."""
    judged_by(world, profile, ["ORIG_W6_OPTION_B"])


@then(parsers.re(rf"the eP-CSCF made no query to the wIMPU Registrar for the session, {CHOICE}"))
def ep_cscf_not_queried(world: World, profile: ProfileChecks, choice: str) -> None:
    """5.2.2.5.3 step 2 "is applicable only when the individual IMPU is allocated by the eP-CSCF";
    the text does not forbid a W6 read in option A: making none is the profile's choice
    (ORIG_NO_W6_OPTION_A gives a deviation, or a pass where the SUT's PICS chose otherwise)."""
    judged_by(world, profile, ["ORIG_NO_W6_OPTION_A"], choice)


@then("no INVITE reaches the remote party")
def nothing_at_remote(world: World) -> None:
    world.settle()
    expect.none(world.invites_at_remote(), "INVITE at the remote party")


@then(parsers.re(r'no INVITE of the session asserts "(?P<identity>[^"]+)"'))
def claimed_identity_never_asserted(world: World, profile: ProfileChecks, identity: str) -> None:
    """5.2.2.5.3 step 3 (standard IMS origination, TS 24.229 5.2.6.3.3; RFC 3325 9.1): the eP-CSCF
    asserts the identity the WIC registered, never one the WIC only claims: judged by ORIG_PAI_IMPU
    on the eP-CSCF -> S-CSCF leg when the eP-CSCF forwarded the session; when it refused it,
    nothing may reach the remote party. The claim must be no identity the calling WIC registered:
    asserting that one would be right, and the step would prove nothing. Its user's identity is the
    scenario's choice (a clash is the suite's error); the IMPU an option B eP-CSCF allocated is the
    SUT's (a clash leaves the step unable to judge: inconclusive)."""
    if world.session is None:
        raise HarnessError("no session was attempted")
    user = world.wic_users[world.session.caller]
    claimed = canonical_identity(identity)
    premise(
        claimed != canonical_identity(world.identity_of(user)),
        f"the scenario claims {identity!r}, which WIC {world.session.caller!r} registered: pick another",
    )
    if user in world.allocated and claimed == canonical_identity(world.allocated[user]):
        raise Unobservable(f"the eP-CSCF allocated {identity!r} to WIC {world.session.caller!r}, the claim")
    world.settle()
    if world.captured_requests("INVITE", "ep-cscf", "s-cscf"):
        judged_by(world, profile, ["ORIG_PAI_IMPU"])
    else:
        expect.none(world.invites_at_remote(), "INVITE at the remote party when none left the eP-CSCF")


@then(
    parsers.re(
        rf"the eP-CSCF refuses the session with (?P<status>\d{{3}}) and no INVITE reaches the remote "
        rf"party, {CHOICE}"
    )
)
def ep_cscf_refuses_session(world: World, profile: ProfileChecks, status: str, choice: str) -> None:
    """5.2.2.5.3 step 1 puts the "shall" on the WIC (the identity of registration); refusing a WIC
    that breaks it, and with which code, is the profile's choice (open point 19)."""

    def refused() -> None:
        expect.status(world.outcome.response, int(status))
        expect.none(world.invites_at_remote(), "INVITE at the remote party")

    world.settle()
    profile.check(choice, refused)


# ----- termination (5.2.2.5.4) -------------------------------------------------------------


@when(parsers.re(rf"the remote party calls {USER}"))
def remote_calls_user(world: World, user: str) -> None:
    world.call(world.identity_of(user))


@when(
    parsers.re(rf"the remote party calls {USER} while {WIC} de-registers between the I-CSCF and the eP-CSCF")
)
def remote_calls_while_wic_deregisters(world: World, user: str, wic: str) -> None:
    """5.2.2.5.4 steps 2-4: the I-CSCF finds the user registered over W7 and routes the session;
    by the time it reaches the eP-CSCF (step 4) the WIC has de-registered. The S-CSCF (the
    tester's IMS core) holds the session meanwhile."""
    world.call_while_wic_deregisters(user, wic)


@when(
    parsers.re(
        rf"the remote party calls {USER} while the wIMPU Registrar stops answering between the I-CSCF "
        r"and the eP-CSCF, and waits until its transaction times out"
    )
)
def remote_calls_while_registrar_stalls(world: World, user: str) -> None:
    """5.2.2.5.4 steps 2-4: the I-CSCF's W7 check is answered; the wIMPU Registrar has stopped
    answering by the time the session reaches the eP-CSCF (step 4). The caller waits as long as
    its INVITE transaction lives (RFC 3261 17.1.1.2, Timer B)."""
    world.call_while_registrar_stalls(user)


@then("the S-CSCF routes the session on to the eP-CSCF")
def scscf_routed_on(world: World) -> None:
    """5.2.2.5.4 step 3 happened: what follows is the eP-CSCF's (step 4), not the I-CSCF's."""
    expect.single(world.captured_requests("INVITE", "s-cscf", "ep-cscf"), "INVITE S-CSCF -> eP-CSCF")


@then("the eP-CSCF refuses the session")
def ep_cscf_refuses_terminating_session(world: World) -> None:
    """RFC 3261 16.5: a proxy whose target set is empty "MUST return an error response" (480 by
    preference); on the wire, the eP-CSCF's final response to the S-CSCF."""
    finals = world.captured_responses("INVITE", "ep-cscf", "s-cscf")
    answer = expect.single(finals, "final response eP-CSCF -> S-CSCF")
    expect.not_accepted(answer, "the eP-CSCF")


@then(parsers.re(rf"the eP-CSCF answers the session (?P<status>\d{{3}}), {CHOICE}"))
def ep_cscf_answers_session(world: World, profile: ProfileChecks, status: str, choice: str) -> None:
    """The code of the eP-CSCF's final response to the S-CSCF, on the wire: one the text does not give."""
    finals = world.captured_responses("INVITE", "ep-cscf", "s-cscf")
    profile.check(choice, lambda: expect.status(finals[0] if finals else None, int(status)))


@given(parsers.re(rf"the remote party has called {USER} and {WIC} has answered"))
def remote_has_called(world: World, user: str, wic: str) -> None:
    """A session that reached the WIC (5.2.2.5.4 steps 1-5): what an I-CSCF may remember of it."""
    world.call(world.identity_of(user))
    expect.session_status(world.session, 200)
    expect.single(world.received_by_wic(wic, "INVITE"), f"INVITE at WIC {wic}")


@given(parsers.re(rf"the remote party has called {USER} and WIC (?P<number>\d+) of that user has answered"))
def remote_has_called_numbered(world: World, user: str, number: str) -> None:
    """A session that reached WIC ``number`` of ``user`` (5.2.2.5.4 steps 1-5), which answered it."""
    remote_has_called(world, user, world.wic_number(user, int(number)))


@when(parsers.re(r"the remote party sends a (?P<method>[A-Z]+) in its session$"))
def remote_in_dialog(world: World, method: str) -> None:
    """A request of the core towards the WIC in the session (5.2.2.5.4 step 5), on the dialog's
    route set: the eP-CSCF's Record-Route names the WIC's flow (RFC 5626 5.3)."""
    world.remote_in_dialog(method)


@when(parsers.re(r"the remote party sends a (?P<method>[A-Z]+) in its session through the I-CSCF"))
def remote_in_dialog_through_icscf(world: World, method: str) -> None:
    """TP_WIMPU_TERM_019: the same request, its Route the dialog's route set, sent to the I-CSCF
    (RFC 3261 8.1.2; a caller with one connection to the IMS entry point)."""
    world.remote_in_dialog(method, through_icscf=True)


@then(
    parsers.re(
        rf"the I-CSCF sends the (?P<method>[A-Z]+) on along its Route to {WIC}, whose 200 reaches the remote "
        rf"party, {CHOICE}"
    )
)
def icscf_follows_route(world: World, profile: ProfileChecks, method: str, wic: str, choice: str) -> None:
    """5.2.2.5.4 (the I-CSCF record-routes nothing) with the profile's "goes to the next hop of its
    Route": judged by TERM_ICSCF_IN_DIALOG_ROUTE on every flow of the scenario (the session's flow
    began with its INVITE); that the request then reaches the WIC and its answer the caller rests on
    the same choice (the text says nothing of such requests), so it is that choice's check too."""
    world.settle()
    judged_by(world, profile, ["TERM_ICSCF_IN_DIALOG_ROUTE"], choice, session=False)

    def delivered() -> None:
        expect.single(world.received_by_wic(wic, method), f"{method} at WIC {wic}")
        expect.status(world.outcome.response, 200, f"the answer to the remote party's {method}")

    profile.check(choice, delivered)


@when(parsers.re(rf"the remote party calls {IDENTITY}"))
def remote_calls(world: World, identity: str) -> None:
    world.call(identity)


@when(parsers.re(rf"the IMS user {IDENTITY} calls {USER}"))
def ims_user_calls(world: World, identity: str, user: str) -> None:
    world.call_from_ims_user(identity, user)


@when(parsers.re(rf"{WIC} starts a session to the IMS user {IDENTITY} with the identity of {USER}"))
def wic_calls_ims_user(world: World, wic: str, identity: str, user: str) -> None:
    """5.2.2.5.3 steps 1 and 3: standard IMS origination to a subscriber of the same network."""
    world.originate(wic, world.identity_of(user), target=identity)


@then(parsers.re(r"the IMS user receives (?P<status>\d{3})"))
def ims_user_receives(world: World, status: str) -> None:
    expect.session_status(world.session, int(status))


@given(parsers.re(rf"{WIC} writes P-Asserted-Identity {IDENTITY} into its answers"))
def wic_claims_in_answers(world: World, wic: str, identity: str) -> None:
    """A page that claims an identity in its answers to a terminating INVITE (its 180 and 200): the
    premise of TP_WIMPU_TERM_017 (5.2.2.5.4 step 5, 5.2.2.3.2)."""
    world.write_into_answers(wic, "P-Asserted-Identity", f"<{identity}>")


@then(parsers.re(rf"no answer the eP-CSCF relays into the IMS core asserts {IDENTITY}"))
def answer_claim_never_asserted(world: World, profile: ProfileChecks, identity: str) -> None:
    """5.2.2.5.4 step 5 with RFC 3325 9.1 (standard IMS termination, TS 24.229 5.2.6.4): a
    P-Asserted-Identity the called WIC wrote into its answer does not enter the IMS core, judged by
    TERM_RESPONSE_ASSERTED on the eP-CSCF -> S-CSCF leg. The claim must be no identity the called
    user registered (asserting that one would be right, and the step would prove nothing): the
    called identity is the scenario's (a clash is the suite's error), an IMPU an option B eP-CSCF
    allocated is the SUT's (a clash: inconclusive). A WIC answers only an INVITE the eP-CSCF
    delivered: no answer at all is the SUT's; answers without the claim, the harness's."""
    if world.session is None:
        raise HarnessError("no session was attempted")
    called = canonical_identity(world.session.called)
    claimed = canonical_identity(identity)
    premise(claimed != called, f"the scenario claims {identity!r}, the called identity: pick another")
    users = [u for u, i in world.identities.items() if canonical_identity(i) == called]
    if any(u in world.allocated and canonical_identity(world.allocated[u]) == claimed for u in users):
        raise Unobservable(f"the eP-CSCF allocated {identity!r} to the called user, the claim")
    claim = f"P-Asserted-Identity: <{identity}>".encode()
    answers = [raw for wic in world.wics.values() for raw in wic.sent if raw.startswith(b"SIP/2.0 ")]
    assert answers, "no WIC answered anything: the eP-CSCF delivered no INVITE to the called WIC"
    written = [raw for raw in answers if claim in raw]
    premise(written, f"no WIC wrote {identity!r} into an answer: the step would prove nothing")
    world.settle()
    judged_by(world, profile, ["TERM_RESPONSE_ASSERTED"])


@then(parsers.re(r"the remote party receives (?P<status>\d{3})$"))
def remote_receives(world: World, status: str) -> None:
    expect.session_status(world.session, int(status))


@then(parsers.re(rf"the remote party receives (?P<status>\d{{3}}), {CHOICE}"))
def remote_receives_as_profiled(world: World, profile: ProfileChecks, status: str, choice: str) -> None:
    """A final code the text does not give: the profile's, a profile check."""
    profile.check(choice, lambda: expect.session_status(world.session, int(status)))


@then("the remote party receives exactly one final response, not a 2xx")
def remote_one_refusal(world: World) -> None:
    """The session ends without being set up: one final response (RFC 3261 16.7 step 5: no 3xx-6xx
    forwarded at once, one chosen in the end), not a 2xx; which one is not the text's."""
    world.settle()
    final = expect.single(world.finals_at_remote(), "final response at the remote party")[1]
    assert final.status >= 300, (
        f"expected the remote party's call to end without a session, got {final.status}"
    )


@then("the I-CSCF rejects the session")
def icscf_rejects(world: World, profile: ProfileChecks) -> None:
    """TR 23.701 5.2.2.5.4 step 2: "the I-CSCF shall reject the session with the appropriate
    code": the caller gets a final response that is not a 2xx, and on the capture
    TERM_UNREGISTERED_REJECTED finds the I-CSCF answered after W7 said "not registered" and
    forwarded nothing (no eP-CSCF, no W6 use follows). The code is the profile's (next step)."""
    expect.session_rejected(world.session)
    judged_by(world, profile, ["TERM_UNREGISTERED_REJECTED"])


@then(parsers.re(rf"the I-CSCF rejects the session with (?P<status>\d{{3}}), {CHOICE}"))
def icscf_rejects_with_profiled_code(world: World, profile: ProfileChecks, status: str, choice: str) -> None:
    """The code of the rejection: the text says only "the appropriate code" (5.2.2.5.4)."""
    profile.check(choice, lambda: expect.session_status(world.session, int(status)))


@then("no INVITE goes from the I-CSCF to the S-CSCF")
def icscf_routes_nothing(world: World) -> None:
    """5.2.2.5.4 step 3 routes the session to the S-CSCF only for a registered user (step 2): checked
    on the wire, the I-CSCF -> S-CSCF leg, since the session began."""
    world.settle()
    expect.none(world.captured_requests("INVITE", "i-cscf", "s-cscf"), "INVITE I-CSCF -> S-CSCF")


@then("the I-CSCF queried the wIMPU Registrar for the called identity")
def icscf_queried(world: World, profile: ProfileChecks) -> None:
    """5.2.2.5.4 steps 1-2: the W7 query naming the called identity (TERM_W7_WEBRTC)."""
    judged_by(world, profile, ["TERM_W7_WEBRTC"])


@then("the I-CSCF made no query to the wIMPU Registrar")
def icscf_not_queried(world: World, profile: ProfileChecks) -> None:
    """5.2.2.5.4 step 1: no W7 query for a domain that is not a webRTC domain (TERM_NO_W7_OTHER)."""
    judged_by(world, profile, ["TERM_NO_W7_OTHER"])


@then("the eP-CSCF fetched the contacts of the called IMPU from the wIMPU Registrar")
def ep_cscf_fetched_contacts(world: World, profile: ProfileChecks) -> None:
    """5.2.2.5.4 step 4: the W6 read of the called IMPU's contacts (TERM_W6_CONTACTS)."""
    judged_by(world, profile, ["TERM_W6_CONTACTS"])


@then(parsers.re(rf"the INVITE reaches {WIC} through (?P<nodes>.+)"))
def invite_route_to_wic(world: World, wic: str, nodes: str) -> None:
    expect.route(
        world.hops(expect.single(world.received_by_wic(wic, "INVITE"), f"INVITE at WIC {wic}")), nodes
    )


@then(
    parsers.re(
        rf"{WIC} receives the INVITE with P-Called-Party-ID carrying the identity {USER} registered "
        rf"with, {CHOICE}"
    )
)
def wic_called_party(world: World, profile: ProfileChecks, wic: str, user: str, choice: str) -> None:
    """5.2.2.5.4 step 5: the eP-CSCF delivers the session to the WIC (the text's check). That the
    INVITE names the called identity in P-Called-Party-ID (option A: the individual IMPU; option B:
    the external identity, never the IMPU, 5.2.2.1) is the profile's: the text names no header;
    judged on the capture by TERM_CALLED_PARTY."""
    expect.single(world.received_by_wic(wic, "INVITE"), f"INVITE at WIC {wic}")
    judged_by(world, profile, ["TERM_CALLED_PARTY"], choice)


@then(parsers.re(rf"{WIC} receives no INVITE"))
def wic_not_invited(world: World, wic: str) -> None:
    world.settle()
    expect.none(world.received_by_wic(wic, "INVITE", at_least=0), f"INVITE at WIC {wic}")


@then(parsers.re(rf"the session reaches the IMS user {IDENTITY}"))
def reaches_ims_user(world: World, identity: str) -> None:
    expect.single(world.invites_at_ims_user(identity), f"INVITE at the IMS user {identity}")


# ----- forking (5.2.2.3.2, 5.2.2.5.4) ----------------------------------------------------------


@then(parsers.re(rf"WIC (?P<number>\d+) of {USER} receives the (?P<method>INVITE|BYE|INFO)$"))
def numbered_wic_invited(world: World, number: str, user: str, method: str) -> None:
    """5.2.2.5.4 step 5: the session (its INVITE, a request of its dialog from the core) is
    delivered to that WIC, once."""
    name = world.wic_number(user, int(number))
    expect.single(world.received_by_wic(name, method), f"{method} at WIC {name}")


@then(
    parsers.re(
        rf"the remote party receives the (?P<method>BYE|INFO) of WIC (?P<number>\d+) of {USER} in its session"
    )
)
def remote_receives_from_callee(world: World, method: str, number: str, user: str) -> None:
    """5.2.2.5.4 step 5 with RFC 3261 12.1.1 and 16.12: the request the answering WIC sent on its
    route set reaches the far end of its dialog, once: the remote party's dialog of that session
    (Call-ID, its own tag as the To tag, the answering branch's tag as the From tag, RFC 3261 12.2.2).
    That the answer the remote party took is this WIC's is the scenario's premise."""
    name = world.wic_number(user, int(number))
    invite, final = world.remote_session()
    premise(
        final.to.tag is not None and final.to.tag == world.wics[name].tag,
        f"the remote party's session is not the one WIC {name} answered",
    )
    arrived = [
        r for r in world.requests_at_remote(method)
        if r.call_id == invite.call_id and r.to.tag == invite.from_.tag and r.from_.tag == final.to.tag
    ]  # fmt: skip
    expect.single(arrived, f"{method} of WIC {name} in the remote party's dialog")


CALLEE_ANSWERED = rf"WIC (?P<number>\d+) of {USER} receives (?P<status>\d{{3}}) for its (?P<method>BYE|INFO)$"


@then(parsers.re(CALLEE_ANSWERED))
def callee_request_answered(world: World, number: str, user: str, status: str, method: str) -> None:
    """The final response to the WIC's request of its session: the remote party's, back through
    the route set (RFC 3261 16.7)."""
    name = world.wic_number(user, int(number))
    expect.status(world.outcome.response, int(status), f"the remote party, for the {method} of WIC {name}")


@then(parsers.re(rf"WIC (?P<number>\d+) of {USER} receives no (?P<method>INVITE|BYE|INFO)$"))
def numbered_wic_gets_none(world: World, number: str, user: str, method: str) -> None:
    """5.2.2.5.4 step 5: the session (an INVITE, a request of its dialog) is delivered to the WICs
    registered for it, not to this one (nothing of it came within the settle window)."""
    world.settle()
    name = world.wic_number(user, int(number))
    expect.none(world.received_by_wic(name, method, at_least=0), f"{method} at WIC {name}")


@then(parsers.re(rf"every WIC of {USER} receives the INVITE"))
def every_wic_invited(world: World, user: str) -> None:
    for name in world.wics_of(user):
        expect.single(world.received_by_wic(name, "INVITE"), f"INVITE at WIC {name}")


@then(
    parsers.re(
        rf"every WIC of {USER} but WIC (?P<number>\d+) receives a CANCEL "
        rf"with the reason cause 200, {CHOICE}"
    )
)
def others_cancelled(world: World, profile: ProfileChecks, user: str, number: str, choice: str) -> None:
    """RFC 3261 16.7 step 10 (the text's check): every other branch gets its CANCEL, one transaction
    at each WIC; TERM_FORK_CANCEL judges the capture (the branches cancelled after the 2xx) and its
    Reason with cause 200 (RFC 3326), the solution profile's choice, a profile check."""
    for name in world.other_wics(user, int(number)):
        expect.cancelled(world.received_by_wic(name, "CANCEL"), name)
    judged_by(world, profile, ["TERM_FORK_CANCEL"], choice)


@then(parsers.re(rf"WIC (?P<number>\d+) of {USER} receives no CANCEL"))
def winner_not_cancelled(world: World, number: str, user: str) -> None:
    world.settle()
    expect.none(world.received_by_wic(world.wic_number(user, int(number)), "CANCEL", at_least=0), "CANCEL")


@then(parsers.re(r"the remote party receives exactly one (?P<status>\d{3})"))
def exactly_one(world: World, status: str) -> None:
    world.settle()
    expect.count(world.final_responses_at_remote(int(status)), 1, f"{status} responses at the remote party")


@given(parsers.re(rf"every WIC of {USER} rings and does not answer"))
def wics_ring(world: World, user: str) -> None:
    """5.2.2.5.4 step 5: each WIC the session is delivered to alerts (180) and is not answered."""
    world.ring_without_answering(user)


REFUSALS = {"486 Busy Here": "busy", "480 Temporarily Unavailable": "decline"}
REFUSAL = r"(?P<{}>486 Busy Here|480 Temporarily Unavailable)"


@given(
    parsers.re(
        rf"WIC (?P<first>\d+) of {USER} refuses the session with {REFUSAL.format('refusal')} and "
        rf"WIC (?P<second>\d+) of that user with {REFUSAL.format('later')} a little later"
    )
)
def wics_refuse(world: World, first: str, user: str, refusal: str, second: str, later: str) -> None:
    """5.2.2.5.4 step 5: the WICs the session is delivered to refuse it (RFC 3261 8.2.6), in turn."""
    world.refuse_in_turn(user, [(int(first), REFUSALS[refusal]), (int(second), REFUSALS[later])])


@when(parsers.re(rf"the remote party calls {USER} and cancels the call while every WIC of that user rings"))
def remote_calls_then_cancels(world: World, user: str) -> None:
    """5.2.2.5.4 step 1 (the session arrives at the I-CSCF), then RFC 3261 9.1: the caller
    CANCELs it while every WIC rings (after step 5)."""
    world.call_then_cancel(user)


@when(
    parsers.re(
        rf"the remote party calls {USER} and lets every WIC of that user ring past the eP-CSCF's Timer C"
    )
)
def remote_calls_past_timer_c(world: World, user: str) -> None:
    """5.2.2.5.4 steps 1 to 5: the session is forked to every WIC of the user, each rings and none
    answers; the nodes' clock passes the eP-CSCF's Timer C (RFC 3261 16.6 item 11: the reference's,
    or the PIXIT's ``[timing] timer_c``; inconclusive without one)."""
    world.call_past_timer_c(user)


@then("the remote party's CANCEL is answered with 200")
def remote_cancel_answered(world: World) -> None:
    """RFC 3261 9.2 and 16.10: the CANCEL matched the INVITE's transaction at the next hop,
    which answers it 200 (hop by hop) whatever happens to the INVITE."""
    expect.status(world.cancel_answer, 200, "the I-CSCF (the caller's next hop)")


@then(parsers.re(rf"every WIC of {USER} receives a CANCEL"))
def every_wic_cancelled(world: World, user: str) -> None:
    """RFC 3261 16.10: "A proxy MUST cancel any pending client transactions associated with a
    response context when it receives a matching CANCEL request": every branch of the fork
    (5.2.2.5.4 step 5, 5.2.2.3.2) is cancelled, none left ringing."""
    for name in world.wics_of(user):
        expect.single(world.received_by_wic(name, "CANCEL"), f"CANCEL at WIC {name}")


@then(parsers.re(r"the remote party receives no 2xx"))
def no_2xx_at_remote(world: World) -> None:
    """No branch's answer makes a session once the caller cancelled or every branch failed."""
    world.settle()
    expect.none([r for _, r in world.finals_at_remote() if 200 <= r.status < 300], "2xx at the remote party")


@then(
    parsers.re(
        rf"every CANCEL a WIC of {USER} receives carries the Reason of the CANCEL that reached the "
        rf"eP-CSCF, {CHOICE}"
    )
)
def cancel_reason_copied(world: World, profile: ProfileChecks, user: str, choice: str) -> None:
    """RFC 3326 2: a proxy generating a CANCEL on a CANCEL from the previous hop that carries a
    Reason "SHOULD copy it into the new CANCEL request": a SHOULD, so the profile's choice. The
    Reason the eP-CSCF got is read on the wire (S-CSCF -> eP-CSCF), so that the core's handling
    of it is not held against the eP-CSCF."""
    captured = world.captured_requests("CANCEL", "s-cscf", "ep-cscf")
    incoming = expect.single(captured, "CANCEL S-CSCF -> eP-CSCF")
    reason = incoming.get("Reason")

    def copied() -> None:
        for name in world.wics_of(user):
            got = expect.single(world.received_by_wic(name, "CANCEL"), f"CANCEL at WIC {name}").get("Reason")
            assert reason is None or got == reason, (
                f"expected the CANCEL at WIC {name} to carry Reason: {reason}, got {got!r}"
            )

    profile.check(choice, copied)


@then(
    parsers.re(
        rf"the remote party receives exactly one final response, one of the refusals the WICs of {USER} sent"
    )
)
def one_of_the_refusals(world: World, user: str) -> None:
    """RFC 3261 16.7 step 6: once every branch has a final response and none was forwarded, the
    proxy "MUST forward a response from the responses stored in the response context"; one
    final response per request (16.7 step 5: no 3xx-6xx is forwarded immediately)."""
    world.settle()
    final = expect.single(world.finals_at_remote(), "final response at the remote party")[1]
    refusals = sorted({r.status for wic in world.wics_of(user).values() for _, r in wic.finals_sent})
    assert final.status in refusals and final.status >= 300, (
        f"expected the remote party's final response to be one of the WICs' refusals {refusals}, "
        f"got {final.status} {final.reason}"
    )


@then(parsers.re(rf"the remote party receives it only after every WIC of {USER} has refused the session"))
def refused_by_all_first(world: World, user: str) -> None:
    """RFC 3261 16.7 steps 4-6: a 3xx-6xx of a branch is stored, not forwarded; the final
    response goes upstream once "all client transactions in this response context have been
    terminated". Each WIC's own refusal (not a 487 to a CANCEL) must precede its arrival."""
    arrived = expect.single(world.finals_at_remote(), "final response at the remote party")[0]
    for name, wic in world.wics_of(user).items():
        wanted = FAILURES[wic.answer_mode]
        sent = [at for at, r in wic.finals_sent if r.status == wanted]
        assert sent and sent[0] <= arrived, (
            f"expected WIC {name} to have refused with {wanted} before the remote party's final "
            f"response; it sent {[r.status for _, r in wic.finals_sent] or 'none'}"
            + (f", {sent[0] - arrived:.2f} s after it" if sent else " by then")
        )


@then(parsers.re(rf"the remote party's final response is the first refusal, (?P<status>\d{{3}}), {CHOICE}"))
def first_refusal(world: World, profile: ProfileChecks, status: str, choice: str) -> None:
    """RFC 3261 16.7 step 6: "The proxy MAY select any response within that chosen class": which
    4xx goes back when every WIC refused with one is the profile's choice (the first received)."""
    finals = world.finals_at_remote()
    profile.check(choice, lambda: expect.status(expect.single(finals, "final response")[1], int(status)))


RULE_IDS = r"(?P<rules>[A-Z0-9_]+(?: and [A-Z0-9_]+)*)"


@then(parsers.re(rf"the capture of the session passes the verify rules? {RULE_IDS}"))
def capture_passes_rules(world: World, profile: ProfileChecks, rules: str) -> None:
    """The same rules as ``wimpu-conformance verify`` (captures/rules/), on this scenario's capture:
    every flow of the last session must pass each named rule, and at least one must apply; a rule's
    deviation from a solution-profile choice is a profile deviation of the scenario."""
    judged_by(world, profile, rules.split(" and "))
