"""Step vocabulary of WIC registration (TR 23.701 5.2.2.5.2) and its security checks."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from steps.harness import expect
from steps.harness.world import World


@given(parsers.parse("{user} has logged in at the WWSF and received a security token"))
def logged_in(world: World, user: str) -> None:
    world.login(user)


@given(parsers.parse('WIC "{wic}" of {user} has opened a WSS connection to the eP-CSCF of its block'))
def wic_connected(world: World, wic: str, user: str) -> None:
    world.connect(wic, user)
    expect.handshake_accepted(world.outcome)


@when(
    parsers.parse(
        'WIC "{wic}" of {user} opens a WSS connection to the eP-CSCF of its block from origin "{origin}"'
    )
)
def wic_connects_from(world: World, wic: str, user: str, origin: str) -> None:
    world.connect(wic, user, origin=origin)


@given(parsers.parse('WIC "{wic}" has registered with the identity and the token of {user}'))
def wic_has_registered(world: World, wic: str, user: str) -> None:
    expect.status(world.register(wic, user), 200)
    world.remember_impu(user)


@when(parsers.parse('WIC "{wic}" registers with the identity and the token of {user}'))
def wic_registers(world: World, wic: str, user: str) -> None:
    world.register(wic, user)


@when(parsers.parse('WIC "{wic}" registers with the identity of {user} and no token'))
def wic_registers_without_token(world: World, wic: str, user: str) -> None:
    world.register(wic, user, with_token=False)


@when(parsers.parse('WIC "{wic}" registers as "{identity}" with the token of {user}'))
def wic_registers_as(world: World, wic: str, identity: str, user: str) -> None:
    world.register(wic, user, identity=identity)


@when(parsers.parse('WIC "{wic}" de-registers'))
def wic_deregisters(world: World, wic: str) -> None:
    world.register(wic, world.user_of(wic), expires=0)


@then(parsers.parse("the wIMPU Registrar holds a registration for {user} with {count:d} contact"))
@then(parsers.parse("the wIMPU Registrar holds a registration for {user} with {count:d} contacts"))
def registrar_holds(world: World, user: str, count: int) -> None:
    expect.live_contacts(world.registration_of(user), count, f"the registration of {user}")


@then(parsers.re(r'the wIMPU Registrar holds no registration for "(?P<identity>[^"]+)"'))
def registrar_holds_none_for_identity(world: World, identity: str) -> None:
    expect.no_entry(world.registration_for(identity), identity)


@then(parsers.re(r"the wIMPU Registrar holds no registration for (?P<user>\w+)$"))
def registrar_holds_none(world: World, user: str) -> None:
    expect.no_entry(world.registration_of(user), world.identity_of(user))


@then(
    parsers.parse(
        'the wIMPU Registrar binds {user}\'s external identity to an individual IMPU of block "{wimpu}"'
    )
)
def registrar_binds(world: World, user: str, wimpu: str) -> None:
    expect.option_b_binding(world.registration_of(user), world.identity_of(user), wimpu)


@then(parsers.parse("the individual IMPU of {user} has not changed"))
def impu_unchanged(world: World, user: str) -> None:
    expect.same_impu(world.registration_of(user), world.remembered_impu(user))


@then(parsers.parse("the eP-CSCF refuses the WebSocket handshake with HTTP {status:d}"))
def handshake_refused(world: World, status: int) -> None:
    expect.handshake_refused(world.outcome, status)


@then("the response challenges for a Bearer token from the WWSF")
def bearer_challenge(world: World) -> None:
    expect.bearer_challenge(world.outcome.response, world.stack.wwsf.origin)
