"""TLS record protection from an NSS key log: the key schedule, without a TLS library.

- The NSS key log format (``SSLKEYLOGFILE``; Python writes it with
  ``SSLContext.keylog_filename``): one ``LABEL <client_random hex> <secret hex>`` line
  per secret. TLS 1.3 gives the traffic secrets themselves (CLIENT_/SERVER_HANDSHAKE_
  TRAFFIC_SECRET, CLIENT_/SERVER_TRAFFIC_SECRET_0); TLS 1.2 gives the master secret
  (CLIENT_RANDOM).
- TLS 1.3, RFC 8446 7.1: ``HKDF-Expand-Label(Secret, Label, Context, Length)`` with the
  ``"tls13 "`` prefix; 7.2: the next application traffic secret after a KeyUpdate
  (``"traffic upd"``); 7.3: ``[sender]_write_key`` and ``[sender]_write_iv`` from a
  traffic secret; 5.3: the per-record nonce (IV XOR the 64-bit sequence number, left
  padded); 5.2: the additional data is the record header, and the inner plaintext ends
  with its real content type followed by zero padding.
- TLS 1.2, RFC 5246 5 and 6.3: the PRF (P_SHA256, or P_SHA384 for the ``_SHA384``
  suites) expands the master secret into the key block; AES-GCM (RFC 5288 3: a 4-byte
  salt and an 8-byte explicit nonce per record) and ChaCha20-Poly1305 (RFC 7905 2: IV
  XOR sequence number); the additional data is ``seq_num + type + version + length``.

The AEADs come from the ``cryptography`` package. Python's ``ssl`` on loopback
negotiates TLS 1.3 with TLS_AES_256_GCM_SHA384 (checked on OpenSSL 3.0 captures).
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

__all__ = [
    "DecryptError",
    "KeyLog",
    "RecordProtection",
    "Suite",
    "TLS12_SUITES",
    "TLS13_SUITES",
    "hkdf_expand_label",
    "next_traffic_secret",
    "tls12_protections",
    "tls13_protection",
]


class DecryptError(Exception):
    """A record did not authenticate: wrong secrets, or a stream decoded out of step."""


class _Aead(Protocol):
    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Suite:
    """What the decoder needs to know of a cipher suite."""

    code: int
    name: str
    aead: Callable[[bytes], _Aead]
    key_length: int
    hash: str
    "hashlib name of the suite's hash (HKDF for 1.3, PRF for 1.2)."
    iv_length: int = 12
    "TLS 1.3 always 12; TLS 1.2 4 for GCM (the salt), 12 for ChaCha20-Poly1305."
    explicit_nonce: int = 0
    "Bytes of explicit nonce at the start of each TLS 1.2 record (8 for GCM)."
    tag_length: int = 16


def _ccm8(key: bytes) -> _Aead:
    return AESCCM(key, tag_length=8)


TLS13_SUITES: dict[int, Suite] = {
    s.code: s
    for s in (
        Suite(0x1301, "TLS_AES_128_GCM_SHA256", AESGCM, 16, "sha256"),
        Suite(0x1302, "TLS_AES_256_GCM_SHA384", AESGCM, 32, "sha384"),
        Suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, 32, "sha256"),
        Suite(0x1304, "TLS_AES_128_CCM_SHA256", AESCCM, 16, "sha256"),
        Suite(0x1305, "TLS_AES_128_CCM_8_SHA256", _ccm8, 16, "sha256", tag_length=8),
    )
}
"RFC 8446 B.4."


def _gcm12(code: int, name: str, key: int, hash_: str) -> Suite:
    return Suite(code, name, AESGCM, key, hash_, iv_length=4, explicit_nonce=8)


def _chacha12(code: int, name: str) -> Suite:
    return Suite(code, name, ChaCha20Poly1305, 32, "sha256")


TLS12_SUITES: dict[int, Suite] = {
    s.code: s
    for s in (
        _gcm12(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
        _gcm12(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
        _gcm12(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
        _gcm12(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
        _gcm12(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
        _gcm12(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
        _gcm12(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 16, "sha256"),
        _gcm12(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 32, "sha384"),
        _chacha12(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        _chacha12(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        _chacha12(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    )
}
"The AEAD suites of TLS 1.2 (RFC 5288, RFC 5289, RFC 7905)."


class KeyLog:
    """Secrets of an NSS key log, by client random and label."""

    def __init__(self) -> None:
        self._secrets: dict[bytes, dict[str, bytes]] = {}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyLog:
        log = cls()
        log.add(Path(path).read_bytes())
        return log

    def add(self, text: bytes) -> int:
        """Add the secrets of key log text; returns how many lines were secrets."""
        count = 0
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3 or parts[0].startswith(b"#"):
                continue
            try:
                random, secret = bytes.fromhex(parts[1].decode()), bytes.fromhex(parts[2].decode())
            except ValueError:
                continue
            self._secrets.setdefault(random, {})[parts[0].decode("ascii", "replace")] = secret
            count += 1
        return count

    def get(self, client_random: bytes, label: str) -> bytes | None:
        return self._secrets.get(client_random, {}).get(label)

    def __len__(self) -> int:
        return len(self._secrets)


def hkdf_expand_label(secret: bytes, label: bytes, context: bytes, length: int, hash_: str) -> bytes:
    """RFC 8446 7.1: HKDF-Expand(Secret, HkdfLabel, Length) with the "tls13 " prefix."""
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + bytes([len(context)]) + context
    algorithm = hashes.SHA384() if hash_ == "sha384" else hashes.SHA256()
    return HKDFExpand(algorithm, length, info).derive(secret)


def next_traffic_secret(secret: bytes, suite: Suite) -> bytes:
    """RFC 8446 7.2: application_traffic_secret_N+1 after a KeyUpdate."""
    return hkdf_expand_label(secret, b"traffic upd", b"", len(secret), suite.hash)


class RecordProtection:
    """Decrypts the records of one direction in one epoch; counts the sequence number."""

    def __init__(self, suite: Suite, key: bytes, iv: bytes, *, tls13: bool) -> None:
        self.suite = suite
        self._aead = suite.aead(key)
        self._iv = iv
        self._tls13 = tls13
        self.seq = 0

    def _nonce(self) -> bytes:
        return (int.from_bytes(self._iv, "big") ^ self.seq).to_bytes(12, "big")

    def decrypt(self, header: bytes, fragment: bytes) -> tuple[int, bytes]:
        """Decrypt one record (``header`` is its 5 bytes) into (content type, plaintext).

        Raises:
            DecryptError: the record does not authenticate.
        """
        try:
            if self._tls13:  # RFC 8446 5.2
                inner = self._aead.decrypt(self._nonce(), fragment, header)
                stripped = inner.rstrip(b"\0")
                if not stripped:
                    raise DecryptError("a TLS 1.3 record with no content type")
                result = stripped[-1], stripped[:-1]
            else:  # RFC 5246 6.2.3.3
                explicit = self.suite.explicit_nonce
                nonce = self._iv + fragment[:explicit] if explicit else self._nonce()
                length = len(fragment) - explicit - self.suite.tag_length
                aad = self.seq.to_bytes(8, "big") + header[:3] + length.to_bytes(2, "big")
                result = header[0], self._aead.decrypt(nonce, fragment[explicit:], aad)
        except InvalidTag:
            raise DecryptError(f"record {self.seq} does not authenticate") from None
        self.seq += 1
        return result


def tls13_protection(suite: Suite, secret: bytes) -> RecordProtection:
    """RFC 8446 7.3: the write key and IV of one sender from its traffic secret."""
    key = hkdf_expand_label(secret, b"key", b"", suite.key_length, suite.hash)
    iv = hkdf_expand_label(secret, b"iv", b"", 12, suite.hash)
    return RecordProtection(suite, key, iv, tls13=True)


def _p_hash(hash_: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """RFC 5246 5: P_hash(secret, seed)."""
    out, a = b"", seed
    while len(out) < length:
        a = hmac.new(secret, a, hash_).digest()
        out += hmac.new(secret, a + seed, hash_).digest()
    return out[:length]


def tls12_protections(
    suite: Suite, master: bytes, client_random: bytes, server_random: bytes
) -> tuple[RecordProtection, RecordProtection]:
    """RFC 5246 6.3: the (client write, server write) protections from the master secret."""
    k, i = suite.key_length, suite.iv_length
    block = _p_hash(suite.hash, master, b"key expansion" + server_random + client_random, 2 * (k + i))
    client_key, server_key = block[:k], block[k : 2 * k]
    client_iv, server_iv = block[2 * k : 2 * k + i], block[2 * k + i :]
    return (
        RecordProtection(suite, client_key, client_iv, tls13=False),
        RecordProtection(suite, server_key, server_iv, tls13=False),
    )
