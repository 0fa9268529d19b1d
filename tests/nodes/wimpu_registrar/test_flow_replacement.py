"""RFC 5626 6 at the registrar: removing the contact of a closed flow is conditional on the flow."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reference.nodes.wimpu_registrar import AllocatedBy, ContactWrite, PreconditionFailed, Store

T0 = 1_700_000_000.0
IMPU = "sip:wrtc-0001@block1.ims.example.net"
WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"


def test_a_contact_moved_to_a_new_flow_survives_the_close_of_the_old_one(
    store: Store, make_contact: Callable[..., ContactWrite]
) -> None:
    store.upsert_contact(IMPU, WIMPU, AllocatedBy.THIRD_PARTY, None, make_contact("c1", flow="ws-1"), T0)
    store.upsert_contact(IMPU, WIMPU, AllocatedBy.THIRD_PARTY, None, make_contact("c1", flow="ws-2"), T0 + 1)
    with pytest.raises(PreconditionFailed) as info:
        store.remove_contact(IMPU, "c1", T0 + 2, flow="ws-1")  # the old flow closes
    assert info.value.status == 412
    entry = store.read(IMPU, T0 + 2)
    assert entry is not None and [c.flow for c in entry.contacts] == ["ws-2"]
    assert store.remove_contact(IMPU, "c1", T0 + 3, flow="ws-2") is None  # the new one closes
    assert store.read(IMPU, T0 + 3) is None
