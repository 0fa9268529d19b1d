"""Preflight against real servers on loopback: each problem is one line naming node, address and failure."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pixitkit import BASE, BLOCK, closed_port, http_server, pki, sip_udp_responder, write

from conformance.harness.expect import EVENT_WAIT
from conformance.pixit import Pixit, load_pixit
from conformance.preflight import PreflightError, Problem, require_ready, wait_until_ready
from conformance.preflight import check as preflight_check


def check(pixit: Pixit, *, timeout: float = EVENT_WAIT) -> list[Problem]:
    """The preflight with a wait that a loaded machine cannot outrun where an answer is due
    (the servers here answer at once); the tests of silence give their own short timeout."""
    return preflight_check(pixit, timeout=timeout)


OPENAPI = {"openapi": "3.1.0", "info": {"title": "W6/W7", "version": "1"}, "paths": {}}


def external(tmp_path: Path, table: str, ca: Path | None = None) -> Pixit:
    """The base PIXIT with ``table`` (a node made external) and the CA to trust."""
    trust = f'[trust]\nca = ["{ca}"]\n' if ca is not None else ""
    return load_pixit(write(tmp_path, BASE + table + trust))


def only(problems: list[Problem]) -> str:
    assert len(problems) == 1, problems
    line = str(problems[0])
    assert "\n" not in line
    return line


def test_an_all_reference_pixit_has_nothing_to_check(tmp_path: Path) -> None:
    assert check(load_pixit(write(tmp_path, BASE))) == []


def test_an_unreachable_node(tmp_path: Path) -> None:
    port = closed_port()
    pixit = external(tmp_path, f'[registrar]\nmode = "external"\nurl = "http://127.0.0.1:{port}"\n')
    line = only(check(pixit))
    assert line.startswith(f"PIXIT registrar (http://127.0.0.1:{port}): does not answer: TCP conn"), line
    assert "refused" in line


def test_a_certificate_that_does_not_verify(tmp_path: Path) -> None:
    server, other = pki(tmp_path, "server-ca"), pki(tmp_path, "other-ca")
    with http_server({}, server.server_context("server")) as port:
        url = f"wss://127.0.0.1:{port}/"
        sip = closed_port()
        table = (
            f'[[ep_cscf]]\nname = "ep-x"\nmode = "external"\nurl = "{url}"\nsip = "tcp://127.0.0.1:{sip}"\n'
        )
        problems = check(external(tmp_path, table + 'identity = "sip:ep-x"\n', other.ca_path))
    mine = [p for p in problems if p.address == url]
    assert str(mine[0]).startswith(f"PIXIT ep-x ({url}): certificate does not verify: "), problems
    assert "certificate" in mine[0].what.removeprefix("certificate does not verify: ")  # OpenSSL's reason
    assert len(mine) == 1 and mine[0].lasting
    assert [p.what.split(":")[0] for p in problems if p.address != url] == ["does not answer"]


def test_a_certificate_for_another_host_name(tmp_path: Path) -> None:
    ca = pki(tmp_path, "ca", sans=("wwsf.example.org",))
    with http_server({}, ca.server_context("server")) as port:
        url = f"https://127.0.0.1:{port}"
        line = only(check(external(tmp_path, f'[wwsf]\nmode = "external"\nurl = "{url}"\n', ca.ca_path)))
    assert line.startswith(f"PIXIT wwsf ({url}): certificate does not verify: "), line
    assert "mismatch" in line and "127.0.0.1" in line


def test_a_registrar_without_openapi(tmp_path: Path) -> None:
    with http_server({"/health": {"status": "up"}}) as port:
        url = f"http://127.0.0.1:{port}"
        line = only(check(external(tmp_path, f'[registrar]\nmode = "external"\nurl = "{url}"\n')))
    assert line == (
        f"PIXIT registrar ({url}): does not serve its OpenAPI document: "
        f"GET {url}/openapi.json answered 404 Not Found"
    )


def test_a_registrar_with_openapi_is_ready(tmp_path: Path) -> None:
    with http_server({"/openapi.json": OPENAPI}) as port:
        pixit = external(tmp_path, f'[registrar]\nmode = "external"\nurl = "http://127.0.0.1:{port}/"\n')
        assert check(pixit) == []


def _jwks(key: ec.EllipticCurvePrivateKey) -> dict[str, object]:
    return {"keys": [ECAlgorithm.to_jwk(key.public_key(), as_dict=True)]}


def test_a_wwsf_that_does_not_announce_a_block_nor_hold_the_signing_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    ca = pki(tmp_path)
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "signing.pem").write_bytes(pem)
    directory = [{"wimpu": "sip:wrtc-!.*!@block9.ims.example.net", "option": "A", "ep_cscf": {"uri": "x"}}]
    routes = {"/.well-known/jwks.json": _jwks(other), "/directory": directory}
    with http_server(routes, ca.server_context("server")) as port:
        url = f"https://127.0.0.1:{port}"
        table = f'[wwsf]\nmode = "external"\nurl = "{url}"\nsigning_key = "signing.pem"\n'
        lines = sorted(str(p) for p in check(external(tmp_path, table, ca.ca_path)))
        assert lines == [
            f"PIXIT wwsf ({url}): the JWKS does not hold the public key of signing_key "
            f"{tmp_path / 'signing.pem'} (a key of another run?)",
            f"PIXIT wwsf ({url}): the directory does not announce block {BLOCK} "
            "(it announces sip:wrtc-!.*!@block9.ims.example.net)",
        ]
        routes["/.well-known/jwks.json"] = _jwks(key)
        directory[0]["wimpu"] = BLOCK
    with http_server(routes, ca.server_context("server")) as port:
        table = f'[wwsf]\nmode = "external"\nurl = "https://127.0.0.1:{port}"\nsigning_key = "signing.pem"\n'
        assert check(external(tmp_path, table, ca.ca_path)) == []


def test_the_checks_tls_secrets_go_to_the_key_log_given(tmp_path: Path) -> None:
    """A SUT's start-up is captured with the preflight's handshakes in it: given the run's key log, each
    TLS connection of the checks logs its secrets there, so that ``verify`` decodes every connection
    of the capture (it reported the WSS checks of the Kamailio lab as ``tls-no-secrets``)."""
    ca = pki(tmp_path)
    keylog = tmp_path / "keys.log"
    with http_server({}, ca.server_context("server")) as port:
        table = f'[wwsf]\nmode = "external"\nurl = "https://127.0.0.1:{port}"\n'
        check(external(tmp_path, table, ca.ca_path))
        assert not keylog.exists()
        preflight_check(external(tmp_path, table, ca.ca_path), timeout=EVENT_WAIT, keylog=str(keylog))
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keylog.read_text(encoding="ascii")


def test_sip_over_udp_answers_an_options(tmp_path: Path) -> None:
    with sip_udp_responder() as port:
        pixit = external(tmp_path, f'[i_cscf]\nmode = "external"\nsip = "udp://127.0.0.1:{port}"\n')
        assert check(pixit) == []


def test_sip_over_udp_that_does_not_answer(tmp_path: Path) -> None:
    port = closed_port(socket.SOCK_DGRAM)
    line = only(check(external(tmp_path, f'[s_cscf]\nmode = "external"\nsip = "udp://127.0.0.1:{port}"\n')))
    assert line == f"PIXIT s_cscf (udp://127.0.0.1:{port}): does not answer: ICMP port unreachable for a " \
        "SIP OPTIONS over UDP"  # fmt: skip


def test_sip_over_udp_silence_is_a_timeout(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        pixit = external(tmp_path, f'[s_cscf]\nmode = "external"\nsip = "udp://127.0.0.1:{port}"\n')
        started = time.monotonic()
        line = only(check(pixit, timeout=0.6))
    assert line.endswith("no SIP response to an OPTIONS over UDP within 0.6 s"), line
    assert time.monotonic() - started < 3


def test_nodes_are_checked_in_parallel(tmp_path: Path) -> None:
    """Both nodes get their OPTIONS before either is answered: a check of one node after
    the other would ask the second only when the first had answered or timed out (30 s)."""
    nodes = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for sock in nodes:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(10)
        a, b = (sock.getsockname()[1] for sock in nodes)
        table = f'[i_cscf]\nmode = "external"\nsip = "udp://127.0.0.1:{a}"\n' \
            f'[s_cscf]\nmode = "external"\nsip = "udp://127.0.0.1:{b}"\n'  # fmt: skip
        found: list[list[Problem]] = []
        thread = threading.Thread(target=lambda: found.append(check(external(tmp_path, table), timeout=30)))
        thread.start()
        asked = [sock.recvfrom(65535) for sock in nodes]  # both asked, neither answered yet
        for sock, (data, peer) in zip(nodes, asked, strict=True):
            call_id = re.search(rb"(?im)^Call-ID:\s*(\S+)", data)
            assert call_id, data
            answer = b"SIP/2.0 200 OK\r\nCall-ID: " + call_id.group(1) + b"\r\nContent-Length: 0\r\n\r\n"
            sock.sendto(answer, peer)
        thread.join(30)
        assert found == [[]]
    finally:
        for sock in nodes:
            sock.close()


def test_wait_until_ready_waits_for_a_node_that_starts_late(tmp_path: Path) -> None:
    port = closed_port()
    pixit = external(tmp_path, f'[registrar]\nmode = "external"\nurl = "http://127.0.0.1:{port}"\n')
    started, ready = threading.Event(), threading.Event()

    def start_later() -> None:
        time.sleep(0.6)
        with http_server({"/openapi.json": OPENAPI}, port=port):
            started.set()
            ready.wait(10)

    thread = threading.Thread(target=start_later, daemon=True)
    thread.start()
    try:
        assert wait_until_ready(pixit, within=10) == []
        assert started.is_set()
    finally:
        ready.set()
        thread.join(10)


def test_wait_until_ready_gives_up_after_the_delay(tmp_path: Path) -> None:
    port = closed_port()
    pixit = external(tmp_path, f'[registrar]\nmode = "external"\nurl = "http://127.0.0.1:{port}"\n')
    started = time.monotonic()
    try:
        require_ready(pixit, within=0.8)
    except PreflightError as exc:
        assert len(exc.problems) == 1 and str(exc) == str(exc.problems[0])
    else:
        raise AssertionError("a closed port is not ready")
    assert 0.5 < time.monotonic() - started < 3


def test_wait_until_ready_stops_at_a_lasting_problem(tmp_path: Path) -> None:
    server, other = pki(tmp_path, "server-ca"), pki(tmp_path, "other-ca")
    with http_server({}, server.server_context("server")) as port:
        table = f'[wwsf]\nmode = "external"\nurl = "https://127.0.0.1:{port}"\n'
        started = time.monotonic()
        problems = wait_until_ready(external(tmp_path, table, other.ca_path), within=30)
    assert "certificate does not verify" in only(problems)
    assert time.monotonic() - started < 5
