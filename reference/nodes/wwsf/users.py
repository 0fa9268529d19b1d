"""The WWSF's users: the "common web authentication procedure" of 5.2.2.5.2 step 1.

Passwords are kept only as scrypt hashes (RFC 7914) with a random salt per user and are
compared in constant time; an unknown user name costs the same hash as a known one, so
the time of a failed login does not say whether the user exists. Nothing in this module
ever puts a password into a ``repr()``, a log line or an exception message.

:func:`check_credentials` says why a user name or password can never be right (too long,
not encodable as UTF-8, e.g. a lone surrogate from a JSON ``"\\ud800"`` escape),
so the service answers 400 with that reason before hashing anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import NotRequired, TypedDict

__all__ = [
    "MAX_PASSWORD_BYTES",
    "MAX_USERNAME_BYTES",
    "User",
    "UserConfig",
    "UserStore",
    "check_credentials",
]

MAX_USERNAME_BYTES = 256
"The longest user name accepted, in UTF-8 bytes."
MAX_PASSWORD_BYTES = 1024
"The longest password accepted, in UTF-8 bytes (scrypt takes any length; this bounds the work)."


def check_credentials(username: str, password: str) -> str | None:
    """Why ``username``/``password`` are malformed (a reason for a 400), or None if well formed.

    The reason never contains the values themselves.
    """
    fields = (("username", username, MAX_USERNAME_BYTES), ("password", password, MAX_PASSWORD_BYTES))
    for name, value, limit in fields:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            return f"'{name}' is not valid Unicode (a lone surrogate?)"
        if size > limit:
            return f"'{name}' is longer than {limit} bytes"
    return None


class UserConfig(TypedDict):
    """One user of the configuration mapping ``username -> UserConfig``."""

    password: str
    identity: str
    "The identity the WIC registers with: an individual IMPU (option A) or an external one (B)."
    block: NotRequired[str]
    "The wIMPU block serving the user; may be omitted when the WWSF has a single block."


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    """An authenticated user (no credential in here)."""

    username: str
    identity: str
    block: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    user: User
    salt: bytes = dataclasses.field(repr=False)
    digest: bytes = dataclasses.field(repr=False)


# scrypt cost: N=2**14, r=8, p=1 (16 MiB), the interactive-login figure of RFC 7914 2.
_N, _R, _P = 2**14, 8, 1


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)


class UserStore:
    """An in-memory user store built from configuration.

    Args:
        users: ``username -> {"password", "identity", "block"?}`` (see :class:`UserConfig`).
    """

    def __init__(self, users: Mapping[str, Mapping[str, object]]) -> None:
        self._records: dict[str, _Record] = {}
        for username, config in users.items():
            password, identity, block = (config.get(k) for k in ("password", "identity", "block"))
            if not isinstance(password, str) or not isinstance(identity, str):
                raise ValueError(f"user {username!r} needs a string 'password' and 'identity'")
            if block is not None and not isinstance(block, str):
                raise ValueError(f"user {username!r}: 'block' must be a string")
            salt = secrets.token_bytes(16)
            user = User(username=username, identity=identity, block=block)
            self._records[username] = _Record(user, salt, _hash(password, salt))
        self._dummy = _Record(User("", "", None), secrets.token_bytes(16), b"\0" * 32)

    def __repr__(self) -> str:
        return f"UserStore({sorted(self._records)!r})"

    def __len__(self) -> int:
        return len(self._records)

    def users(self) -> list[User]:
        """Every configured user."""
        return [record.user for record in self._records.values()]

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None`` (CPU-bound: about 50 ms).

        A malformed password (see :func:`check_credentials`) is never anyone's: None.
        """
        if check_credentials(username, password) is not None:
            return None
        record = self._records.get(username)
        candidate = record or self._dummy
        ok = hmac.compare_digest(_hash(password, candidate.salt), candidate.digest)
        return record.user if ok and record is not None else None
