"""Helpers of the S-CSCF tests: the HSS data set, request bytes written by hand, and an
eP-CSCF-like UA that registers a block and answers digest challenges."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from reference.nodes.s_cscf import Scscf
from reference.sip.digest import digest_response, parse_auth_params
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message

REALM = "ims.example.net"
BLOCK1_IMPU = "sip:block1@wrtc.ims.example.net"
BLOCK1_WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"
EP_CONTACT = "<sip:ep-cscf1.ims.example.net:5060;transport=tcp>"
EP_PATH = "<sip:term@ep-cscf1.ims.example.net;lr>"

HSS_DATA = {
    "subscription": [
        {"impi": "block1@ims.example.net", "password": "block1-secret", "impus": [BLOCK1_IMPU],
         "wildcard_impus": [BLOCK1_WIMPU], "scscf": "sip:scscf.ims.example.net"},
        {"impi": "block2@ims.example.net", "password": "block2-secret",
         "impus": ["sip:block2@wrtc.ims.example.net"],
         "wildcard_impus": ["sip:wrtc-!.*!@block2.ims.example.net"], "scscf": "sip:scscf.ims.example.net"},
        # a distinct IMPU inside block1's range, in another subscription (TS 29.228 6.1.4)
        {"impi": "vip@ims.example.net", "password": "vip-secret",
         "impus": ["sip:wrtc-vip@block1.ims.example.net"], "scscf": "sip:scscf.ims.example.net"},
    ]
}  # fmt: skip


def message(text: str, body: bytes = b"") -> Request:
    """Parse a request written with LF line ends (sent with CRLF and a Content-Length)."""
    head = text.strip("\n").replace("\n", "\r\n")
    parsed = parse_message(f"{head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    assert isinstance(parsed, Request)
    return parsed


def fake_random() -> Callable[[int], bytes]:
    counter = itertools.count(1)
    return lambda n: next(counter).to_bytes(n, "big")


class BlockUa:
    """The eP-CSCF side of the block registration (TR 23.701 5.2.2.5.1)."""

    def __init__(self, scscf: Scscf, *, impi: str = "block1@ims.example.net",
                 password: str = "block1-secret") -> None:  # fmt: skip
        self.scscf = scscf
        self.impi = impi
        self.password = password
        self.cseq = itertools.count(1)
        self.call_id = f"reg-{impi}"

    def request(
        self,
        *,
        to: str = BLOCK1_IMPU,
        contacts: Sequence[str] = (EP_CONTACT,),
        expires: int | None = 600,
        path: Sequence[str] = (EP_PATH,),
        authorization: str | None = None,
        extra: Sequence[str] = (),
        call_id: str | None = None,
        cseq: int | None = None,
    ) -> Request:
        number = next(self.cseq) if cseq is None else cseq
        lines = [
            "REGISTER sip:ims.example.net SIP/2.0",
            f"Via: SIP/2.0/TCP ep-cscf1.ims.example.net;branch=z9hG4bK{number}",
            "Max-Forwards: 70",
            f"From: <{to}>;tag=ep1",
            f"To: <{to}>",
            f"Call-ID: {call_id or self.call_id}",
            f"CSeq: {number} REGISTER",
            *(f"Contact: {c}" for c in contacts),
            *(f"Path: {p}" for p in path),
            "Supported: path",
            *([f"Expires: {expires}"] if expires is not None else []),
            *([f"Authorization: {authorization}"] if authorization else []),
            *extra,
        ]
        return message("\n".join(lines))

    def authorization(self, challenge: Response, *, password: str | None = None,
                      uri: str = "sip:ims.example.net") -> str:  # fmt: skip
        value = challenge.get("WWW-Authenticate")
        assert value is not None and value.startswith("Digest ")
        params = parse_auth_params(value.partition(" ")[2])
        response = digest_response(
            params["algorithm"], username=self.impi, realm=params["realm"],
            password=self.password if password is None else password, method="REGISTER", uri=uri,
            nonce=params["nonce"], qop="auth", nc="00000001", cnonce="0a4f113b",
        )  # fmt: skip
        return (f'Digest username="{self.impi}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
                f'uri="{uri}", response="{response}", algorithm={params["algorithm"]}, qop=auth, '
                f'nc=00000001, cnonce="0a4f113b"')  # fmt: skip

    def register(self, now: float, **fields: object) -> Response:
        """REGISTER, answer the 401, REGISTER again: the final response."""
        challenge = self.scscf.receive_register(self.request(**fields), now)  # type: ignore[arg-type]
        assert challenge.status == 401, challenge.summary()
        fields["authorization"] = self.authorization(challenge)
        return self.scscf.receive_register(self.request(**fields), now)  # type: ignore[arg-type]
