"""Public user identities: canonical form, comparison, wildcarded IMPUs (sans-I/O).

**Identities.** A public user identity (IMPU) is a SIP or SIPS URI with a user part, or a
global tel URI (TS 23.003 13.4). :func:`canonical_identity` gives the form in which two
identities are compared: scheme and host lower-case, user part case-sensitive and
unescaped (RFC 3261 19.1.4), the port kept (a URI with a port never equals one
without), URI parameters and headers dropped, and for tel ``tel:+<digits>`` without
visual separators (RFC 3966 4 and 5.1.1). ``user=phone`` SIP URIs stay SIP URIs.

**Wildcarded IMPU** (TS 23.003 13.4A; the same form as a wildcarded PSI, 13.5). A POSIX
Extended Regular Expression sits in the user part of a SIP URI or the
telephone-subscriber part of a tel URI, between the first and the last ``!``:
``sip:wrtc-!.*!@block1.ims.example.net``. The fixed parts around it match literally,
the host case-insensitively, and the whole user part must match (the expression is
anchored). The expression is matched against the *unescaped* user part, or against the
digits of a canonical tel number (so ``tel:+1555![0-9]{4}!`` matches ``tel:+1-555-0123``).
The ``+`` of a tel number stays outside the expression.

Python's ``re`` is not POSIX ERE: the subset below is translated explicitly, and anything
else raises :class:`~reference.sip.errors.WildcardError` with the column.

- Supported: literals; ``\\c`` for ASCII punctuation ``c``; ``.``; ``( )``; ``|``;
  ``*`` ``+`` ``?`` ``{m}`` ``{m,}`` ``{m,n}`` (bounds up to 255, ``RE_DUP_MAX``);
  ``[...]`` ``[^...]`` with ranges in code-point order (C locale) and the ASCII classes
  ``[:alnum:]`` ``[:alpha:]`` ``[:blank:]`` ``[:cntrl:]`` ``[:digit:]`` ``[:graph:]``
  ``[:lower:]`` ``[:print:]`` ``[:punct:]`` ``[:space:]`` ``[:upper:]`` ``[:xdigit:]``.
- Not POSIX: ``\\d \\w \\s \\b``..., backreferences, ``(?``..., ``[. .]`` ``[= =]``,
  ``{,n}``, a backslash inside ``[...]`` (a literal in POSIX, an escape elsewhere).
- Undefined or pointless: an empty expression, ``()``, an empty alternative, a quantifier
  with nothing to repeat or after another, unbalanced ``(`` ``)`` ``[``, and the anchors
  ``^`` ``$`` (the expression is anchored already).
- Unsafe: a quantifier over a group containing a quantifier or ``|`` (``(a+)+``,
  ``(a|a)*``; write ``[ab]*`` for ``(a|b)*``), an expression over 256 characters, or one
  whose backtracking bound exceeds :data:`MAX_STEPS` (below).

**Backtracking.** Matching runs on ``re``, a backtracking engine. The nesting rule
leaves no choice point inside a repeated atom, so the work of one match is bounded
statically, with ``L`` = :data:`MAX_IDENTITY_LENGTH`: an alternative offers the sum of
its branches' ways to match and costs the sum of their work; ``{m,n}`` offers ``n-m+1``
ways and tries its atom ``n`` times (an unbounded quantifier: ``L+1`` and ``L``); each
piece of a sequence is tried once per way of matching what precedes it, and so are the
fixed suffix and the end check. An expression whose bound exceeds :data:`MAX_STEPS` is
refused (a few milliseconds of CPython 3.11 at worst): one ``.*`` with bounded
repetitions passes, ``.*x.*`` does not (write ``.{0,32}x.*``). Identities longer than
``L`` raise :class:`IdentityError` before any matching.

**Leftmost-longest.** POSIX picks the leftmost-longest match, ``re`` the first
alternative that succeeds. The two differ in *which* substrings are matched, never in
*whether* the whole string can be matched: both engines search every way to match
before failing, so ``fullmatch`` gives the POSIX answer to "does the identity match".

**Precedence.** A distinct IMPU wins over a wildcarded one (TS 29.228 6.1.4); an
identity that two wildcards match is a configuration error (overlapping blocks) and
raises :class:`AmbiguousIdentity`, which names both.
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
import urllib.parse
from collections.abc import Iterable
from typing import Final, NamedTuple, NoReturn

from sipmessage import URI

from reference.sip.errors import SipError, WildcardError
from reference.spec import clause

__all__ = [
    "MAX_EXPRESSION_LENGTH",
    "MAX_IDENTITY_LENGTH",
    "MAX_REPEAT",
    "MAX_STEPS",
    "AmbiguousIdentity",
    "IdentityError",
    "IdentityMatch",
    "IdentityTable",
    "WildcardImpu",
    "canonical_identity",
    "resolve",
    "same_identity",
]

MAX_IDENTITY_LENGTH: Final = 2048
"Longest identity accepted, in characters (an implementation limit)."
MAX_EXPRESSION_LENGTH: Final = 256
"Longest wildcard expression, in characters."
MAX_REPEAT: Final = 255
"Largest bound of ``{m,n}`` (POSIX ``RE_DUP_MAX`` is at least 255)."
MAX_STEPS: Final = 2**18
"Bound on the backtracking work of a wildcard on one identity (see the module docstring)."

_USER_SAFE: Final = "!*'()&=+$,;?/"  # unreserved and user-unreserved (RFC 3261 25.1)
_VISUAL_SEPARATORS: Final = re.compile(r"[-.()]")  # RFC 3966 5.1.1
_INTERVAL: Final = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_QUANTIFIERS: Final = ("*", "+", "?", "{")
_SIMPLE_QUANTIFIERS: Final = {"*": (0, None), "+": (1, None), "?": (0, 1)}
_POSIX_CLASSES: Final = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": re.escape(string.punctuation),
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}
_NOT_POSIX: Final = {"d": "[[:digit:]]", "w": "[_[:alnum:]]", "s": "[[:space:]]"}
_TOO_COMPLEX: Final = (
    f"could backtrack over {MAX_STEPS} steps on a long identity; bound the repetitions "
    "(e.g. {1,32} rather than +) or use fewer alternatives and optional parts"
)
_NESTED: Final = (
    "nested quantifier: a quantifier cannot apply to a group that contains a quantifier "
    "or '|' (catastrophic backtracking); write [ab]* rather than (a|b)*"
)


class IdentityError(SipError, ValueError):
    """A value that is not a valid public user identity (TS 23.003 13.4)."""

    status = 400
    reason = "Bad Request"


class AmbiguousIdentity(WildcardError):
    """An identity that several wildcarded IMPUs match: the blocks overlap."""

    identity: str
    wildcards: tuple[WildcardImpu, ...]

    def __init__(self, identity: str, wildcards: tuple[WildcardImpu, ...]) -> None:
        names = ", ".join(repr(str(w)) for w in wildcards)
        super().__init__(f"{identity!r} matches several wildcarded IMPUs: {names}")
        self.identity, self.wildcards = identity, wildcards


_VISIBLE_ASCII = re.compile(r"[!-~]*")
"Every character of an identity, ``!`` to ``~``."


class _Identity(NamedTuple):
    scheme: str
    user: str  # unescaped; ``+<digits>`` for tel
    host: str | None  # lower-case ``host[:port]``; None for tel

    def __str__(self) -> str:
        if self.host is None:
            return f"tel:{self.user}"
        return f"{self.scheme}:{urllib.parse.quote(self.user, safe=_USER_SAFE)}@{self.host}"


_CANONICAL: Final = re.compile(
    r"(?P<scheme>sips?):(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,]+)"
    r"@(?P<host>(?:[a-z0-9]+(?:-+[a-z0-9]+)*\.)*[a-z]+(?:-+[a-z0-9]+)*(?::[1-9][0-9]{0,3})?)"
    r"|tel:(?P<number>\+[0-9]+)"
)
"""Identities already in canonical form, the common case (a registrar stores and is asked for
these): a sip/sips URI whose user part needs no escape and holds no ``;?/``, whose host is a
lower-case host name (the host-name grammar of ``sipmessage``, so the parser accepts it too) with
no port or one of 1-9999 without a leading zero, and no parameter; or ``tel:+<digits>``. A match is
its own canonical form; anything else goes through :func:`_parse_slow`."""


def _parse_identity(value: str) -> _Identity:
    """Parse ``value``: at once when it is in canonical form already, else by :func:`_parse_slow`."""
    if len(value) <= MAX_IDENTITY_LENGTH:
        match = _CANONICAL.fullmatch(value)
        if match is not None:
            scheme, user, host, number = match.groups()
            if number is not None:
                return _Identity("tel", number, None)
            return _Identity(scheme, user, host)
    return _parse_slow(value)


def _parse_slow(value: str) -> _Identity:
    """Parse any spelling of an identity, or raise :class:`IdentityError` saying why."""

    def fail(reason: str) -> NoReturn:
        raise IdentityError(f"{value!r}: {reason}")

    if len(value) > MAX_IDENTITY_LENGTH:
        fail(f"{len(value)} characters, over the limit of {MAX_IDENTITY_LENGTH}")
    text = value.strip(" \t")
    if text.startswith("<") or text.endswith(">"):
        if not (text.startswith("<") and text.endswith(">")):
            fail("unbalanced '<' and '>'")
        text = text[1:-1]
    if not _VISIBLE_ASCII.fullmatch(text):  # the loop only to name the column (start-up checks many)
        for column, char in enumerate(text, 1):
            if not "!" <= char <= "~":
                fail(f"character {char!r} at column {column} is not allowed (RFC 3261 25.1)")
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips", "tel"):
        fail("not a sip:, sips: or tel: URI (TS 23.003 13.4)")
    # sipmessage refuses an upper-case scheme and lets through a trailing newline, non-ASCII
    # digits, a password, a port over 65535 and escapes that are not UTF-8: checked here.
    at = rest.find("@")
    question = rest.find("?", at + 1)  # headers follow hostport and parameters (19.1.1)
    if question >= 0 and scheme != "tel":
        rest = rest[:question]
    try:
        uri = URI.parse(f"{scheme}:{rest}")
    except ValueError:
        fail(f"not a valid {scheme} URI (RFC {'3966 3' if scheme == 'tel' else '3261 25.1'})")
    if scheme == "tel":
        number = rest.partition(";")[0]
        if not number.startswith("+"):
            fail(
                f"{number!r} is a local number; a public user identity in tel form is a "
                "global number +<CC><NDC><SN> (RFC 3966 5.1.4)"
            )
        return _Identity("tel", "+" + _VISUAL_SEPARATORS.sub("", number[1:]), None)
    if uri.user is None:
        fail("no user part: a public user identity is user@host")
    if uri.password is not None:
        fail("a password is not part of a public user identity")
    if uri.port is not None and uri.port > 65535:
        fail(f"port {uri.port} is over 65535")
    try:
        user = urllib.parse.unquote_to_bytes(rest[:at]).decode("utf-8")
    except UnicodeDecodeError:
        fail("the escaped user part is not UTF-8")
    return _Identity(scheme, user, uri.host.lower() + ("" if uri.port is None else f":{uri.port}"))


@clause("RFC 3261 19.1.4")
@clause("RFC 3966 4")
def canonical_identity(value: str) -> str:
    """The form in which public user identities compare (RFC 3261 19.1.4, RFC 3966 4).

    Accepts ``sip:``, ``sips:`` and global ``tel:`` URIs, bare or inside ``<...>``.

    Raises:
        IdentityError: ``value`` is not a valid public user identity (the message says
            why).
    """
    if len(value) <= MAX_IDENTITY_LENGTH and _CANONICAL.fullmatch(value) is not None:
        return value  # canonical already: the slow path gives the same string back
    return str(_parse_slow(value))


@clause("RFC 3261 19.1.4")
def same_identity(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` are the same public user identity (RFC 3261 19.1.4).

    Raises:
        IdentityError: either is not a valid public user identity.
    """
    return _parse_identity(a) == _parse_identity(b)


class _Fragment(NamedTuple):
    pattern: str  # Python ``re`` syntax
    ways: int  # ways to match, each followed by an attempt at what comes next
    work: int  # characters tried over all the ways
    choice: bool  # contains a quantifier or an alternation


class _Ere:
    """Translate the supported POSIX ERE subset into ``re`` syntax, or refuse it."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.pos, self.end, self.start = text, start, end, start

    def fail(self, pos: int, message: str) -> NoReturn:
        raise WildcardError(f"{self.text!r}, column {pos + 1}: {message}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.end else ""

    def translate(self, tail: int) -> str:
        if self.end - self.start > MAX_EXPRESSION_LENGTH:
            self.fail(self.start, f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
        if self.start == self.end:
            self.fail(self.start, "empty expression between '!' and '!'")
        fragment = self.alternation()
        if self.pos < self.end:  # only ')' stops alternation() early
            self.fail(self.pos, "unbalanced ')' (write '\\)' for a literal)")
        steps = fragment.work + fragment.ways * (1 + tail)  # + the end check
        if steps > MAX_STEPS:
            self.fail(self.start, _TOO_COMPLEX)
        return fragment.pattern

    def alternation(self) -> _Fragment:
        branches = [self.branch()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.branch())
        if len(branches) == 1:
            return branches[0]
        ways, work = sum(b.ways for b in branches), sum(b.work for b in branches)
        return _Fragment("|".join(b.pattern for b in branches), ways, work, True)

    def branch(self) -> _Fragment:
        start, pattern, ways, work, choice = self.pos, "", 1, 0, False
        while self.peek() not in ("", "|", ")"):
            piece = self.piece()  # tried once per way of matching what precedes it
            pattern, work = pattern + piece.pattern, work + ways * piece.work
            ways, choice = ways * piece.ways, choice or piece.choice
        if self.pos == start:
            self.fail(start, "empty alternative (undefined in POSIX ERE)")
        return _Fragment(pattern, ways, work, choice)

    def piece(self) -> _Fragment:
        atom, at = self.atom(), self.pos
        if self.peek() not in _QUANTIFIERS:
            return atom
        if self.peek() != "{":
            (low, high), suffix = _SIMPLE_QUANTIFIERS[self.peek()], self.peek()
            self.pos += 1
        else:
            low, high, suffix = self.interval()
        if atom.choice:
            self.fail(at, _NESTED)
        if self.peek() in _QUANTIFIERS:
            self.fail(self.pos, "a quantifier cannot follow another quantifier")
        if high is None:
            return _Fragment(
                atom.pattern + suffix,
                MAX_IDENTITY_LENGTH + 1,
                MAX_IDENTITY_LENGTH * atom.work,
                True,
            )
        return _Fragment(atom.pattern + suffix, high - low + 1, high * atom.work, True)

    def interval(self) -> tuple[int, int | None, str]:
        match = _INTERVAL.match(self.text, self.pos, self.end)
        if match is None:
            self.fail(self.pos, "invalid interval: expected {m}, {m,} or {m,n}")
        low = int(match[1])
        high = low if match[2] is None else int(match[3]) if match[3] else None
        if max(low, high or 0) > MAX_REPEAT:
            self.fail(self.pos, f"repetition bound over {MAX_REPEAT} (RE_DUP_MAX)")
        if high is not None and high < low:
            self.fail(self.pos, f"invalid interval {match[0]}: the minimum exceeds the maximum")
        self.pos = match.end()
        return low, high, match[0]

    def atom(self) -> _Fragment:
        char, at = self.text[self.pos], self.pos
        self.pos += 1
        if char == "(":
            if self.peek() in ("?", ")"):
                self.fail(
                    at,
                    "'(?' is Python syntax, not POSIX ERE"
                    if self.peek() == "?"
                    else "empty group '()'",
                )
            inner = self.alternation()
            if self.peek() != ")":
                self.fail(at, "unbalanced '(': no matching ')'")
            self.pos += 1
            return inner._replace(pattern=f"(?:{inner.pattern})")
        if char in _QUANTIFIERS:
            self.fail(at, f"quantifier {char!r} has nothing to repeat")
        if char in "^$":
            self.fail(at, f"anchor {char!r}: the expression is anchored already")
        if char == "[":
            return self.bracket(at)
        if char == "\\":
            return _Fragment(re.escape(self.escaped(at)), 1, 1, False)
        return _Fragment("." if char == "." else re.escape(char), 1, 1, False)

    def escaped(self, at: int) -> str:
        char = self.peek()
        self.pos += 1
        if not char:
            self.fail(at, "trailing backslash")
        if char in "123456789":
            self.fail(at, f"backreference '\\{char}' is not supported")
        if char in _NOT_POSIX:
            self.fail(at, f"'\\{char}' is not POSIX ERE; write {_NOT_POSIX[char]}")
        if char not in string.punctuation:
            self.fail(at, f"'\\{char}' is undefined in POSIX ERE (escape only punctuation)")
        return char

    def bracket(self, start: int) -> _Fragment:
        negate = self.peek() == "^"
        self.pos += negate
        items: list[str] = []
        while self.peek() != "]" or not items:  # a ']' first is a literal
            char, at = self.peek(), self.pos
            if not char:
                self.fail(start, "unbalanced '[': no closing ']'")
            if self.text.startswith(("[:", "[.", "[="), at):
                items.append(self.char_class())
                continue
            if char == "\\":
                self.fail(at, "backslash in a bracket expression (a literal in POSIX)")
            self.pos += 1
            if self.peek() == "-" and self.pos + 1 < self.end and self.text[self.pos + 1] != "]":
                last = self.text[self.pos + 1]
                if last in "[\\" or last < char:
                    self.fail(at, f"invalid range {char}-{last}")
                items.append(f"{re.escape(char)}-{re.escape(last)}")
                self.pos += 2
            else:
                items.append(re.escape(char))
        self.pos += 1
        return _Fragment(f"[{'^' if negate else ''}{''.join(items)}]", 1, 1, False)

    def char_class(self) -> str:
        at, kind = self.pos, self.text[self.pos + 1]
        close = self.text.find(kind + "]", at + 2, self.end)
        if close < 0:
            self.fail(at, f"unterminated '[{kind}'")
        name = self.text[at + 2 : close]
        if kind != ":":
            self.fail(at, f"'[{kind}{name}{kind}]': collating elements are not supported")
        if name not in _POSIX_CLASSES:
            self.fail(at, f"unknown class '[:{name}:]'; supported: {', '.join(_POSIX_CLASSES)}")
        self.pos = close + 2
        return _POSIX_CLASSES[name]


@dataclasses.dataclass(frozen=True, slots=True)
class WildcardImpu:
    """A wildcarded public user identity (TS 23.003 13.4A), parsed and compiled."""

    scheme: str
    "``sip``, ``sips`` or ``tel``."
    prefix: str
    "The fixed part before the expression, unescaped (tel: digits, with the ``+``)."
    expression: str
    "The POSIX ERE, as written between the outermost ``!``."
    suffix: str
    "The fixed part after the expression, unescaped."
    host: str | None
    "Lower-case ``host[:port]``; None for tel."
    text: str = dataclasses.field(compare=False)
    "The wildcarded IMPU as written."
    _regex: re.Pattern[str] = dataclasses.field(compare=False, repr=False)

    def __str__(self) -> str:
        return self.text

    def key(self) -> str:
        """One text per block whatever the spelling of its wildcarded IMPU (TS 23.003 13.4A): the
        fields equality compares, so two blocks are equal exactly when their keys are (the
        registrar's lease table is keyed by it)."""
        return json.dumps([getattr(self, f.name) for f in dataclasses.fields(self) if f.compare])

    @classmethod
    @clause("TS 23.003 13.4A")
    @clause("TS 23.003 13.5")
    def parse(cls, text: str) -> WildcardImpu:
        """Parse and compile a wildcarded IMPU (TS 23.003 13.4A, 13.5).

        Raises:
            WildcardError: not a wildcarded IMPU, or an expression outside the
                supported subset or unsafe (the message gives the column).
        """
        scheme = text.partition(":")[0].lower()
        first, last = text.find("!"), text.rfind("!")
        if scheme not in ("sip", "sips", "tel") or not text.startswith(":", len(scheme)):
            raise WildcardError(f"{text!r}: not a sip:, sips: or tel: URI (TS 23.003 13.4A)")
        if first == last:
            raise WildcardError(f"{text!r}: no expression between two '!' (TS 23.003 13.4A)")
        prefix, rest = text[len(scheme) + 1 : first], text[last + 1 :]
        suffix, at, _ = rest.partition("@")
        if scheme == "tel":
            suffix = _VISUAL_SEPARATORS.sub("", rest.partition(";")[0])
            if not prefix.startswith("+"):
                raise WildcardError(
                    f"{text!r}: the '+' of the global number must come before "
                    "the expression, e.g. tel:+1555![0-9]{4}!"
                )
        elif "@" in prefix or not at:
            raise WildcardError(f"{text!r}: the expression must be in the user part")
        try:  # the fixed parts must make a valid identity around any user text
            host = _parse_identity(f"{scheme}:{prefix}{'0x'[scheme != 'tel']}{rest}").host
        except IdentityError as exc:
            raise WildcardError(f"{text!r}: invalid fixed part: {exc}") from None
        if scheme == "tel":
            prefix = _VISUAL_SEPARATORS.sub("", prefix)
        prefix, suffix = urllib.parse.unquote(prefix), urllib.parse.unquote(suffix)
        pattern = _Ere(text, first + 1, last).translate(tail=len(suffix))
        regex = re.compile(f"{re.escape(prefix)}(?:{pattern}){re.escape(suffix)}", re.DOTALL)
        return cls(scheme, prefix, text[first + 1 : last], suffix, host, text, regex)

    @clause("TS 23.003 13.4A")
    def matches(self, identity: str) -> bool:
        """True if ``identity`` belongs to this wildcarded IMPU (TS 23.003 13.4A).

        Raises:
            IdentityError: ``identity`` is not a valid public user identity, or is
                longer than :data:`MAX_IDENTITY_LENGTH`.
        """
        return self._matches(_parse_identity(identity))

    def _matches(self, identity: _Identity) -> bool:
        return (
            identity.scheme == self.scheme
            and identity.host == self.host
            and self._regex.fullmatch(identity.user) is not None
        )


@dataclasses.dataclass(frozen=True, slots=True)
class IdentityMatch:
    """The configured entry an identity belongs to."""

    identity: str
    "The identity looked up, in canonical form."
    entry: str | WildcardImpu
    "The distinct IMPU (canonical form) or the wildcarded IMPU it matched."

    @property
    def wildcarded(self) -> bool:
        """True if the identity matched a wildcarded IMPU, not a distinct one."""
        return isinstance(self.entry, WildcardImpu)


class IdentityTable:
    """Distinct and wildcarded IMPUs of a configuration, parsed once.

    Raises:
        IdentityError, WildcardError: an invalid entry.
    """

    __slots__ = ("_distinct", "_wildcards")

    def __init__(
        self, distinct: Iterable[str] = (), wildcards: Iterable[WildcardImpu | str] = ()
    ) -> None:
        self._distinct = frozenset(canonical_identity(d) for d in distinct)
        self._wildcards = tuple(
            w if isinstance(w, WildcardImpu) else WildcardImpu.parse(w) for w in wildcards
        )

    @clause("TS 29.228 6.1.4")
    def resolve(self, identity: str) -> IdentityMatch | None:
        """The entry ``identity`` belongs to; a distinct IMPU wins (TS 29.228 6.1.4).

        Returns None when no entry matches.

        Raises:
            IdentityError: ``identity`` is not a valid public user identity.
            AmbiguousIdentity: no distinct IMPU is equal and several wildcards match.
        """
        parsed = _parse_identity(identity)
        canonical = str(parsed)
        if canonical in self._distinct:
            return IdentityMatch(canonical, canonical)
        found = tuple(w for w in self._wildcards if w._matches(parsed))
        if len(found) > 1:
            raise AmbiguousIdentity(canonical, found)
        return IdentityMatch(canonical, found[0]) if found else None


@clause("TS 29.228 6.1.4")
def resolve(
    identity: str, distinct: Iterable[str], wildcards: Iterable[WildcardImpu | str]
) -> IdentityMatch | None:
    """One-off :meth:`IdentityTable.resolve` (TS 29.228 6.1.4)."""
    return IdentityTable(distinct, wildcards).resolve(identity)
