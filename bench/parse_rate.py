"""Parse rate of the SIP core against sipmessage's own parser, in the same run.

Our parser does more (unfolding, Content-Length, start line, Via/From/To/Contact/CSeq
validation, raw bytes kept for forwarding), so a ratio below 1 is expected; the figure
tells what that strictness costs. Usage: ``python3 bench/parse_rate.py [seconds]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import sipmessage

from reference.sip.parser import parse_message

REGISTER = (
    b"REGISTER sip:block1.ims.example.net SIP/2.0\r\n"
    b"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:wrtc-alice@block1.ims.example.net>\r\n"
    b"From: <sip:wrtc-alice@block1.ims.example.net>;tag=a73kszlfl\r\n"
    b"Call-ID: 1j9FpLxk3uxtm8tn@df7jal23ls0d.invalid\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"Contact: <sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>"
    b';+sip.instance="<urn:uuid:00000000-0000-1000-8000-aabbccddeeff>";reg-id=1;expires=600\r\n'
    b"Supported: path, gruu, outbound\r\n"
    b"Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def rate(parse: Callable[[bytes], object], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for _ in range(200):
            parse(REGISTER)
        count += 200
    return count / (time.perf_counter() - start)


def sipmessage_typed(data: bytes) -> object:
    """sipmessage, reading the same typed views our parser validates."""
    msg = sipmessage.Message.parse(data)
    return (msg.via, msg.from_address, msg.to_address, msg.contact, msg.cseq)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    ours = rate(parse_message, seconds)
    theirs = rate(sipmessage_typed, seconds)
    print(f"reference.sip.parse_message : {ours:10.0f} messages/s")
    print(f"sipmessage (typed views)    : {theirs:10.0f} messages/s")
    print(f"ratio ours/sipmessage       : {ours / theirs:10.2f}")


if __name__ == "__main__":
    main()
