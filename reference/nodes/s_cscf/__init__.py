"""S-CSCF of the reference stack: standard TS 23.228 procedures with a wildcarded IMPU.

TR 23.701 5.2.2.3 (Solution impacts): "There are no impacts on the S-CSCF, or HSS."

Modules::

    config     ScscfConfig: names, next hops, registration limits
    digest     SIP digest (RFC 3261 22.4, RFC 7616, RFC 8760): challenges, checks
    registrar  block registration (TS 23.228 5.2.2.3, RFC 3261 10.3, Path, Service-Route)
    flows      Scscf: the registrar plus terminating and originating routing
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
