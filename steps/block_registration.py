"""Step vocabulary of the block registration of a wIMPU range (TR 23.701 5.2.2.5.1)."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_bdd import given, parsers, then

from conformance.harness import expect
from conformance.harness.profile import CHOICE_STEP as CHOICE
from conformance.harness.profile import ProfileChecks
from conformance.harness.tables import rows
from conformance.harness.world import World

BLOCK = r'block "(?P<wimpu>[^"]+)"'


@given(parsers.re(rf"{BLOCK} has not been registered with the S-CSCF"))
def block_not_registered(world: World, wimpu: str) -> None:
    expect.block_not_registered(world.block_registration_of(wimpu))


@then(parsers.re(rf'the S-CSCF holds a single registration of {BLOCK}, made by eP-CSCF "(?P<ep_cscf>[^"]+)"'))
def single_block_registration(world: World, wimpu: str, ep_cscf: str) -> None:
    expect.single_block_registration(world.block_registration_of(wimpu), ep_cscf)


@then(parsers.re(rf"the 200 OK to the registration of {BLOCK} carried a Service-Route"))
def block_service_route(world: World, wimpu: str) -> None:
    expect.service_route(world.block_registration_of(wimpu))


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
    view = world.block_registration_of(wimpu)
    profile.check(choice, lambda: expect.associated_uris(view, distinct))


@then("the WWSF announces these wIMPU blocks of the third party, each with the eP-CSCF serving it:")
def wwsf_announces(world: World, datatable: Sequence[Sequence[str]]) -> None:
    wanted = [(row["wIMPU block"], world.ep_cscf(row["eP-CSCF"])) for row in rows(datatable)]
    expect.directory(world.wwsf_directory(), wanted)


@then("no two wIMPU blocks the WWSF announces share an eP-CSCF")
def blocks_do_not_share(world: World) -> None:
    expect.distinct_ep_cscfs(world.wwsf_directory())
