"""The WWSF's users: the "common web authentication procedure" of 5.2.2.5.2 step 1.

Passwords are kept only as scrypt hashes (RFC 7914) with a random salt per user and are
compared in constant time; an unknown user name costs the same hash as a known one, so
the time of a failed login does not say whether the user exists. Nothing in this module
ever puts a password or a stored hash into a ``repr()``, a log line or an exception message.

A user is configured with one of:

- ``password_hash``: a stored hash in the PHC string format of scrypt,
  ``$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`` (salt and hash in unpadded standard
  base64), as ``wimpu-ref hash-password`` prints it. The cost is read from the string, so a
  stronger cost works, within bounds (:data:`MIN_SCRYPT_WORK`, :data:`MAX_SCRYPT_WORK`,
  :data:`MAX_SCRYPT_MEMORY`): a configuration cannot make one log-in cost unbounded CPU or
  memory, nor configure a hash weaker than RFC 7914's interactive figure. Start-up only parses
  the string (microseconds): this is how an operator configures many users.
- ``password``: plaintext, for the demo users of the reference profile and the test PIXITs.
  It is hashed *lazily*, at the user's first log-in attempt, not at start-up: hashing 1,000
  plaintext passwords one by one at start-up took 40 s (scrypt N=2^14 is about 40 ms each, by
  design), which made a stack with many users slow to answer. The cost of laziness: the first
  log-in attempt of a plaintext user costs two hashes (its own, then the candidate's), so that
  one attempt is distinguishable by its time from an unknown user's; every later one is not.
  Configure ``password_hash`` where that matters (and where the configuration must not hold
  plaintext at all).

:func:`check_credentials` says why a user name or password can never be right (too long,
not encodable as UTF-8, e.g. a lone surrogate from a JSON ``"\\ud800"`` escape),
so the service answers 400 with that reason before hashing anything.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import NotRequired, TypedDict

__all__ = [
    "MAX_PASSWORD_BYTES",
    "MAX_SCRYPT_MEMORY",
    "MAX_SCRYPT_WORK",
    "MAX_USERNAME_BYTES",
    "MIN_SCRYPT_WORK",
    "ScryptHash",
    "User",
    "UserConfig",
    "UserStore",
    "check_credentials",
    "hash_password",
]

MAX_USERNAME_BYTES = 256
"The longest user name accepted, in UTF-8 bytes."
MAX_PASSWORD_BYTES = 1024
"The longest password accepted, in UTF-8 bytes (scrypt takes any length; this bounds the work)."

# scrypt cost of new hashes: N=2**14, r=8, p=1 (16 MiB), the interactive-login figure of RFC 7914 2.
DEFAULT_LN, DEFAULT_R, DEFAULT_P = 14, 8, 1
MIN_SCRYPT_WORK = 2**14 * 8
"The least N*r of a stored hash (128*N*r bytes: 16 MiB of memory): RFC 7914's interactive figure."
MAX_SCRYPT_WORK = 2**17 * 8
"The most N*r*p of a stored hash: 8 times the default (about 0.3 s a log-in), OWASP's N=2^17, r=8."
MAX_SCRYPT_MEMORY = 128 * 2**20
"The most memory (128*N*r bytes) one hash may take: 128 MiB, for each of the WWSF's hash threads."
_SALT_BYTES = (8, 64)
_HASH_BYTES = (16, 64)

_PHC = re.compile(
    r"\$scrypt\$ln=(?P<ln>[1-9][0-9]?),r=(?P<r>[1-9][0-9]{0,3}),p=(?P<p>[1-9][0-9]{0,3})"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)
_PHC_FORM = "$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<hash, base64>"
_PHC_BOUNDED = re.compile(
    r"\$scrypt\$(ln=[1-9][0-9]?,r=[1-9][0-9]{0,3},p=[1-9][0-9]{0,3})"
    r"\$([A-Za-z0-9+/]{11,86})\$([A-Za-z0-9+/]{22,86})"
)
"The fast check of start-up: :data:`_PHC` with the salt (8..64 bytes) and hash (16..64) lengths."


def _check_cost(ln: int, r: int, p: int) -> None:
    n = 2**ln
    if n * r < MIN_SCRYPT_WORK:
        raise ValueError(
            f"scrypt cost ln={ln},r={r}: N*r under {MIN_SCRYPT_WORK} (16 MiB), weaker than "
            "RFC 7914's interactive figure ln=14,r=8"
        )
    if n * r * p > MAX_SCRYPT_WORK or 128 * n * r > MAX_SCRYPT_MEMORY:
        raise ValueError(
            f"scrypt cost ln={ln},r={r},p={p} out of bounds: N*r*p at most {MAX_SCRYPT_WORK} "
            f"and 128*N*r at most {MAX_SCRYPT_MEMORY // 2**20} MiB"
        )


@functools.lru_cache(maxsize=64)
def _cost(params: str) -> tuple[int, int, int]:
    """``ln=..,r=..,p=..`` of a PHC string: the cost, checked (a configuration uses few costs)."""
    ln, r, p = (int(kv.partition("=")[2]) for kv in params.split(","))
    _check_cost(ln, r, p)
    return ln, r, p


def _malformed(text: object) -> str:
    """Why ``text`` is not a valid PHC scrypt string (without quoting it)."""
    match = _PHC.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return f"not a PHC scrypt string {_PHC_FORM}"
    _cost(f"ln={match['ln']},r={match['r']},p={match['p']}")
    for name, (low, high) in (("salt", _SALT_BYTES), ("hash", _HASH_BYTES)):
        size = len(match[name])
        if size % 4 == 1:
            return f"the {name} is not unpadded base64"
        if not low <= size * 3 // 4 <= high:
            return f"the {name} is {size * 3 // 4} bytes, not {low} to {high}"
    return f"not a PHC scrypt string {_PHC_FORM}"


def _b64decode(text: str) -> bytes:
    """PHC's base64: the standard alphabet without padding."""
    if len(text) % 4 == 1:
        raise ValueError("not base64")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


@dataclasses.dataclass(frozen=True, slots=True)
class ScryptHash:
    """A stored scrypt hash: its cost, salt and digest (never shown by ``repr``)."""

    ln: int
    "log2 of the CPU/memory cost N."
    r: int
    p: int
    salt: bytes = dataclasses.field(repr=False)
    digest: bytes = dataclasses.field(repr=False)

    @classmethod
    def parse(cls, text: str) -> ScryptHash:
        """Read a PHC scrypt string.

        Raises:
            ValueError: not of the form, or a cost out of bounds; the message says which
                and never contains the string.
        """
        ln, r, p = cls.validate(text)
        match = _PHC.fullmatch(text)
        assert match is not None
        return cls(ln, r, p, _b64decode(match["salt"]), _b64decode(match["hash"]))

    @staticmethod
    def validate(text: object) -> tuple[int, int, int]:
        """The cost (ln, r, p) of a well-formed PHC scrypt string, without decoding it (start-up
        checks every configured hash at about a microsecond each; :meth:`parse` decodes at first use).

        Raises:
            ValueError: as :meth:`parse`.
        """
        match = _PHC_BOUNDED.fullmatch(text) if isinstance(text, str) else None
        if match is None or len(match[2]) % 4 == 1 or len(match[3]) % 4 == 1:
            raise ValueError(_malformed(text))
        return _cost(match[1])

    @classmethod
    def new(cls, password: str, ln: int = DEFAULT_LN, r: int = DEFAULT_R, p: int = DEFAULT_P) -> ScryptHash:
        """Hash ``password`` with a fresh 16-byte salt (a 32-byte digest)."""
        _check_cost(ln, r, p)
        cost = cls(ln, r, p, secrets.token_bytes(16), b"\0" * 32)
        return dataclasses.replace(cost, digest=cost.derive(password))

    @property
    def cost(self) -> tuple[int, int, int]:
        return self.ln, self.r, self.p

    def derive(self, password: str) -> bytes:
        """scrypt of ``password`` with this record's cost and salt (CPU-bound)."""
        n = 2**self.ln
        return hashlib.scrypt(
            password.encode(), salt=self.salt, n=n, r=self.r, p=self.p,
            maxmem=128 * n * self.r * 2 + 2**20, dklen=len(self.digest),
        )  # fmt: skip

    def verify(self, password: str) -> bool:
        """``password`` hashes to this record's digest (compared in constant time)."""
        return hmac.compare_digest(self.derive(password), self.digest)

    def __str__(self) -> str:
        return f"$scrypt$ln={self.ln},r={self.r},p={self.p}${_b64encode(self.salt)}${_b64encode(self.digest)}"


def hash_password(password: str, ln: int = DEFAULT_LN, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """A ``password_hash`` for the configuration: the PHC scrypt string of ``password``."""
    return str(ScryptHash.new(password, ln, r, p))


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
    """One user of the configuration mapping ``username -> UserConfig``: exactly one of
    ``password`` and ``password_hash``."""

    password: NotRequired[str]
    "Plaintext (demo and test users): hashed at the user's first log-in attempt."
    password_hash: NotRequired[str]
    "A PHC scrypt string (:class:`ScryptHash`, ``wimpu-ref hash-password``)."
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


@dataclasses.dataclass(slots=True)
class _Record:
    user: User
    stored: ScryptHash | None = dataclasses.field(repr=False)
    "The stored hash, decoded; None until first needed."
    pending: str | None = dataclasses.field(repr=False, default=None)
    "What to make it from at first use: the configured plaintext, or the PHC string (validated)."
    is_hash: bool = False
    "``pending`` is a PHC string."

    def hashed(self) -> ScryptHash:
        stored = self.stored
        if stored is None:  # two threads may both make it: each compares with its own, both right
            pending = self.pending
            if pending is None:  # another thread made it meanwhile (it sets stored first)
                made = self.stored
                assert made is not None
                return made
            stored = ScryptHash.parse(pending) if self.is_hash else ScryptHash.new(pending)
            self.stored, self.pending = stored, None
        return stored


def parse_user_secret(username: str, config: Mapping[str, object]) -> tuple[str, bool, tuple[int, int, int]]:
    """The secret of one configured user: ``(secret, is_hash, cost)``, the PHC string (validated,
    not decoded) or the plaintext, and the scrypt cost its log-ins take.

    Raises:
        ValueError: both or neither key, a non-string, a malformed hash or a cost out of
            bounds; the message names the user, never the secret.
    """
    password, stored = config.get("password"), config.get("password_hash")
    if (password is None) == (stored is None):
        which = "both" if password is not None else "neither"
        raise ValueError(
            f"user {username!r}: give exactly one of 'password' and 'password_hash', not {which}"
        )
    if stored is not None:
        try:
            return str(stored), True, ScryptHash.validate(stored)
        except ValueError as exc:
            raise ValueError(f"user {username!r}: 'password_hash': {exc}") from None
    if not isinstance(password, str):
        raise ValueError(f"user {username!r}: 'password' must be a string")
    return password, False, (DEFAULT_LN, DEFAULT_R, DEFAULT_P)


class UserStore:
    """An in-memory user store built from configuration.

    Start-up costs microseconds a user: a ``password_hash`` is validated (decoded at its first
    use), a plaintext ``password`` kept until its first use (see the module docstring for why
    and what that costs).

    Args:
        users: ``username -> {"password" | "password_hash", "identity", "block"?}``
            (see :class:`UserConfig`).
    """

    def __init__(self, users: Mapping[str, Mapping[str, object]]) -> None:
        self._records: dict[str, _Record] = {}
        costs: collections.Counter[tuple[int, int, int]] = collections.Counter()
        default = (DEFAULT_LN, DEFAULT_R, DEFAULT_P)
        for username, config in users.items():
            secret, is_hash, cost = parse_user_secret(username, config)
            identity, block = config.get("identity"), config.get("block")
            if not isinstance(identity, str):
                raise ValueError(f"user {username!r} needs a string 'identity'")
            if block is not None and not isinstance(block, str):
                raise ValueError(f"user {username!r}: 'block' must be a string")
            costs[cost] += 1
            self._records[username] = _Record(User(username, identity, block), None, secret, is_hash)
        # An unknown user costs what most users cost (users of another cost are told apart by time).
        ln, r, p = costs.most_common(1)[0][0] if costs else default
        self._dummy = _Record(
            User("", "", None), ScryptHash(ln, r, p, secrets.token_bytes(16), secrets.token_bytes(32))
        )

    def __repr__(self) -> str:
        return f"UserStore({sorted(self._records)!r})"

    def __len__(self) -> int:
        return len(self._records)

    def users(self) -> list[User]:
        """Every configured user."""
        return [record.user for record in self._records.values()]

    @property
    def dummy_cost(self) -> tuple[int, int, int]:
        """The scrypt cost (ln, r, p) a log-in of an unknown user spends."""
        return self._dummy.hashed().cost

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None`` (CPU-bound: about 40 ms at the
        default cost; twice that at a plaintext user's first attempt).

        A malformed password (see :func:`check_credentials`) is never anyone's: None.
        """
        if check_credentials(username, password) is not None:
            return None
        record = self._records.get(username)
        ok = (record or self._dummy).hashed().verify(password)
        return record.user if ok and record is not None else None
