"""Flow tokens (RFC 5626 5.2): unguessable, integrity-protected, per IWF."""

from __future__ import annotations

import pytest

from reference.nodes.iwf.flow_token import FlowTokens


def test_a_minted_token_names_its_flow() -> None:
    tokens = FlowTokens("ep-cscf1")
    token = tokens.mint(42)
    assert token.startswith("ep-cscf1.42.") and tokens.flow_id(token) == 42


def test_tokens_of_another_key_or_name_or_shape_name_no_flow() -> None:
    tokens = FlowTokens("ep-cscf1")
    token = tokens.mint(42)
    assert FlowTokens("ep-cscf1").flow_id(token) is None  # another run: another key
    assert FlowTokens("ep-cscf2", key=b"k").flow_id(FlowTokens("ep-cscf1", key=b"k").mint(1)) is None
    forged = [
        "ep-cscf1.42",  # the old, sequential form
        "ep-cscf1.43." + token.rpartition(".")[2],  # a MAC moved to another flow
        token[:-1] + ("0" if token[-1] != "0" else "1"),  # one hex digit changed
        token + "0",
        "ep-cscf1.-1." + "0" * 32,
        "ep-cscf1." + "9" * 30 + "." + "0" * 32,
        "",
    ]
    assert [tokens.flow_id(t) for t in forged] == [None] * len(forged)


def test_repr_hides_the_key_and_a_name_with_a_dot_is_refused() -> None:
    assert "key" not in repr(FlowTokens("ep-cscf1", key=b"secret-key")).lower()
    with pytest.raises(ValueError):
        FlowTokens("ep.cscf1")
