"""No built-in secret (issue 13, item 4): block passwords are generated or configured.

A block's digest password at the S-CSCF/HSS used to default to one constant of the code;
with it anyone could add a binding to a block or ``Contact: *`` the block away. Now it is
taken from the configuration or generated at random into the state directory (mode 0600).
"""

from __future__ import annotations

import dataclasses
import re
import stat
from pathlib import Path

from tally import Family

from conformance.harness.remote import RemoteParty
from reference.nodes.p_cscf.block_registration import BlockRegistrationError
from reference.stack import Stack, StackConfig
from reference.transport.endpoint import Target

ROOT = Path(__file__).resolve().parents[2]
OLD = "block-" + "secret"


def test_no_block_password_literal_remains_in_the_code() -> None:
    found = [
        str(p.relative_to(ROOT))
        for folder in ("reference", "conformance", "steps", "captures")
        for p in (ROOT / folder).rglob("*.py")
        if OLD in p.read_text(encoding="utf-8") or re.search(r"f\"ims-\{i\}\"", p.read_text(encoding="utf-8"))
    ]
    assert found == [], f"a constant block password is still in {found}"


def test_two_fresh_state_directories_get_different_block_passwords(tmp_path: Path) -> None:
    first = Stack(StackConfig(state_dir=str(tmp_path / "one")))
    second = Stack(StackConfig(state_dir=str(tmp_path / "two")))
    again = Stack(StackConfig(state_dir=str(tmp_path / "one")))
    one, two = ([b.password for b in s.config.blocks] for s in (first, second))
    assert all(p and len(p) >= 20 for p in one + two), (one, two)
    assert not set(one) & set(two) and len(set(one)) == len(one), "passwords repeat"
    assert [b.password for b in again.config.blocks] == one, "not kept across runs of one state directory"
    for block in first.config.blocks:
        path = first.secrets.path(f"block.{block.name}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert first.hss.subscriptions[0].password == one[0], "the S-CSCF/HSS has another value"


def test_a_configured_block_password_is_used() -> None:
    config = StackConfig()
    block = dataclasses.replace(config.blocks[0], password="lab-1")
    stack = Stack(dataclasses.replace(config, blocks=(block, config.blocks[1])))
    try:
        assert stack.config.blocks[0].password == "lab-1"
    finally:
        assert stack._tmp is not None
        stack._tmp.cleanup()


async def test_register_with_the_old_constant_is_refused_by_the_s_cscf() -> None:
    family = Family("block REGISTER with the old built-in password")
    stack = Stack()
    await stack.start()
    party = RemoteParty("attacker.example.org")
    await party.start()
    try:
        scscf = Target("TCP", stack.config.host, stack.scscf.node.port)
        for block in stack.config.blocks:
            domain = stack.config.ims_domain
            try:
                response = await party.register_in_ims(
                    stack.block_representative(block), impi=f"{block.name}@{domain}", password=OLD,
                    registrar=f"sip:{domain}", scscf=scscf,
                )  # fmt: skip
            except BlockRegistrationError as exc:  # the S-CSCF's final refusal
                family.judge(f"{block.name}: {exc}", refused=" 403 " in str(exc) or " 401 " in str(exc))
            else:
                family.judge(f"{block.name}: {response.status}", refused=response.status in (401, 403))
    finally:
        await party.stop()
        await stack.stop()
    family.assert_clean()
