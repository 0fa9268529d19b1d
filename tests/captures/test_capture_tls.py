"""TLS decryption from an NSS key log, on byte streams OpenSSL produced (``ssl`` memory
BIOs): TLS 1.3 (RFC 8446 7.1, 7.3) with each AEAD suite, TLS 1.2 (RFC 5246 6.3) with
AES-GCM and ChaCha20-Poly1305, secrets from a Decryption Secrets Block, and the
problems reported when secrets are missing or wrong."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from capturekit import Flow, TlsPair, WsPair, sip_request, sip_response, write

from captures import KeyLog, ProblemKind, decode_file, inject_secrets
from captures.tls import hkdf_expand_label
from reference.tls import TestPki

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


def tls_pair(pki: TestPki, keylog: Path, *, tls12_cipher: str | None = None) -> TlsPair:
    client = pki.client_context(keylog_file=str(keylog))
    if tls12_cipher is not None:
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        client.set_ciphers(tls12_cipher)
    pair = TlsPair(client, pki.server_context("ep-cscf"))
    pair.handshake()
    return pair


def capture(pair: TlsPair, path: Path, *, pcapng: bool = False) -> Path:
    flow = Flow()
    return write(path, flow.handshake() + pair.packets(flow), pcapng=pcapng)


def sip_over_tls(pair: TlsPair) -> None:
    pair.send(0, sip_request(call_id="t1") + sip_request(call_id="t2", cseq=2))
    pair.send(1, sip_response(call_id="t1"))


@pytest.mark.parametrize(
    ("cipher", "version", "suite"),
    [
        (None, "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
        ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
        ("ECDHE-ECDSA-AES256-GCM-SHA384", "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    ],
)
def test_sip_over_tls_is_decrypted(
    tmp_path: Path, pki: TestPki, cipher: str | None, version: str, suite: str
) -> None:
    keylog = tmp_path / "keys"
    pair = tls_pair(pki, keylog, tls12_cipher=cipher)
    assert pair.client.version() == version and pair.client.cipher()[0] == suite  # type: ignore[index]
    sip_over_tls(pair)
    path = capture(pair, tmp_path / "t.pcap")
    decoded = decode_file(path, keylog=KeyLog.from_file(keylog))
    assert decoded.problems == []
    assert [(m.transport, m.message.call_id if m.message else None) for m in decoded.messages] == [
        ("TLS", "t1"),
        ("TLS", "t2"),
        ("TLS", "t1"),
    ]


_TLS13_WITH_SUITE = """
import json, sys
sys.path[:0] = {paths!r}
from pathlib import Path
from capturekit import Flow, TlsPair, sip_request, write
from reference.tls import TestPki
pki = TestPki({pki!r})
pair = TlsPair(pki.client_context(keylog_file={keylog!r}), pki.server_context("ep-cscf"))
pair.handshake()
pair.send(0, sip_request(call_id="s1"))
flow = Flow()
write(Path({capture!r}), flow.handshake() + pair.packets(flow))
print(json.dumps(pair.client.cipher()[0]))
"""


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"])
def test_tls13_suites_python_does_not_pick_by_default(tmp_path: Path, pki: TestPki, suite: str) -> None:
    """Python cannot choose TLS 1.3 suites; an OpenSSL configuration file can (subprocess)."""
    config = tmp_path / "openssl.cnf"
    config.write_text(
        textwrap.dedent(f"""\
        openssl_conf = default_conf
        [default_conf]
        ssl_conf = ssl_sect
        [ssl_sect]
        system_default = system_default_sect
        [system_default_sect]
        Ciphersuites = {suite}
        """)
    )
    keylog, capture = tmp_path / "keys", tmp_path / "t.pcap"
    root = str(HERE.parent.parent)
    script = _TLS13_WITH_SUITE.format(
        paths=[str(HERE), root], pki=str(pki.directory), keylog=str(keylog), capture=str(capture)
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "OPENSSL_CONF": str(config)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == suite
    decoded = decode_file(capture, keylog=KeyLog.from_file(keylog))
    assert decoded.problems == []
    assert [m.message.call_id for m in decoded.messages if m.message] == ["s1"]


def test_wss_with_permessage_deflate_inside_tls(tmp_path: Path, pki: TestPki) -> None:
    keylog = tmp_path / "keys"
    pair = tls_pair(pki, keylog)
    ws = WsPair(deflate=True)
    ws.handshake()
    ws.send(0, [sip_request(call_id="w1")])
    ws.send(1, [sip_response(call_id="w1")])
    for side, data in ws.chunks:
        pair.send(side, data)
    path = capture(pair, tmp_path / "t.pcap")
    decoded = decode_file(path, keylog=KeyLog.from_file(keylog))
    assert decoded.problems == []
    assert [(m.transport, m.start_line()) for m in decoded.messages] == [
        ("HTTPS", "GET / HTTP/1.1"),
        ("HTTPS", "HTTP/1.1 101 (to GET /)"),
        ("WSS", "REGISTER sip:block1.ims.example.net SIP/2.0"),
        ("WSS", "SIP/2.0 200 OK"),
    ]


def test_secrets_in_a_decryption_secrets_block_need_no_key_log(tmp_path: Path, pki: TestPki) -> None:
    keylog = tmp_path / "keys"
    pair = tls_pair(pki, keylog)
    sip_over_tls(pair)
    path = capture(pair, tmp_path / "t.pcapng", pcapng=True)
    assert decode_file(path).problems[0].kind is ProblemKind.NO_SECRETS
    inject_secrets(path, keylog.read_bytes())
    decoded = decode_file(path)
    assert decoded.problems == [] and len(decoded.messages) == 3


def test_no_secrets_names_the_connection(tmp_path: Path, pki: TestPki) -> None:
    pair = tls_pair(pki, tmp_path / "keys")
    sip_over_tls(pair)
    path = capture(pair, tmp_path / "t.pcap")
    decoded = decode_file(path)
    kinds = [p.kind for p in decoded.problems]
    assert kinds == [ProblemKind.NO_SECRETS, ProblemKind.NO_SIP]
    assert decoded.problems[0].where.startswith("127.0.0.1:40000 -> 127.0.0.1:5060")
    assert "client random" in decoded.problems[0].detail


def test_secrets_of_another_connection_do_not_decrypt(tmp_path: Path, pki: TestPki) -> None:
    pair = tls_pair(pki, tmp_path / "keys")
    sip_over_tls(pair)
    other = tls_pair(pki, tmp_path / "other")
    wrong = (tmp_path / "other").read_text()
    ours = [ln.split() for ln in (tmp_path / "keys").read_text().splitlines() if not ln.startswith("#")]
    random = ours[0][1]
    forged = KeyLog()
    lines = [ln.split() for ln in wrong.splitlines() if not ln.startswith("#")]
    forged.add("".join(f"{label} {random} {secret}\n" for label, _, secret in lines).encode())
    assert other.client.version() == "TLSv1.3"
    path = capture(pair, tmp_path / "t.pcap")
    decoded = decode_file(path, keylog=forged)
    assert ProblemKind.DECRYPT in [p.kind for p in decoded.problems]


def test_hkdf_expand_label_matches_rfc_8448() -> None:
    """RFC 8448 3: the server handshake write key and IV of the simple 1-RTT handshake."""
    secret = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    assert hkdf_expand_label(secret, b"key", b"", 16, "sha256").hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert hkdf_expand_label(secret, b"iv", b"", 12, "sha256").hex() == "5d313eb2671276ee13000b30"
