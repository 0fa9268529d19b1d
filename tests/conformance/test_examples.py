"""Every example PIXIT of ``examples/pixit/`` loads, and ``docs/pixit.md`` explains every key.

The examples that name certificate and key files get them created in a temporary directory (a test
CA, a signing key), with their paths rewritten there.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conformance import pixit as pixit_module
from conformance.pixit import Pixit, load_pixit
from conformance.traceability import load_pics
from reference.tls import TestPki

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pixit"
TESTED = {
    "in-process.toml",
    "out-of-process.toml",
    "external-ep-cscf.toml",
    "vendor-pics.toml",
    "reference-processes.toml",  # loaded and run by tests/conformance/test_out_of_process.py
    "reference-failover.toml",  # loaded and run by tests/conformance/test_out_of_process.py
    "failover-stack.toml",  # its stack configuration (wimpu-ref up --config)
    "reference-iwf-workers.toml",  # loaded and run by tests/conformance/test_out_of_process.py
    "iwf-workers-stack.toml",  # its stack configuration: ep-cscf1 decomposed, 2 IWF workers
    "mixed-ep-cscf.toml",  # loaded and run by tests/conformance/test_mixed_run.py
    "mixed-pics.toml",
    "vendor-stack.toml",  # the reference WWSF and registrar beside external-ep-cscf.toml's eP-CSCF
    "kamailio.toml",  # loaded and run by tests/interop/test_kamailio_validation.py
    "kamailio-pics.toml",
    # the same lab with its blocks of option 2, laid over kamailio.toml: loaded and run by
    # tests/interop/test_kamailio_validation.py
    "kamailio-option2.toml",
    "kamailio-option2-pics.toml",
    # the single-node test configurations: loaded by tests/test_configurations.py, run by
    # tests/conformance/test_single_node_configurations.py
    "icscf-pics.toml",
    "registrar-pics.toml",
    "wwsf-pics.toml",
}


def test_every_example_is_tested_here() -> None:
    """Every example PIXIT and PICS; a run's private copy beside them (``.<name>.<pid>.<host>.toml``,
    tests/interop/kamailio_lab.py, a hidden file removed at the run's end) is none."""
    assert {p.name for p in EXAMPLES.glob("*.toml") if not p.name.startswith(".")} == TESTED


def test_in_process_is_the_default_run() -> None:
    example = load_pixit(EXAMPLES / "in-process.toml")
    default = load_pixit(ROOT / "conformance" / "reference-pixit.toml")
    assert example.all_reference
    fields = [f.name for f in dataclasses.fields(Pixit) if f.name not in ("path", "description")]
    assert {f: getattr(example, f) for f in fields} == {f: getattr(default, f) for f in fields}


def test_out_of_process_loads_with_the_files_of_a_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "wimpu-ref"
    TestPki(state / "pki").ensure_client("observer")
    (state / "secrets").mkdir()
    (state / "secrets" / "ims-user-0.password").write_text("generated")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (state / "wwsf-signing-key.pem").write_bytes(pem)
    text = (EXAMPLES / "out-of-process.toml").read_text(encoding="utf-8")
    path = tmp_path / "pixit.toml"
    path.write_text(text.replace("/tmp/wimpu-ref/", f"{state}/"), encoding="utf-8")
    pixit = load_pixit(path)
    assert pixit.modes() == {"external"} and pixit.node("remote").mode == "emulated"
    assert pixit.trust == (state / "pki" / "ca.pem",)
    assert pixit.wwsf_signing_key == state / "wwsf-signing-key.pem"
    assert [n.name for n in pixit.ep_cscfs] == ["ep-cscf1", "ep-cscf2"]
    pki = state / "pki"
    assert pixit.registrar_client == (pki / "client.observer.pem", pki / "client.observer.key")
    assert pixit.ims_users[0].secret() == "generated"


def test_external_ep_cscf_loads_with_the_vendor_ca(tmp_path: Path) -> None:
    for name in ("external-ep-cscf.toml", "vendor-pics.toml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copy(TestPki(tmp_path / "vendor-pki").ca_path, tmp_path / "vendor-ca.pem")
    state = tmp_path / "var" / "wimpu-suite"  # what wimpu-ref up --state-dir leaves there
    TestPki(state / "pki").ensure_client("observer")
    (state / "wwsf-signing-key.pem").write_text("a key")
    pixit = load_pixit(tmp_path / "external-ep-cscf.toml")
    assert [n.name for n in pixit.external()] == ["wwsf", "registrar", "acme-ep"]
    assert pixit.emulated("s_cscf") and pixit.emulated("i_cscf")
    assert pixit.pics == tmp_path / "vendor-pics.toml"
    assert pixit.trust == (tmp_path / "vendor-ca.pem", state / "pki" / "ca.pem")


def test_the_vendor_stack_names_the_vendors_ep_cscf_as_the_pixit_does() -> None:
    """The reference WWSF started with vendor-stack.toml sends WICs where the PIXIT says the eP-CSCF is."""
    from reference.config import load_config

    config = load_config(EXAMPLES / "vendor-stack.toml")
    text = (EXAMPLES / "external-ep-cscf.toml").read_text(encoding="utf-8")
    (wss, sip), = config.ep_ports.values()
    assert f'url = "wss://{config.host}:{wss}"' in text and f'sip = "tcp://{config.host}:{sip}"' in text
    assert f"sip = \"tcp://{config.host}:{config.ports['s_cscf']}\"" in text
    assert [b.wimpu for b in config.blocks] == ["sip:wrtc-!.*!@block1.ims.example.net"]


def test_the_failover_stack_is_the_default_profile_with_a_standby() -> None:
    from reference.config import load_config

    config = load_config(EXAMPLES / "failover-stack.toml")
    default = load_config(ROOT / "reference" / "default-stack.toml")
    assert config.failover is not None and config.blocks[0].standby == ("ep-cscf2",)
    assert [dataclasses.replace(b, standby=()) for b in config.blocks] == list(default.blocks)
    assert (config.users, config.ports, config.ep_ports) == (default.users, default.ports, default.ep_ports)


def test_the_iwf_workers_stack_is_the_default_profile_with_ep_cscf1_decomposed() -> None:
    """The same blocks, users and addresses as the reference profile: the PIXIT of the reference's
    processes holds for it, ep-cscf1's SIP address being its P-CSCF's."""
    from reference.config import load_config

    config = load_config(EXAMPLES / "iwf-workers-stack.toml")
    default = load_config(ROOT / "reference" / "default-stack.toml")
    assert config.iwf_workers == {"ep-cscf1": 2} and config.failover is not None
    assert [(p.name, p.ep_cscf, p.sip_port) for p in config.p_cscfs] == [("p-cscf1a", "ep-cscf1", 5080)]
    assert (config.users, config.ports, config.blocks) == (default.users, default.ports, default.blocks)
    assert (
        config.ep_ports["ep-cscf1"][0] == 7443 and config.ep_ports["ep-cscf2"] == default.ep_ports["ep-cscf2"]
    )
    workers = load_pixit(EXAMPLES / "reference-iwf-workers.toml")
    processes = load_pixit(EXAMPLES / "reference-processes.toml")
    assert (workers.ep_cscfs, workers.users, workers.blocks) == (
        processes.ep_cscfs,
        processes.users,
        processes.blocks,
    )


def test_the_mixed_pics_differs_from_the_reference_pics_by_the_i_cscf_only() -> None:
    mixed = {i.id: i.answer for i in load_pics(EXAMPLES / "mixed-pics.toml")}
    reference = {i.id: i.answer for i in load_pics(ROOT / "features" / "pics.toml")}
    assert {k for k in mixed if mixed[k] != reference[k]} == {"PICS_NODE_ICSCF"}


EXAMPLE_PICS = ["vendor-pics.toml", "mixed-pics.toml", "kamailio-pics.toml"]


@pytest.mark.parametrize("name", EXAMPLE_PICS)
def test_an_example_pics_carries_every_item_of_the_suites_pics_in_order(name: str) -> None:
    """A PICS answers every item of features/pics.toml; a new item needs an answer in each example."""
    example = load_pics(EXAMPLES / name)
    assert [i.id for i in example] == [i.id for i in load_pics(ROOT / "features" / "pics.toml")]


@pytest.mark.parametrize("name", EXAMPLE_PICS)
def test_an_example_pics_gates_what_the_suites_pics_gates(name: str) -> None:
    """The suite reads only the answers of a SUT's PICS; its copy of the gates must not mislead."""
    example = {i.id: i.gates for i in load_pics(EXAMPLES / name)}
    assert example == {i.id: i.gates for i in load_pics(ROOT / "features" / "pics.toml")}


def test_the_vendor_pics_has_the_items_of_the_reference_pics() -> None:
    vendor = load_pics(EXAMPLES / "vendor-pics.toml")
    reference = load_pics(ROOT / "features" / "pics.toml")
    assert [i.id for i in vendor] == [i.id for i in reference]
    answers = {i.id: i.answer for i in vendor}
    assert answers["PICS_NODE_EPCSCF"] == "yes" and answers["PICS_NODE_REGISTRAR"] == "no"


KEYS = {
    "top level": pixit_module._TOP,
    "[sut]": pixit_module._SUT,
    "[stack]": pixit_module._STACK,
    "[trust]": pixit_module._TRUST,
    "[clock]": pixit_module._CLOCK,
    "[[block]]": pixit_module._BLOCK,
    "[[user]]": pixit_module._USER,
    "[[ims_user]]": pixit_module._IMS_USER,
    **{f"[{role}]": keys for role, keys in pixit_module._NODE_KEYS.items()},
}


@pytest.mark.parametrize("table", sorted(KEYS))
def test_docs_explain_every_key(table: str) -> None:
    docs = (ROOT / "docs" / "pixit.md").read_text(encoding="utf-8")
    def explained(key: str) -> bool:  # a key in a table row; a table of the top level as its heading
        return f"`{key}`" in docs if table != "top level" else f"`[{key}]" in docs or f"[[{key}]]`" in docs

    missing = sorted(key for key in KEYS[table] if not explained(key))
    assert not missing, f"docs/pixit.md does not explain {table} {missing}"
    for mode in ("reference", "emulated", "external"):
        assert f"`{mode}`" in docs


@pytest.mark.parametrize(
    "name",
    [
        "reference-processes.toml",
        "mixed-ep-cscf.toml",
        "reference-failover.toml",
        "reference-iwf-workers.toml",
    ],
)
def test_a_private_pixit_has_state_of_its_own(name: str) -> None:
    """Two runs of one example PIXIT at once (xdist workers) each ``rm -rf`` their state directory
    when the SUT starts: with one shared, a run lost its test PKI in the middle of a scenario (a flake
    of test_single_node_configurations, FileNotFoundError on the CA). Each private PIXIT now keeps its
    state under ``var/<its host>/``, removed with it."""
    from runs import ROOT, private_pixit

    with private_pixit(EXAMPLES / name) as first, private_pixit(EXAMPLES / name) as second:
        texts = [path.read_text(encoding="utf-8") for path in (first, second)]
    hosts = [load_pixit_host(text) for text in texts]
    assert hosts[0] != hosts[1]
    for text, host in zip(texts, hosts, strict=True):
        assert "../../var/" in text and text.count("../../var/") == text.count(f"../../var/{host}/"), text
    assert not any((ROOT / "var" / host).exists() for host in hosts)


def load_pixit_host(text: str) -> str:
    """The ``[stack] host`` of a PIXIT's text."""
    return next(line.split('"')[1] for line in text.splitlines() if line.startswith("host = "))
