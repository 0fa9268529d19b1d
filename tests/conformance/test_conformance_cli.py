"""``wimpu-conformance``: help a newcomer can follow, subcommands delegated, documented exit codes."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pixitkit import BASE, closed_port, write

from conformance import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", ["run", "check", "decode", "verify", "report", "up"])
def test_help_of_each_subcommand(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:"), out
    assert "example" in out and f"wimpu-conformance {command}" in out
    assert "exit status" in out


def test_help_lists_every_subcommand_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "check", "up", "report", "decode", "verify"):
        assert f"wimpu-conformance {command}" in out, command
    assert "PIXIT" in out and "PICS" in out and "exit status" in out


def test_the_console_script_is_this_module() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts["wimpu-conformance"] == "conformance.cli:main"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "wimpu-conformance run" in done.stdout


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["check"], ["check", "a.toml", "--wait", "soon"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_check_a_pixit_with_nothing_external_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check", str(write(tmp_path, BASE))]) == 0
    assert "no external node" in capsys.readouterr().out


def test_check_a_pixit_that_does_not_load_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, BASE + '[wwsf]\nmode = "emulated"\n')
    assert cli.main(["check", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"wimpu-conformance: {path}: [wwsf].mode: 'emulated' is not a mode for the WWSF "
                   "(use external or reference)"]  # fmt: skip


def test_check_an_unreachable_node_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    path = write(tmp_path, BASE + f'[i_cscf]\nmode = "external"\nsip = "tcp://127.0.0.1:{port}"\n')
    assert cli.main(["check", str(path), "--timeout", "1"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"wimpu-conformance: PIXIT i_cscf (tcp://127.0.0.1:{port}): ")


def test_run_with_a_pixit_that_does_not_load_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--sut", str(tmp_path / "missing.toml")]) == cli.EXIT_NOT_READY == 4
    assert "missing.toml: no such file" in capsys.readouterr().err


def test_run_with_a_node_not_ready_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    path = write(tmp_path, BASE + f'[registrar]\nmode = "external"\nurl = "http://127.0.0.1:{port}"\n')
    assert cli.main(["run", "--sut", str(path)]) == 4
    err = capsys.readouterr().err
    assert f"PIXIT registrar (http://127.0.0.1:{port}): does not answer" in err and "nothing ran" in err


def test_run_wants_pytest_options_after_a_double_dash(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "-k", "registration"]) == 2
    assert "pytest options go after --" in capsys.readouterr().err


def test_run_dry_run_shows_the_pytest_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pics = tmp_path / "pics.toml"
    pics.write_text((ROOT / "features" / "pics.toml").read_text())
    path = write(tmp_path, '[sut]\npics = "pics.toml"\n' + BASE)
    argv = ["run", "--sut", str(path), "--reports-dir", str(tmp_path / "r"), "--dry-run", "--", "-k", "a b"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert out == (
        f"cd {ROOT} && {sys.executable} -m pytest steps --sut {path} --pics {pics} "
        f"--reports-dir {tmp_path / 'r'} -k 'a b'"
    )


def test_run_without_a_sut_runs_the_bundled_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == f"cd {ROOT} && {sys.executable} -m pytest steps"


def test_decode_is_delegated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["decode", str(tmp_path / "none.pcapng")]) == 1
    assert "none.pcapng" in capsys.readouterr().err


def test_up_is_delegated(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["up", "--config", "/nonexistent/stack.toml"]) == 2
    assert "configuration error: /nonexistent/stack.toml: no such file" in capsys.readouterr().err


def listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_check_starts_a_sut_with_a_start_command_beside_its_emulated_core_then_stops_both() -> None:
    """The mixed PIXIT: its eP-CSCFs register their blocks at start-up with the suite's emulated
    S-CSCF, so the check starts that too; afterwards nothing of either listens any more."""
    pixit = ROOT / "examples" / "pixit" / "mixed-ep-cscf.toml"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "check", str(pixit)],
        capture_output=True, text=True, timeout=120, cwd="/",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "emulated IMS core listens at 127.0.0.1:5070" in done.stdout
    assert "every external node is ready" in done.stdout and "ep-cscf2" in done.stdout
    assert not [port for port in (5070, 5060, 8443, 8180, 7443, 5080) if listening(port)]


def test_run_leaves_the_check_of_a_sut_it_starts_to_each_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """With [sut] start nothing answers before the run: the run must not refuse it for that (it did:
    exit 4, "the SUT is not ready"). Here pytest runs and selects nothing: its own exit status 5."""
    pixit = ROOT / "examples" / "pixit" / "mixed-ep-cscf.toml"
    status = cli.main(["run", "--sut", str(pixit), "--", "-k", "no_such_scenario", "--no-reports", "-n0"])
    out = capsys.readouterr()
    assert status == 5, out
    assert "not ready" not in out.err
