"""Faults injected into the reference implementation, to prove each scenario can fail.

Each fault is a misbehaviour a real eP-CSCF, I-CSCF or registrar could have. It is
applied from outside, as a pytest plugin (``-p wimpu_faults`` with ``WIMPU_FAULT=name``),
by replacing one function of the reference: the reference itself carries no test
switches. ``test_mutants.py`` runs the scenarios that guard against each fault with the
fault applied and expects them to fail.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import pytest

Patch = Callable[[pytest.MonkeyPatch], None]


@dataclasses.dataclass(frozen=True)
class Fault:
    description: str
    apply: Patch


def _token_not_checked(mp: pytest.MonkeyPatch) -> None:
    import reference.nodes.iwf.service as iwf

    mp.setattr(iwf, "validate", lambda *a, **k: None)


def _origin_not_checked(mp: pytest.MonkeyPatch) -> None:
    import reference.transport.websocket as ws

    mp.setattr(ws, "origin_allowed", lambda origin, allowed: True)


def _deregistration_ignored(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf import flows
    from reference.nodes.p_cscf.service import Pcscf

    original = Pcscf._effect

    async def effect(self: Pcscf, effect: object, flow_token: str) -> Any:
        if isinstance(effect, flows.W6Remove):
            return None
        return await original(self, effect, flow_token)

    mp.setattr(Pcscf, "_effect", effect)


def _registration_not_stored(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf import flows
    from reference.nodes.p_cscf.service import Pcscf

    original = Pcscf._effect

    async def effect(self: Pcscf, effect: object, flow_token: str) -> Any:
        if isinstance(effect, flows.W6Write):
            return "new-registration", {"contacts": []}
        return await original(self, effect, flow_token)

    mp.setattr(Pcscf, "_effect", effect)


def _new_impu_per_contact(mp: pytest.MonkeyPatch) -> None:
    """Option B: a second WIC of the same user gets a different IMPU (no W6 lookup)."""
    import secrets

    from reference.nodes.p_cscf.flows import BlockConfig

    mp.setattr(
        BlockConfig, "allocate", lambda self, external: f"sip:wrtc-{secrets.token_hex(6)}@{self.wimpu.host}"
    )
    from reference.nodes.p_cscf import flows
    from reference.nodes.p_cscf.service import Pcscf

    original = Pcscf._effect

    async def effect(self: Pcscf, effect: object, flow_token: str) -> Any:
        if isinstance(effect, flows.W6ReadByExternal):
            return None
        return await original(self, effect, flow_token)

    mp.setattr(Pcscf, "_effect", effect)


def _external_identity_as_impu(mp: pytest.MonkeyPatch) -> None:
    """Option B: no allocation; the external identity is used as the IMPU."""
    from reference.nodes.p_cscf.flows import BlockConfig

    mp.setattr(BlockConfig, "allocate", lambda self, external: external)


FAULTS: dict[str, Fault] = {
    "token_not_checked": Fault("the eP-CSCF does not validate the WWSF token (step 4)", _token_not_checked),
    "origin_not_checked": Fault(
        "the IWF accepts any Origin at the WebSocket handshake (step 2)", _origin_not_checked
    ),
    "deregistration_ignored": Fault(
        "the eP-CSCF keeps the registrar entry after de-registration", _deregistration_ignored
    ),
    "registration_not_stored": Fault(
        "the eP-CSCF answers 200 without storing the registration (step 6)", _registration_not_stored
    ),
    "new_impu_per_contact": Fault(
        "option B: each WIC of one user gets its own IMPU (step 6 binding)", _new_impu_per_contact
    ),
    "external_identity_as_impu": Fault(
        "option B: the eP-CSCF allocates no IMPU from the block", _external_identity_as_impu
    ),
}


def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get("WIMPU_FAULT")
    if not name:
        return
    if name not in FAULTS:
        raise pytest.UsageError(f"WIMPU_FAULT={name!r} is not one of {sorted(FAULTS)}")
    patcher = pytest.MonkeyPatch()
    FAULTS[name].apply(patcher)
    config.add_cleanup(patcher.undo)
