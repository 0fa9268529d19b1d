"""A test PKI generated at start-up: one EC P-256 CA and the certificates it issues.

Step 1 of TR 23.701 5.2.2.5.2 relies on "one-way authentication of the server based
on the server certificate"; the WWSF (HTTPS) and the eP-CSCF (WSS) need certificates a
client can verify. Nothing here is ever committed: the keys are made when a run starts
and live in a directory the caller chooses (a temporary directory in tests).

Layout of the directory::

    ca.pem  ca.key            the CA certificate and its key (key mode 0600)
    <name>.pem  <name>.key    a server certificate (leaf, then CA) and its key (0600)
    client.<node>.pem/.key    the client certificate of a node (mutual TLS towards the
                              wIMPU Registrar, TS 33.501 13.1): CN <node>, SAN URI
                              ``urn:wimpu:node:<node>``, extended key usage clientAuth
    .lock                     serialises processes creating or extending the PKI

A second process that opens the same directory loads what is there instead of making a
new CA, so separate processes (a browser launcher, a SIPp run, tshark) share one trust
anchor.

Key logs: :meth:`TestPki.log_secrets` (or ``keylog=``) has every TLS context the PKI made or
will make, server and client, append its secrets to one NSS key log (``SSLKEYLOGFILE``
format), so a lab's capture of the stack's own WSS and HTTPS decrypts with the stack's key log
alone (``wimpu-conformance verify --keylog``); ``client_context(keylog_file=...)`` sends one
client's secrets to a file of its own. The key log is created mode 0600: it decrypts every
connection, like a private key.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import ssl
import weakref
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reference.dirlock import directory_lock

__all__ = ["DEFAULT_SANS", "NODE_URI", "PkiError", "TestPki", "peer_node"]

DEFAULT_SANS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
"Subject alternative names of a server certificate when none are given."

NODE_URI = "urn:wimpu:node:"
"Prefix of the URI subject alternative name naming a node in its client certificate."

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CA_DAYS = 365
_LEAF_DAYS = 90
_SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
_BACKDATE = datetime.timedelta(hours=1)


class PkiError(Exception):
    """The PKI directory cannot be used: a file is unreadable, corrupt or inconsistent."""


class TestPki:
    """An EC P-256 certificate authority for one test run, stored in ``directory``.

    Args:
        directory: where the PEM files live; created (mode 0700) if missing. If it
            already holds ``ca.pem`` and ``ca.key`` they are loaded, not replaced.
        ca_name: the common name of a newly generated CA.
        keylog: an NSS key log every TLS context of this PKI appends its secrets to
            (:meth:`log_secrets`); None: none (a client context still honours
            ``SSLKEYLOGFILE``, as every Python client context does).

    Raises:
        PkiError: an existing file cannot be read or parsed, or the CA key does not
            belong to the CA certificate.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self, directory: str | os.PathLike[str], *, ca_name: str = "wimpu test CA", keylog: str | None = None
    ):
        self.directory = Path(directory)
        self._keylog: str | None = None
        self._contexts: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()
        if keylog is not None:
            self.log_secrets(keylog)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            if self.ca_path.exists() or (self.directory / "ca.key").exists():
                self._ca_cert = _load_cert(self.ca_path)
                self._ca_key = _load_key(self.directory / "ca.key")
                if self._ca_cert.public_key() != self._ca_key.public_key():
                    raise PkiError(f"{self.directory / 'ca.key'} does not belong to {self.ca_path}")
            else:
                self._ca_key = ec.generate_private_key(ec.SECP256R1())
                self._ca_cert = _make_ca(self._ca_key, ca_name)
                _write(self.directory / "ca.key", _key_pem(self._ca_key), 0o600)
                _write(self.ca_path, self._ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def __repr__(self) -> str:
        return f"TestPki({str(self.directory)!r})"

    @property
    def keylog(self) -> str | None:
        """The NSS key log the contexts of this PKI write to, or None."""
        return self._keylog

    def log_secrets(self, keylog: str) -> None:
        """Append the TLS secrets of every context this PKI made or will make to ``keylog``.

        Contexts already in use switch for their next connections (a scenario's capture gets
        its own key log). The file is created mode 0600 if missing.

        Raises:
            PkiError: the file cannot be created.
        """
        try:
            os.close(os.open(keylog, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        except OSError as error:
            raise PkiError(f"cannot write the key log {keylog}: {error.strerror or error}") from error
        self._keylog = keylog
        for context in list(self._contexts):
            context.keylog_filename = keylog

    def _track(self, context: ssl.SSLContext, keylog_file: str | None = None) -> ssl.SSLContext:
        """Give ``context`` its key log (its own, else the PKI's) and follow it for later switches."""
        if keylog_file is not None:
            context.keylog_filename = keylog_file
            return context
        if self._keylog is not None:
            context.keylog_filename = self._keylog
        self._contexts.add(context)
        return context

    @property
    def ca_path(self) -> Path:
        """Path of the CA certificate (``ca.pem``): the only trust anchor of clients."""
        return self.directory / "ca.pem"

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate in PEM form."""
        return self._ca_cert.public_bytes(serialization.Encoding.PEM)

    def cert_path(self, name: str) -> Path:
        """Path of the certificate chain of server ``name``."""
        return self.directory / f"{_check_name(name)}.pem"

    def key_path(self, name: str) -> Path:
        """Path of the private key of server ``name``."""
        return self.directory / f"{_check_name(name)}.key"

    def issue(self, name: str, sans: Sequence[str] = DEFAULT_SANS) -> Path:
        """Issue (or re-issue) a server certificate for ``name``.

        Args:
            name: file name stem, ``[A-Za-z0-9._-]``; ``ca`` is reserved.
            sans: DNS names and IP addresses (IPv4 or IPv6) the certificate is valid for.

        Returns:
            The path of the certificate chain (``<name>.pem``).
        """
        _check_name(name)
        if not sans:
            raise ValueError("a server certificate needs at least one subject alternative name")
        with self._locked():
            self._issue_locked(name, sans)
        return self.cert_path(name)

    def _issue_locked(self, name: str, sans: Sequence[str]) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _make_leaf(key, self._ca_key, self._ca_cert, name, sans)
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, self._ca_cert))
        _write(self.key_path(name), _key_pem(key), 0o600)
        _write(self.cert_path(name), chain, 0o644)

    def _server_context_locked(self, name: str, sans: Sequence[str], *, cover: bool) -> ssl.SSLContext:
        """Issue ``name``'s certificate if it is missing, expired (or, with ``cover``, does not
        cover ``sans``), then load it, all under the directory lock: two processes starting
        at once in one state directory never load one's key with the other's certificate."""
        path = self.cert_path(name)
        if (
            not path.exists()
            or not self.key_path(name).exists()
            or _expired(_load_cert(path))
            or (cover and not set(sans) <= _sans_of(_load_cert(path)))
        ):
            self._issue_locked(name, tuple(dict.fromkeys(sans)))
        return server_context_from(self.cert_path(name), self.key_path(name), name)

    def client_cert_path(self, node: str) -> Path:
        """Path of the client certificate chain of ``node`` (mutual TLS)."""
        return self.directory / f"client.{_check_name(node)}.pem"

    def client_key_path(self, node: str) -> Path:
        """Path of the private key of ``node``'s client certificate (mode 0600)."""
        return self.directory / f"client.{_check_name(node)}.key"

    def ensure_client(self, node: str) -> Path:
        """Issue the client certificate of ``node`` unless a current one is on disk.

        The certificate names the node twice: as its common name and as the URI
        ``urn:wimpu:node:<node>`` (what the registrar authorises, :func:`peer_node`).
        Processes sharing the directory issue each certificate once (under the lock).

        Returns:
            The path of the certificate chain (``client.<node>.pem``).
        """
        with self._locked():
            self._ensure_client_locked(node)
        return self.client_cert_path(node)

    def _ensure_client_locked(self, node: str) -> None:
        cert, key_path = self.client_cert_path(node), self.client_key_path(node)
        if cert.exists() and key_path.exists() and not _expired(_load_cert(cert)):
            return
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _make_leaf(key, self._ca_key, self._ca_cert, node, (), client=True)
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, self._ca_cert))
        _write(key_path, _key_pem(key), 0o600)
        _write(cert, chain, 0o644)

    def mtls_server_context(self, name: str, sans: Sequence[str] = DEFAULT_SANS) -> ssl.SSLContext:
        """A TLS server context for ``name`` that requires a client certificate of this CA.

        TS 33.501 13.1: network functions authenticate each other with TLS client and
        server certificates. A client without a certificate, or with one of another CA,
        fails the handshake. The server certificate is (re-)issued when it is missing,
        expired or does not cover ``sans``.
        """
        with self._locked():
            context = self._server_context_locked(name, sans, cover=True)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=self.ca_pem.decode())
        return self._track(context)

    def ensure_server(self, name: str, sans: Sequence[str]) -> Path:
        """Issue ``name``'s server certificate unless a current one covering ``sans`` is on disk
        (under the directory lock: processes sharing it issue it once).

        Returns:
            The path of the certificate chain (``<name>.pem``).
        """
        with self._locked():
            self._server_context_locked(name, sans, cover=True)
        return self.cert_path(name)

    def server_context(self, name: str) -> ssl.SSLContext:
        """A TLS server context presenting the certificate of ``name``.

        The certificate is issued with :data:`DEFAULT_SANS` if the directory holds none
        for ``name`` yet, or if the stored one has expired.
        """
        with self._locked():
            return self._track(self._server_context_locked(name, DEFAULT_SANS, cover=False))

    def client_context(self, keylog_file: str | None = None, *, node: str | None = None) -> ssl.SSLContext:
        """A TLS client context that trusts only this CA and checks host names.

        Args:
            keylog_file: if given, TLS secrets are appended to this file in the NSS key
                log format (``SSLKEYLOGFILE``), for Wireshark or tshark decryption, instead
                of the PKI's key log (:meth:`log_secrets`).
            node: present the client certificate of this node (issued if missing), for
                mutual TLS towards the wIMPU Registrar.
        """
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=self.ca_pem.decode())
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._track(context, keylog_file)
        if node is not None:
            with self._locked():
                self._ensure_client_locked(node)
                try:
                    context.load_cert_chain(self.client_cert_path(node), self.client_key_path(node))
                except (OSError, ssl.SSLError) as error:
                    raise PkiError(f"cannot load the client certificate of {node!r}: {error}") from error
        return context

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return directory_lock(self.directory)


def peer_node(certificate: dict[str, object] | None) -> str | None:
    """The node a verified peer certificate names (``urn:wimpu:node:<node>``), or None.

    ``certificate`` is :meth:`ssl.SSLSocket.getpeercert` of a verified connection.
    """
    if not certificate:
        return None
    sans = certificate.get("subjectAltName", ())
    for kind, value in sans if isinstance(sans, tuple) else ():
        if kind == "URI" and isinstance(value, str) and value.startswith(NODE_URI):
            return value.removeprefix(NODE_URI) or None
    return None


def _sans_of(cert: x509.Certificate) -> set[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(n.value) for n in names}


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name == "ca":
        raise ValueError(f"not a usable certificate name: {name!r}")
    return name


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` atomically; the file has ``mode`` from its creation on."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise PkiError(f"cannot read {path}: {error.strerror or error}") from error


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError as error:
        raise PkiError(f"{path} is not a PEM certificate: {error}") from error


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise PkiError(f"{path} is not an unencrypted PEM private key: {error}") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{path} is not an EC private key")
    return key


def _expired(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc <= datetime.datetime.now(datetime.UTC)


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _make_ca(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        _builder(name, name, key.public_key(), _CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


def _san(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def _make_leaf(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    name: str,
    sans: Sequence[str],
    *,
    client: bool = False,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return (
        _builder(subject, ca_cert.subject, key.public_key(), _LEAF_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else _SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(NODE_URI + name)] if client else [_san(s) for s in sans]
            ),
            critical=False,
        )
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def server_context_from(
    cert: str | os.PathLike[str], key: str | os.PathLike[str], name: str
) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 or later) presenting the certificate chain ``cert`` with its key
    ``key``, as :meth:`TestPki.server_context` makes them: for a process that gets only those two
    files, not the PKI and its CA key (an IWF worker, ``reference.nodes.ep_cscf.workers``).

    Raises:
        PkiError: a file cannot be read or does not hold a certificate chain and its key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise PkiError(f"cannot load the certificate of {name!r}: {error}") from error
    return context
