"""The stack configuration: the default profile loads; each error is one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from reference.config import ConfigError, check_ports_free, default_config_text, load_config, parse_config


def default() -> dict:  # type: ignore[type-arg]
    return tomllib.loads(default_config_text())


def test_default_profile_has_two_blocks_one_per_option() -> None:
    config = load_config(None)
    assert [(b.option, b.ep_cscf, b.registration) for b in config.blocks] == [
        ("A", "ep-cscf1", 1),
        ("B", "ep-cscf2", 2),
    ]
    assert config.blocks[1].external_domains == ("enterprise.com",)
    assert config.ports["registrar"] == 8180 and config.ep_ports["ep-cscf1"] == (7443, 5080)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["stack"].update(colour="blue"), "[stack]: unknown key 'colour'"),
        (lambda d: d["stack"].update(keylog=1), "stack.keylog: expected str"),
        (lambda d: d.update(extra=1), "unknown key 'extra'"),
        (
            lambda d: d["block"][0].update(ep_cscf="ep-cscf9"),
            "block[0].ep_cscf: 'ep-cscf9' is not a configured",
        ),
        (lambda d: d["block"][0].update(wimpu="sip:wrtc-!(a+)+!@b.example"), "block[0].wimpu:"),
        (lambda d: d["block"][1].update(wimpu=d["block"][0]["wimpu"]), "configured twice"),
        (lambda d: d["block"][0].update(option="C"), "block[0].option"),
        (lambda d: d["block"][0].update(registration=3), "block[0].registration"),
        (lambda d: d["ports"].update(wwsf="8443"), "ports.wwsf: expected int"),
        (lambda d: d["ports"].update(wwsf=70000), "outside 0-65535"),
        (lambda d: d["user"][0].update(block="sip:nope!.*!@x.example"), "user[0].block"),
        (
            lambda d: d["user"][1].update(username=d["user"][0]["username"]),
            "user[1].username: 'alice' is also the user name of user[0]",
        ),
        (lambda d: d.update(block=[]), "no [[block]]"),
        (lambda d: d.update(limits={"wss_max_conections": 5}), "unknown key 'wss_max_conections'"),
        (lambda d: d.update(limits={"wss_max_per_source": 0}), "limits.wss_max_per_source"),
        (lambda d: d.update(limits={"login_window": "1m"}), "limits.login_window"),
        (lambda d: d.update(limits={"login_per_source": 2.5}), "positive whole number"),
        (
            lambda d: d.update(registrar={"store": "postgresql://wimpu:s3cret@db.example/wimpu"}),
            "registrar.store: postgresql://wimpu:***@db.example/wimpu: no password in the URI",
        ),
        (
            lambda d: d.update(registrar={"store": "postgresql://w@db/w?password=s3cret"}),
            "?password=***: no password in the URI",
        ),
        (lambda d: d.update(registrar={"store": "r.db", "password_file": "p"}), "only for a postgresql://"),
        (
            lambda d: d.update(registrar={"store": "postgresql://w@db/w", "password_file": "nope"}),
            "registrar.password_file: nope: no such file",
        ),
        (lambda d: d.update(registrar={"stor": "r.db"}), "[registrar]: unknown key 'stor'"),
        (lambda d: d.update(registrar={"store": 5}), "registrar.store: expected str"),
        (
            lambda d: d["ep_cscf"][0].update(iwf_workers=2),
            "ep_cscf[0].iwf_workers: only a decomposed eP-CSCF (p_cscfs = [...])",
        ),
        (lambda d: d["ep_cscf"][0].update(iwf_workers=0), "ep_cscf[0].iwf_workers: 0 is outside 1-32"),
        (lambda d: d["ep_cscf"][0].update(iwf_workers=33), "ep_cscf[0].iwf_workers: 33 is outside 1-32"),
        (lambda d: d["ep_cscf"][0].update(iwf_workers=True), "ep_cscf[0].iwf_workers: expected int"),
    ],
)
def test_config_errors_are_one_line(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    data = default()
    edit(data)
    with pytest.raises(ConfigError) as info:
        parse_config(data, "stack.toml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert "s3cret" not in str(info.value)


def test_the_registrar_store_and_its_password_file_reach_the_stack(tmp_path: Path) -> None:
    """``[registrar] store``: a SQLite file relative to the configuration, or a PostgreSQL URI
    with its password in a file (also relative to the configuration); none: the state directory's
    ``registrar.db``."""
    (tmp_path / "db.password").write_text("x\n")
    data = default()
    data["registrar"] = {"store": "postgresql://wimpu@127.0.0.1/wimpu", "password_file": "db.password"}
    config = parse_config(data, "stack.toml", tmp_path)
    assert config.registrar_store == "postgresql://wimpu@127.0.0.1/wimpu"
    assert config.registrar_password_file == str(tmp_path / "db.password")
    data["registrar"] = {"store": "registrar.sqlite3"}
    assert parse_config(data, "stack.toml", tmp_path).registrar_store == str(tmp_path / "registrar.sqlite3")
    assert load_config(None).registrar_store is None


def test_the_registrar_alone_on_an_unreachable_store_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reference.nodes.wimpu_registrar", "--db", "postgresql://wimpu@127.0.0.1:1/wimpu",
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PGPASSWORD": "x"},
    )  # fmt: skip
    lines = [
        line for line in result.stderr.strip().splitlines() if "cannot start" in line or "Traceback" in line
    ]
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert (
        len(lines) == 1 and "cannot connect to registrar database postgresql://wimpu@127.0.0.1:1" in lines[0]
    )
    assert "Traceback" not in result.stderr


def test_limits_reach_the_nodes() -> None:
    """[limits] (docs/security.md): the IWF's WSS listener and the WWSF's throttle use them."""
    from reference.stack import Stack, login_throttle

    data = default()
    data["limits"] = {"wss_max_per_source": 3, "wss_register_within": 2.5, "login_per_user_source": 2}
    config = parse_config(data, "stack.toml")
    assert config.limits.wss_max_per_source == 3 and config.limits.wss_register_within == 2.5
    assert login_throttle(config.limits).user_sources.budget.attempts == 2
    stack = Stack(config)
    assert stack.wwsf.throttle.user_sources.budget.attempts == 2
    from reference.nodes.iwf.service import Iwf, TrustedWwsf

    iwf = Iwf(name="ep-cscf1", identity="sip:ep", wwsf=TrustedWwsf("https://o", {}, "r"), ssl_context=None,
              limits=config.limits)  # fmt: skip
    assert iwf.listener.register_within == 2.5 and iwf.listener.admission.max_per_source == 3


def test_port_in_use_is_reported_before_starting() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data = default()
        data["ports"] = {"registrar": port}
        data["ep_cscf"] = [{"name": "ep-cscf1"}, {"name": "ep-cscf2"}]
        with pytest.raises(ConfigError, match=f"registrar = {port} on 127.0.0.1: in use"):
            check_ports_free(parse_config(data))


def test_cli_refuses_a_bad_config_with_one_line_and_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "stack.toml"
    bad.write_text(default_config_text().replace('ep_cscf = "ep-cscf2"', 'ep_cscf = "nowhere"'))
    result = subprocess.run([sys.executable, "-m", "reference.cli", "up", "--config", str(bad)],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'nowhere' is not a configured eP-CSCF" in lines[0], result.stderr
    assert result.stdout == ""


def test_the_key_log_option_reaches_the_stack(tmp_path: Path) -> None:
    data = default()
    data["stack"]["keylog"] = str(tmp_path / "keys")
    assert parse_config(data).keylog == str(tmp_path / "keys")
    assert load_config(None).keylog is None  # off unless asked for (docs/security.md)


def test_cli_refuses_a_key_log_it_cannot_write_with_one_line_and_status_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "keys"
    result = subprocess.run(
        [sys.executable, "-m", "reference.cli", "up", "--state-dir", str(tmp_path / "s"),
         "--keylog", str(missing)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot write the key log {missing}" in lines[0], result.stderr


def test_the_in_process_defaults_are_the_packaged_reference_profile() -> None:
    """``StackConfig()`` (what the suite's in-process runs use) and ``default-stack.toml`` (what
    ``wimpu-ref up`` runs) describe one reference profile: the same blocks, users and IMS users, the
    same domains. Only the ports differ (any free port in-process, fixed ones in the file)."""
    from reference.stack import StackConfig

    packaged, built_in = load_config(None), StackConfig()
    for field in ("ims_domain", "remote_domain", "blocks", "users", "ims_users", "limits", "failover"):
        assert getattr(packaged, field) == getattr(built_in, field), field


def test_an_iwf_worker_named_as_a_configured_node_is_refused_in_one_line() -> None:
    """Worker k of eP-CSCF ``e`` is ``e-wk`` in flow tokens and on the P-CSCFs' links: a node of that
    name would be taken for it."""
    data = default()
    data["ep_cscf"][0].update(p_cscfs=["ep-cscf1-w2"], iwf_workers=2)
    data["p_cscf"] = [{"name": "ep-cscf1-w2", "sip_port": 5084, "link_port": 5094}]
    data["failover"] = {"lease_duration": 10.0}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "stack.toml")
    assert str(info.value) == (
        "stack.toml: ep_cscf 'ep-cscf1'.iwf_workers: its worker 'ep-cscf1-w2' "
        "has the name of a configured node"
    )
    data["ep_cscf"][0]["iwf_workers"] = 1  # no worker 2: no clash
    assert parse_config(data, "stack.toml").iwf_workers == {}
