"""The scenario's world: the system under test and the peers the suite plays around it.

Today the system under test is the bundled reference stack, started fresh for each
scenario (full isolation). Observation of the registrar goes through its W6 API only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.sip.message import Response
from reference.stack import Stack, StackConfig

from .loop import BackgroundLoop
from .wic import HandshakeRefused, Login, Wic, web_login

__all__ = ["World"]


@dataclasses.dataclass
class Outcome:
    """The last thing the system under test answered."""

    response: Response | None = None
    refused: HandshakeRefused | None = None


class World:
    """Everything one scenario needs, with synchronous methods for the steps."""

    def __init__(self, loop: BackgroundLoop) -> None:
        self.loop = loop
        self.stack = Stack(StackConfig())
        self.loop.run(self.stack.start())
        self.w6 = RegistrarClient(self.stack.registrar.base_url)
        self.users = {u.username: u for u in self.stack.config.users}
        self.logins: dict[str, Login] = {}
        self.wics: dict[str, Wic] = {}
        self.outcome = Outcome()
        self.allocated: dict[str, str] = {}
        self.wic_users: dict[str, str] = {}

    def close(self) -> None:
        async def stop() -> None:
            for wic in self.wics.values():
                await wic.close()
            await self.w6.close()
            await self.stack.stop()

        self.loop.run(stop())

    # ----- peers ---------------------------------------------------------------------

    def login(self, user: str) -> Login:
        spec = self.users[user]
        ctx = self.stack.pki.client_context()
        login = self.loop.run(web_login(self.stack.wwsf.origin, spec.username, spec.password, ctx))
        self.logins[user] = login
        return login

    def connect(self, wic_name: str, user: str, *, origin: str | None = None) -> None:
        login = self.logins.get(user) or self.login(user)
        wic = Wic(wic_name, ssl_context=self.stack.pki.client_context())
        self.wics[wic_name] = wic
        self.wic_users[wic_name] = user
        try:
            self.loop.run(wic.connect(login.ep_cscf_url, origin=origin or self.stack.wwsf.origin))
            self.outcome = Outcome()
        except HandshakeRefused as exc:
            self.outcome = Outcome(refused=exc)

    def register(
        self,
        wic_name: str,
        user: str,
        *,
        identity: str | None = None,
        with_token: bool = True,
        expires: int = 600,
    ) -> Response:
        login = self.logins[user]
        response = self.loop.run(
            self.wics[wic_name].register(
                identity or login.identity, token=login.token if with_token else None, expires=expires
            )
        )
        self.outcome = Outcome(response=response)
        return response

    def user_of(self, wic_name: str) -> str:
        return self.wic_users[wic_name]

    def remember_impu(self, user: str) -> None:
        entry = self.registration_of(user)
        if entry is not None:
            self.allocated.setdefault(user, entry["impu"])

    def remembered_impu(self, user: str) -> str | None:
        return self.allocated.get(user)

    def identity_of(self, user: str) -> str:
        return self.users[user].identity

    # ----- observation ---------------------------------------------------------------

    def registration_of(self, user: str) -> dict[str, Any] | None:
        """The registrar entry for a user's identity, read over W6."""
        identity = self.identity_of(user)
        if identity.partition("@")[2].endswith(self.stack.config.ims_domain):
            return self.loop.run(self.w6.read(identity))
        return self.loop.run(self.w6.read_by_external(identity))

    def registration_for(self, identity: str) -> dict[str, Any] | None:
        return self.loop.run(self.w6.read(identity))
