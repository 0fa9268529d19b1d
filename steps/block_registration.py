"""Step vocabulary of the block registration of a wIMPU range (TR 23.701 5.2.2.5.1)."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_bdd import given, parsers, then, when

from conformance.harness import expect
from conformance.harness.profile import CHOICE_STEP as CHOICE
from conformance.harness.profile import ProfileChecks
from conformance.harness.tables import rows
from conformance.harness.world import World
from steps.common import judged_by

BLOCK = r'block "(?P<wimpu>[^"]+)"'


@given(parsers.re(rf"{BLOCK} has not been registered with the S-CSCF"))
@then(parsers.re(rf"{BLOCK} has not been registered with the S-CSCF"))
def block_not_registered(world: World, wimpu: str) -> None:
    """5.2.2.5.1 option 2 (registered on the first WIC registration): before it, the capture shows
    no live registration of the block; a block the S-CSCF refused (TP_WIMPU_BLK_008) has none after."""
    expect.block_not_registered(world.live_block_registrations(wimpu), wimpu)


@then(parsers.re(rf"the S-CSCF refused the authenticated registration of {BLOCK}"))
def block_registration_refused(world: World, wimpu: str) -> None:
    """5.2.2.5.1: the eP-CSCF did try to register the block (a REGISTER with credentials, after the
    S-CSCF's challenge), and the S-CSCF answered it with a refusal (403: RFC 3261 22.4, the
    credentials do not match the HSS's), on the wire between the eP-CSCF and the S-CSCF."""
    tried = [r for r in world.captured_requests("REGISTER", "ep-cscf", "s-cscf") if r.get("Authorization")]
    assert tried, (
        f"expected the eP-CSCF to register block {wimpu} with credentials; no such REGISTER was captured"
    )
    refusals = [r for r in world.captured_responses("REGISTER", "s-cscf", "ep-cscf") if r.status >= 403]
    assert refusals, (
        f"expected the S-CSCF to refuse the registration of block {wimpu}; it answered "
        f"{[r.status for r in world.captured_responses('REGISTER', 's-cscf', 'ep-cscf')]}"
    )


SINGLE_REGISTRATION = (
    rf'the S-CSCF holds a single registration of {BLOCK}, made by eP-CSCF "(?P<ep_cscf>[^"]+)"'
)


@given(parsers.re(SINGLE_REGISTRATION))  # the initial condition of a scenario, judged as the outcome is
@then(parsers.re(SINGLE_REGISTRATION))
def single_block_registration(world: World, profile: ProfileChecks, wimpu: str, ep_cscf: str) -> None:
    """5.2.2.1 "A single IMS registration is performed per block of wIMPU", 5.2.2.5.1 "The eP-CSCF
    would need to trigger the IMS registration of the wIMPU block": judged by BLK_SINGLE and
    BLK_FROM_ITS_EP_CSCF on every block registration of the capture; and the S-CSCF holds one
    live registration of this block, made by ``ep_cscf`` (the rules' own record of it)."""
    judged_by(world, profile, ["BLK_SINGLE", "BLK_FROM_ITS_EP_CSCF"], session=False)
    expect.single_block_registration(world.live_block_registrations(wimpu), wimpu, ep_cscf)


@when(parsers.re(rf"all but one second of the registration interval the S-CSCF granted to {BLOCK} passes"))
def block_interval_all_but_one_second(world: World, wimpu: str) -> None:
    """The tester's clock moves to one second before the block's registration would run out."""
    world.let_time_pass(world.block_granted(wimpu) - 1)


@given(parsers.re(rf"the S-CSCF stops answering the registrations of {BLOCK}"))
def scscf_ignores_block(world: World, wimpu: str) -> None:
    """The S-CSCF becomes unreachable for the block's REGISTERs (its refreshes go unanswered); it
    serves everything else. Only where the S-CSCF is the tester's (otherwise inconclusive)."""
    world.scscf_ignores_block(wimpu)


@when(parsers.re(rf"the registration interval the S-CSCF granted to {BLOCK} passes once more"))
def block_interval_passes(world: World, wimpu: str) -> None:
    world.let_time_pass(world.block_granted(wimpu))


@then(
    parsers.re(
        rf'eP-CSCF "(?P<ep_cscf>[^"]+)" has registered {BLOCK} again with the S-CSCF before its '
        r"registration ran out"
    )
)
def block_refreshed(world: World, ep_cscf: str, wimpu: str) -> None:
    """TR 23.701 5.2.2.5.1: the block's single IMS registration is "as per existing 23.228
    procedures": the registering UE (here the eP-CSCF) re-registers before the registration
    expires (TS 24.229 5.1.1.4.1). Checked on the wire, one second before it would run out: the
    S-CSCF accepted a second REGISTER of the block, sent by the same eP-CSCF."""
    expect.block_refreshed(world.block_registrations_accepted(wimpu, at_least=2), ep_cscf, wimpu)


@then(parsers.re(rf"the 200 OK to the registration of {BLOCK} carried a Service-Route"))
def block_service_route(world: World, wimpu: str) -> None:
    """5.2.2.5.1 "as per existing 23.228 procedures" (TS 24.229 5.4.1.2.2: the S-CSCF returns its
    Service-Route): the route of the block's WICs' initial requests (ORIG_SERVICE_ROUTE)."""
    expect.service_route(expect.one_block_registration(world.live_block_registrations(wimpu), wimpu), wimpu)


@then(
    parsers.re(
        rf'the 200 OK to the registration of {BLOCK} listed "(?P<distinct>[^"]+)" first '
        rf"and the wildcarded IMPU after it in P-Associated-URI, {CHOICE}"
    )
)
def block_associated_uris(
    world: World, profile: ProfileChecks, wimpu: str, distinct: str, choice: str
) -> None:
    """5.2.2.5.1 says only "as per existing 23.228 procedures": the distinct IMPU of the block and the
    wildcarded IMPU after it in P-Associated-URI is the profile's (open point 8): a profile check."""
    record = expect.one_block_registration(world.live_block_registrations(wimpu), wimpu)
    profile.check(choice, lambda: expect.associated_uris(record, wimpu, distinct))


@then("the WWSF announces these wIMPU blocks of the third party, each with the eP-CSCF serving it:")
def wwsf_announces(world: World, datatable: Sequence[Sequence[str]]) -> None:
    wanted = [(row["wIMPU block"], world.ep_cscf(row["eP-CSCF"])) for row in rows(datatable)]
    expect.directory(world.wwsf_directory(), wanted)


@then("no two wIMPU blocks the WWSF announces share an eP-CSCF")
def blocks_do_not_share(world: World) -> None:
    expect.distinct_ep_cscfs(world.wwsf_directory())


@then(parsers.re(rf"no WIC's registration made the eP-CSCF register {BLOCK} with the S-CSCF again, {CHOICE}"))
def block_not_registered_per_wic(world: World, profile: ProfileChecks, wimpu: str, choice: str) -> None:
    """Solution profile, ``PROFILE_BLK_NO_PER_WIC`` (a profile check: the text does not forbid a
    refresh of the block's one binding): 5.2.2.5.1 registers the block upon initialisation (option 1)
    or upon the first WIC registration (option 2), and 5.2.2.5.2 goes no further than the eP-CSCF
    and the wIMPU Registrar. Judged by ``BLK_NOT_PER_WIC`` on every WIC registration of the capture
    made while the block's registration was live and not due for refresh."""
    judged_by(world, profile, ["BLK_NOT_PER_WIC"], choice, session=False)
