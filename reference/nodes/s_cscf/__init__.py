"""S-CSCF of the reference stack: standard TS 23.228 procedures with a wildcarded IMPU.

TR 23.701 5.2.2.3 (Solution impacts): "There are no impacts on the S-CSCF, or HSS."

Modules::

    config     ScscfConfig: names, next hops, registration limits
    registrar  block registration (TS 23.228 5.2.2.3, RFC 3261 10.3, Path, Service-Route)
    flows      Scscf: the registrar plus terminating and originating routing

SIP digest (challenges, checks) is part of the SIP core, ``reference.sip.digest``: the
P-CSCF's block registration answers the S-CSCF's challenge with it too.
"""

from reference.nodes.s_cscf.config import ScscfConfig
from reference.nodes.s_cscf.flows import Forward, OriginatingDecision, Respond, Scscf, TerminatingDecision
from reference.nodes.s_cscf.registrar import Binding, Registration, ScscfRegistrar

__all__ = [
    "Binding",
    "Forward",
    "OriginatingDecision",
    "Registration",
    "Respond",
    "Scscf",
    "ScscfConfig",
    "ScscfRegistrar",
    "TerminatingDecision",
]
