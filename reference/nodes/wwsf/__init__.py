"""WWSF: the web server that authenticates users and issues their security token.

TR 23.701 5.2.2.5.2 step 1; the block -> eP-CSCF directory of 5.2.2.1 and 5.2.2.2.
``tokens`` and ``users`` have no I/O; ``service`` is the aiohttp HTTPS shell.
"""

from reference.nodes.wwsf.service import DirectoryEntry, EpCscf, WwsfService
from reference.nodes.wwsf.tokens import ALGORITHM, Token, TokenIssuer
from reference.nodes.wwsf.users import User, UserConfig, UserStore

__all__ = [
    "ALGORITHM",
    "DirectoryEntry",
    "EpCscf",
    "Token",
    "TokenIssuer",
    "User",
    "UserConfig",
    "UserStore",
    "WwsfService",
]
