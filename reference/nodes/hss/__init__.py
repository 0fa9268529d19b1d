"""HSS of the reference stack: a standard data set holding wildcarded IMPUs.

TR 23.701 5.2.2.3 (Solution impacts): "There are no impacts on the S-CSCF, or HSS."
"""

from reference.nodes.hss.data import HssData, HssDataError, PublicIdentityLookup, Subscription

__all__ = ["HssData", "HssDataError", "PublicIdentityLookup", "Subscription"]
