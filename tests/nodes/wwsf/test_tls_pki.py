"""reference.tls: the test PKI behind the WWSF's HTTPS and the eP-CSCF's WSS (5.2.2.5.2 step 1)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from reference.tls import PkiError, TestPki


@pytest.fixture
def pki(tmp_path: Path) -> TestPki:
    return TestPki(tmp_path / "pki")


async def _echo(
    server: ssl.SSLContext, client: ssl.SSLContext, host: str, server_hostname: str | None = None
) -> bytes:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, host, 0, ssl=server)
    port = srv.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=client, server_hostname=server_hostname
        )
        writer.write(b"hello\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return line
    finally:
        srv.close()
        await srv.wait_closed()


def test_pki_writes_ca_cert_and_key_with_private_key_mode_0600(pki: TestPki) -> None:
    pki.issue("wwsf")
    for key in ("ca.key", "wwsf.key"):
        assert stat.S_IMODE((pki.directory / key).stat().st_mode) == 0o600
    chain = x509.load_pem_x509_certificates((pki.directory / "wwsf.pem").read_bytes())
    leaf, ca = chain
    assert ca.subject == leaf.issuer
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}


async def test_client_trusting_the_ca_verifies_the_issued_certificate(pki: TestPki) -> None:
    line = await _echo(pki.server_context("wwsf"), pki.client_context(), "127.0.0.1")
    assert line == b"hello\n"


async def test_issued_certificate_is_valid_for_localhost(pki: TestPki) -> None:
    line = await _echo(pki.server_context("wwsf"), pki.client_context(), "127.0.0.1", "localhost")
    assert line == b"hello\n"


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
async def test_issued_certificate_is_valid_for_ipv6_loopback(pki: TestPki) -> None:
    try:
        line = await _echo(pki.server_context("wwsf"), pki.client_context(), "::1")
    except OSError as error:
        if isinstance(error, ssl.SSLError):
            raise
        pytest.skip(f"IPv6 loopback unavailable: {error}")
    assert line == b"hello\n"


async def test_client_not_trusting_the_ca_fails_the_handshake(pki: TestPki, tmp_path: Path) -> None:
    stranger = TestPki(tmp_path / "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        await _echo(pki.server_context("wwsf"), stranger.client_context(), "127.0.0.1")


async def test_client_rejects_a_certificate_for_another_host_name(pki: TestPki) -> None:
    pki.issue("elsewhere", sans=["wwsf.example.net"])
    with pytest.raises(ssl.SSLCertVerificationError):
        await _echo(pki.server_context("elsewhere"), pki.client_context(), "127.0.0.1")


async def test_client_context_writes_the_nss_key_log(pki: TestPki, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    await _echo(pki.server_context("wwsf"), pki.client_context(str(keylog)), "127.0.0.1")
    text = keylog.read_text()
    assert "CLIENT_TRAFFIC_SECRET_0" in text or "CLIENT_RANDOM" in text


async def test_the_pki_key_log_holds_server_and_client_secrets(pki: TestPki, tmp_path: Path) -> None:
    """Issue 17: a lab decrypts the stack's TLS with the stack's own key log. Contexts made
    before :meth:`TestPki.log_secrets` switch to it; the file is created mode 0600."""
    server, client = pki.server_context("wwsf"), pki.client_context()
    keylog = tmp_path / "stack.keys"
    pki.log_secrets(str(keylog))
    assert stat.S_IMODE(keylog.stat().st_mode) == 0o600
    own = tmp_path / "client.keys"
    await _echo(server, pki.client_context(str(own)), "127.0.0.1")  # the server side logs
    server_lines = keylog.read_text().splitlines()
    assert any(line.startswith("SERVER_TRAFFIC_SECRET_0 ") for line in server_lines)
    assert sorted(own.read_text().splitlines()) == sorted(server_lines)  # both ends' view of one connection
    other = TestPki(pki.directory)  # another process's PKI, no key log: only the client side logs
    await _echo(other.server_context("wwsf"), client, "127.0.0.1")
    client_lines = keylog.read_text().splitlines()[len(server_lines) :]
    assert any(line.startswith("CLIENT_TRAFFIC_SECRET_0 ") for line in client_lines)


def test_a_key_log_that_cannot_be_written_is_a_pki_error(pki: TestPki, tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="cannot write the key log"):
        pki.log_secrets(str(tmp_path / "missing" / "keys"))


async def test_second_process_loads_the_same_pki(pki: TestPki) -> None:
    pki.issue("wwsf")
    again = TestPki(pki.directory)
    assert again.ca_pem == pki.ca_pem
    line = await _echo(again.server_context("wwsf"), pki.client_context(), "127.0.0.1")
    assert line == b"hello\n"


def test_corrupt_ca_certificate_is_a_clear_error(pki: TestPki) -> None:
    pki.ca_path.write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n")
    with pytest.raises(PkiError, match="ca.pem is not a PEM certificate"):
        TestPki(pki.directory)


def test_unreadable_ca_key_is_a_clear_error(pki: TestPki) -> None:
    key = pki.directory / "ca.key"
    key.unlink()
    key.mkdir()
    with pytest.raises(PkiError, match="cannot read .*ca.key"):
        TestPki(pki.directory)


def test_ca_key_of_another_ca_is_refused(pki: TestPki, tmp_path: Path) -> None:
    other = TestPki(tmp_path / "other")
    (pki.directory / "ca.key").write_bytes((other.directory / "ca.key").read_bytes())
    with pytest.raises(PkiError, match="does not belong"):
        TestPki(pki.directory)


def test_corrupt_server_key_is_a_clear_error(pki: TestPki) -> None:
    pki.issue("wwsf")
    pki.key_path("wwsf").write_bytes(b"not a key")
    with pytest.raises(PkiError, match="cannot load the certificate of 'wwsf'"):
        pki.server_context("wwsf")


@pytest.mark.parametrize("name", ["ca", "../evil", "", "a/b"])
def test_unsafe_certificate_names_are_refused(pki: TestPki, name: str) -> None:
    with pytest.raises(ValueError, match="not a usable certificate name"):
        pki.issue(name)
