"""SIP digest, reference.sip.digest (RFC 3261 22.4, RFC 2617, RFC 7616, RFC 8760)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from reference.sip.digest import (
    DigestAuthenticator,
    DigestCredentials,
    DigestSyntaxError,
    DigestUriMismatch,
    Outcome,
    digest_response,
    find_credentials,
    parse_auth_params,
)
from reference.sip.message import Request
from reference.sip.parser import parse_message

REALM = "ims.example.net"
KEY = b"0123456789abcdef0123456789abcdef"
URI = "sip:ims.example.net"


def fake_random() -> Callable[[int], bytes]:
    """Deterministic 'random' bytes: 1, 2, 3... big-endian."""
    counter = itertools.count(1)
    return lambda n: next(counter).to_bytes(n, "big")


@pytest.fixture
def auth() -> DigestAuthenticator:
    return DigestAuthenticator(REALM, KEY, fake_random(), nonce_lifetime=300.0)


def credentials(nonce: str, *, password: str = "secret", uri: str = URI, qop: str | None = "auth",
                algorithm: str = "MD5", method: str = "REGISTER") -> DigestCredentials:  # fmt: skip
    response = digest_response(algorithm, username="block1@ims.example.net", realm=REALM, password=password,
                               method=method, uri=uri, nonce=nonce, qop=qop, nc="00000001",
                               cnonce="c0ffee")  # fmt: skip
    return DigestCredentials(
        username="block1@ims.example.net", realm=REALM, nonce=nonce, uri=uri, response=response,
        algorithm=algorithm, qop=qop, nc="00000001" if qop else None, cnonce="c0ffee" if qop else None,
    )  # fmt: skip


class TestResponseComputation:
    """RFC 2617 3.5 and RFC 7616 3.9.1: the published examples."""

    def test_rfc2617_md5_example(self) -> None:
        assert digest_response(
            "MD5", username="Mufasa", realm="testrealm@host.com", password="Circle Of Life",
            method="GET", uri="/dir/index.html", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop="auth", nc="00000001", cnonce="0a4f113b",
        ) == "6629fae49393a05397450978507c4ef1"  # fmt: skip

    def test_rfc7616_sha256_example(self) -> None:
        assert digest_response(
            "SHA-256", username="Mufasa", realm="http-auth@example.org", password="Circle of Life",
            method="GET", uri="/dir/index.html", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop="auth", nc="00000001", cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        ) == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"  # fmt: skip


class TestParsing:
    def test_quoted_values_keep_commas_and_escapes(self) -> None:
        params = parse_auth_params('Username="a\\"b", nonce="x,y", qop=auth, URI="sip:h;p=1"')
        assert params == {"username": 'a"b', "nonce": "x,y", "qop": "auth", "uri": "sip:h;p=1"}

    @pytest.mark.parametrize("text", ['realm', 'realm="x', 'a=b, a=c', 'a=b c', ''])
    def test_malformed_parameters(self, text: str) -> None:
        with pytest.raises(DigestSyntaxError):
            parse_auth_params(text)

    def test_credentials_parse(self) -> None:
        creds = DigestCredentials.parse(
            'Digest username="block1@ims.example.net", realm="ims.example.net", nonce="n,1", '
            'uri="sip:ims.example.net", response="ABCDEF", algorithm=md5, qop=auth, nc=00000001, '
            'cnonce="c"'
        )
        assert creds.nonce == "n,1" and creds.response == "abcdef" and creds.algorithm == "md5"

    @pytest.mark.parametrize(
        "value",
        [
            'Bearer abc',
            'Digest realm="r", nonce="n", uri="u", response="x"',
            'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth',
        ],
    )
    def test_credentials_refused(self, value: str) -> None:
        with pytest.raises(DigestSyntaxError):
            DigestCredentials.parse(value)

    def test_find_credentials_picks_the_header_of_our_realm(self) -> None:
        request = parse_message(
            b"REGISTER sip:ims.example.net SIP/2.0\r\n"
            b"Via: SIP/2.0/TCP ep.example.net;branch=z9hG4bK1\r\n"
            b"From: <sip:b@ims.example.net>;tag=1\r\nTo: <sip:b@ims.example.net>\r\n"
            b"Call-ID: c\r\nCSeq: 1 REGISTER\r\n"
            b"Authorization: Bearer abc.def.ghi\r\n"
            b'Authorization: Digest username="u", realm="other.net", nonce="n", uri="u", response="r"\r\n'
            b'Authorization: Digest username="me", realm="ims.example.net", nonce="n", uri="u", '
            b'response="r"\r\nContent-Length: 0\r\n\r\n'
        )
        assert isinstance(request, Request)
        found = find_credentials(request, REALM)
        assert found is not None and found.username == "me"
        assert find_credentials(request, "third.net") is None


class TestNonces:
    def test_nonce_carries_its_issue_time(self, auth: DigestAuthenticator) -> None:
        assert auth.nonce_issued_at(auth.make_nonce(1234.5)) == 1234.5

    def test_tampered_or_foreign_nonce_is_not_ours(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(10.0)
        flipped = nonce[:-2] + ("A" if nonce[-2] != "A" else "B") + nonce[-1]
        assert auth.nonce_issued_at(flipped) is None
        assert auth.nonce_issued_at("not-a-nonce!") is None
        other = DigestAuthenticator(REALM, b"another key of 32 bytes.........", fake_random())
        assert other.nonce_issued_at(nonce) is None

    def test_challenge_header(self, auth: DigestAuthenticator) -> None:
        (value,) = auth.challenges(0.0)
        params = parse_auth_params(value.partition(" ")[2])
        assert value.startswith("Digest ")
        assert params["realm"] == REALM and params["algorithm"] == "MD5" and params["qop"] == "auth"
        assert 'qop="auth"' in value and "stale" not in params
        assert parse_auth_params(auth.challenges(0.0, stale=True)[0].partition(" ")[2])["stale"] == "true"

    def test_one_challenge_per_algorithm_preferred_first(self) -> None:
        auth = DigestAuthenticator(REALM, KEY, fake_random(), algorithms=("SHA-256", "MD5"))
        values = auth.challenges(0.0)
        assert [parse_auth_params(v[7:])["algorithm"] for v in values] == ["SHA-256", "MD5"]

    def test_short_key_is_refused(self) -> None:
        with pytest.raises(ValueError):
            DigestAuthenticator(REALM, b"short", fake_random())


class TestVerify:
    def test_authenticated(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(0.0)
        assert auth.verify(credentials(nonce), method="REGISTER", uri=URI, password="secret",
                           now=10.0) is Outcome.AUTHENTICATED  # fmt: skip

    def test_rfc2069_form_without_qop_is_accepted(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(0.0)
        assert auth.verify(credentials(nonce, qop=None), method="REGISTER", uri=URI, password="secret",
                           now=1.0) is Outcome.AUTHENTICATED  # fmt: skip

    def test_wrong_password(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(0.0)
        assert auth.verify(credentials(nonce, password="guess"), method="REGISTER", uri=URI,
                           password="secret", now=1.0) is Outcome.WRONG_RESPONSE  # fmt: skip

    def test_method_is_part_of_the_digest(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(0.0)
        assert auth.verify(credentials(nonce, method="INVITE"), method="REGISTER", uri=URI,
                           password="secret", now=1.0) is Outcome.WRONG_RESPONSE  # fmt: skip

    def test_stale_nonce_with_a_right_response(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(0.0)
        assert auth.verify(credentials(nonce), method="REGISTER", uri=URI, password="secret",
                           now=301.0) is Outcome.STALE  # fmt: skip

    def test_stale_nonce_with_a_wrong_response_is_not_stale(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(0.0)
        assert auth.verify(credentials(nonce, password="guess"), method="REGISTER", uri=URI,
                           password="secret", now=301.0) is Outcome.WRONG_RESPONSE  # fmt: skip

    def test_nonce_from_the_future_or_forged(self, auth: DigestAuthenticator) -> None:
        future = auth.make_nonce(100.0)
        assert auth.verify(credentials(future), method="REGISTER", uri=URI, password="secret",
                           now=0.0) is Outcome.INVALID_NONCE  # fmt: skip
        assert auth.verify(credentials("forged"), method="REGISTER", uri=URI, password="secret",
                           now=0.0) is Outcome.INVALID_NONCE  # fmt: skip

    @pytest.mark.parametrize(("qop", "algorithm"), [("auth-int", "MD5"), ("auth", "SHA-256")])
    def test_unsupported_qop_or_algorithm(self, auth: DigestAuthenticator, qop: str, algorithm: str) -> None:
        nonce = auth.make_nonce(0.0)
        creds = credentials(nonce, qop=qop, algorithm=algorithm)
        assert auth.verify(creds, method="REGISTER", uri=URI, password="secret",
                           now=1.0) is Outcome.UNSUPPORTED  # fmt: skip

    def test_digest_uri_must_be_the_request_uri(self, auth: DigestAuthenticator) -> None:
        nonce = auth.make_nonce(0.0)
        with pytest.raises(DigestUriMismatch) as info:
            auth.verify(credentials(nonce, uri="sip:elsewhere.net"), method="REGISTER", uri=URI,
                        password="secret", now=1.0)  # fmt: skip
        assert info.value.status == 400
