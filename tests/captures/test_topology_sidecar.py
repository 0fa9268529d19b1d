"""The topology a scenario capture carries beside it (``<capture>.topology.json``, issue 15):
written from the nodes and blocks, read back the same, used by ``verify`` when no PIXIT is given
(and said so on stdout), overridden by ``--pixit``, refused with one line when it is not one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_verify import PIXIT, block_registration

from captures.cli import main
from captures.topology import FORMAT, CapturedTopology, read_topology, sidecar_of, write_topology
from conformance.pixit import load_pixit

PROG = "wimpu-conformance"


def run(*argv: str) -> tuple[int, list[str], list[str]]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["verify", *argv], out=out, err=err, load_topology=load_pixit)
    return status, out.getvalue().splitlines(), err.getvalue().splitlines()


@pytest.fixture
def pixit(tmp_path: Path) -> Path:
    path = tmp_path / "pixit.toml"
    path.write_text(PIXIT)
    return path


def test_the_sidecar_is_named_after_the_capture_whatever_dots_its_name_holds() -> None:
    name = "test_x_bob-B1-sip_wrtc-alice_block1.ims.example.net"
    assert sidecar_of(Path(f"/c/{name}.pcapng")) == Path(f"/c/{name}.topology.json")
    assert sidecar_of(Path("/c/run.pcap")) == Path("/c/run.topology.json")
    assert sidecar_of(Path("/c/trace")) == Path("/c/trace.topology.json")


def test_what_is_written_reads_back_the_same(tmp_path: Path, pixit: Path) -> None:
    source = load_pixit(pixit)
    path = write_topology(tmp_path / "a.b.pcapng", CapturedTopology.of(source.endpoints(), source.blocks))
    assert path == tmp_path / "a.b.topology.json"
    topology = read_topology(path)
    assert topology.endpoints() == dict(source.endpoints())
    assert [(b.block, b.ep_cscf, b.registration, b.standby) for b in topology.blocks] == [
        (b.block, b.ep_cscf, b.registration, b.standby) for b in source.blocks
    ]
    assert topology == CapturedTopology.of(source.endpoints(), source.blocks)  # what the live rules judge on
    document = json.loads(path.read_text())
    assert document["format"] == FORMAT
    assert "password" not in path.read_text()  # what the rules need, not the SUT's secrets
    assert topology.profile_answers is None and "profile" not in document


def test_the_profile_answers_travel_with_the_capture(tmp_path: Path, pixit: Path) -> None:
    """The SUT's answers on the solution profile's choices (and only those) go into the sidecar, so
    ``verify`` makes the same profile checks offline as the run did live."""
    source = load_pixit(pixit)
    answers = {"PICS_PROFILE_TERM_REJECT_CODE": "no", "PICS_OPT_B": "yes", "PICS_NODE_WWSF": "no"}
    path = write_topology(
        tmp_path / "c.pcapng", CapturedTopology.of(source.endpoints(), source.blocks, answers)
    )
    assert read_topology(path).profile_answers == {"PICS_PROFILE_TERM_REJECT_CODE": "no"}
    document = json.loads(path.read_text())
    document["profile"] = {"PICS_OPT_B": "yes"}
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="'profile' must map PICS_PROFILE_"):
        read_topology(path)


def test_the_testers_clock_jumps_travel_with_the_capture(tmp_path: Path, pixit: Path) -> None:
    """When the tester moved an external SUT's clock, the sidecar says when and by how much, so the
    rules measure lifetimes on the nodes' clock offline as live (``Knowledge.lapse``)."""
    source = load_pixit(pixit)
    path = write_topology(
        tmp_path / "d.pcapng",
        CapturedTopology.of(source.endpoints(), source.blocks, clock_jumps=[(1.5, 600)]),
    )
    assert read_topology(path).clock_jumps == ((1.5, 600.0),)
    assert "clock_jumps" not in json.loads(
        write_topology(tmp_path / "e.pcapng", CapturedTopology.of({}, ())).read_text()
    )
    for bad in ([[1.5]], [[1.5, -3]], [["x", 1]], {"at": 1}):
        document = json.loads(path.read_text())
        document["clock_jumps"] = bad
        path.write_text(json.dumps(document))
        with pytest.raises(ValueError, match="'clock_jumps' must be a list of"):
            read_topology(path)


def test_the_ep_cscfs_timer_c_travels_with_the_capture(tmp_path: Path, pixit: Path) -> None:
    """The eP-CSCF's Timer C the run knew (the PIXIT's ``[timing] timer_c``) goes beside the capture,
    so rule SESSION_TIMER_C finds a branch left ringing past it offline as live; none, no key."""
    source = load_pixit(pixit)
    path = write_topology(
        tmp_path / "t.pcapng", CapturedTopology.of(source.endpoints(), source.blocks, timer_c=181)
    )
    assert read_topology(path).timer_c == 181.0
    assert "timer_c" not in json.loads(
        write_topology(tmp_path / "u.pcapng", CapturedTopology.of({}, ())).read_text()
    )
    for bad in (0, -1, "181", True):
        document = json.loads(path.read_text())
        document["timer_c"] = bad
        path.write_text(json.dumps(document))
        with pytest.raises(ValueError, match="'timer_c' must be a positive number of seconds"):
            read_topology(path)


def test_pics_needs_the_suites_loader(tmp_path: Path) -> None:
    capture = block_registration(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["verify", str(capture), "--ports", str(tmp_path / "p.json"), "--pics", "x.toml"], out=out, err=err
    )
    assert status == 2 and "--pics needs the suite's PICS loader" in err.getvalue()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "cannot read a JSON topology"),
        ('{"format": "other/9"}', "not a topology of format"),
        (
            f'{{"format": "{FORMAT}", "endpoints": [{{"host": "h", "port": "5060", "node": "x"}}]}}',
            "endpoints[0]",
        ),
        (
            f'{{"format": "{FORMAT}", "blocks": [{{"wimpu": "sip:x@y", "option": "A", "ep_cscf": "e"}}]}}',
            "blocks[0]",
        ),
        (
            f'{{"format": "{FORMAT}", "blocks": [{{"wimpu": "sip:a-!.*!@b", "option": "A", "ep_cscf": "e",'
            ' "registration": 3}]}',
            "'registration' must be 1 or 2",
        ),
    ],
)
def test_a_bad_sidecar_is_one_line_naming_the_file(tmp_path: Path, text: str, says: str) -> None:
    capture = block_registration(tmp_path)
    sidecar_of(capture).write_text(text)
    with pytest.raises(ValueError, match="topology.json") as raised:
        read_topology(sidecar_of(capture))
    assert says in str(raised.value) and "\n" not in str(raised.value)
    status, out, err = run(str(capture))
    assert (status, out) == (2, []) and len(err) == 1 and says in err[0]


class TestVerifyUsesIt:
    def test_without_pixit_the_sidecar_names_the_nodes_and_gives_the_blocks(
        self, tmp_path: Path, pixit: Path
    ) -> None:
        capture = block_registration(tmp_path)
        source = load_pixit(pixit)
        write_topology(capture, CapturedTopology.of(source.endpoints(), source.blocks))
        status, out, err = run(str(capture))
        assert (status, err) == (0, [])
        assert out[0] == (
            f"{PROG}: verify: nodes and blocks from the topology beside the capture: {sidecar_of(capture)}"
        )
        # the blocks came with it: the option-dependent rule judged, not "the PIXIT gives no blocks"
        assert any(ln.split()[:2] == ["PASS", "BLK_FROM_ITS_EP_CSCF"] for ln in out)
        assert out[-1] == "verdict: PASS"

    def test_pixit_wins_over_the_sidecar(self, tmp_path: Path, pixit: Path) -> None:
        capture = block_registration(tmp_path)
        other = tmp_path / "other.toml"
        other.write_text(
            PIXIT.replace('ep_cscf = "ep-cscf1"', 'ep_cscf = "ep-cscf2"') + '[[ep_cscf]]\nname = "ep-cscf2"\n'
        )
        source = load_pixit(pixit)
        write_topology(capture, CapturedTopology.of(source.endpoints(), source.blocks))
        status, out, _ = run(str(capture), "--pixit", str(other))
        assert status == 1, "the PIXIT's blocks were used: block 1 belongs to ep-cscf2 there"
        assert not any("topology beside the capture" in ln for ln in out)

    def test_ports_add_to_the_sidecar(self, tmp_path: Path, pixit: Path) -> None:
        capture = block_registration(tmp_path)
        source = load_pixit(pixit)
        endpoints = {a: n for a, n in source.endpoints().items() if n != "s-cscf"}
        assert len(endpoints) == len(source.endpoints()) - 1
        write_topology(capture, CapturedTopology.of(endpoints, source.blocks))
        ports = tmp_path / "ports.json"
        ports.write_text(json.dumps({"5070": "s-cscf"}))
        status, out, _ = run(str(capture), "--ports", str(ports))
        assert status == 0 and "topology beside the capture" in out[0]

    def test_no_sidecar_no_pixit_no_ports_says_which_file_it_looked_for(self, tmp_path: Path) -> None:
        status, out, err = run(str(tmp_path / "t.1.pcapng"))
        assert (status, out) == (2, [])
        assert err == [
            f"{PROG}: verify: error: give --pixit PIXIT.toml (or --ports PORTS.json) to name the nodes "
            "(no t.1.topology.json beside the capture)"
        ]


def test_a_complete_capture_says_so_and_nothing_else_does(tmp_path: Path, pixit: Path) -> None:
    """``complete`` (every packet of the nodes since their start: an absence is a fact) is written
    only when true and read back; any other value is refused."""
    source = load_pixit(pixit)
    path = write_topology(
        tmp_path / "d.pcapng", CapturedTopology.of(source.endpoints(), source.blocks, complete=True)
    )
    assert read_topology(path).complete is True
    plain = write_topology(tmp_path / "e.pcapng", CapturedTopology.of(source.endpoints(), source.blocks))
    assert "complete" not in json.loads(plain.read_text()) and read_topology(plain).complete is False
    for bad in ("yes", 1, None):
        document = json.loads(path.read_text())
        document["complete"] = bad
        path.write_text(json.dumps(document))
        with pytest.raises(ValueError, match="'complete' must be true or false"):
            read_topology(path)


def test_every_field_reads_back_equal(tmp_path: Path, pixit: Path) -> None:
    """The live steps judge on the topology the harness holds, ``verify`` on the one it reads back
    from the sidecar: the two must be equal, field by field, or live and offline verdicts could
    differ."""
    source = load_pixit(pixit)
    topology = CapturedTopology.of(
        source.endpoints(),
        source.blocks,
        {"PICS_PROFILE_TERM_REJECT_CODE": "no", "PICS_OPT_B": "yes"},
        ["https://wwsf.example.net:8443"],
        [(2.5, 600)],
        complete=True,
    )
    assert topology.profile_answers == {"PICS_PROFILE_TERM_REJECT_CODE": "no"}
    assert read_topology(write_topology(tmp_path / "f.pcapng", topology)) == topology
