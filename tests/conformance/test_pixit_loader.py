"""The PIXIT loader refuses each bad input in one line that names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pixitkit import BASE, pki, write

from conformance.pixit import PixitError, load_pixit


def refused(path: Path) -> str:
    with pytest.raises(PixitError) as caught:
        load_pixit(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    return message


def test_the_base_pixit_loads(tmp_path: Path) -> None:
    pixit = load_pixit(write(tmp_path, BASE))
    assert pixit.all_reference and [n.name for n in pixit.ep_cscfs] == ["ep-cscf1"]


def test_unknown_key(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[registrar]\nmode = "reference"\nadress = "http://x"\n'))
    assert "[registrar]: unknown key 'adress'" in message


def test_unknown_top_level_table(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + "[hss]\nmode = 'reference'\n"))
    assert "top level: unknown key 'hss'" in message


def test_missing_address_of_an_external_node(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[registrar]\nmode = "external"\n'))
    assert "[registrar].url: missing" in message


def test_missing_sip_address_of_an_external_node(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[i_cscf]\nmode = "external"\n'))
    assert "[i_cscf].sip: missing" in message


def test_a_node_both_external_and_reference(tmp_path: Path) -> None:
    text = BASE + '\n[[ep_cscf]]\nname = "ep-cscf1"\nmode = "external"\nurl = "wss://127.0.0.1:7443"\n'
    message = refused(write(tmp_path, text))
    assert "ep_cscf[1].name: 'ep-cscf1' names two nodes" in message


def test_unknown_mode(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[wwsf]\nmode = "simulated"\n'))
    assert "[wwsf].mode: 'simulated' is not a mode" in message


def test_mode_not_supported_for_the_role(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[remote]\nmode = "external"\nsip = "udp://127.0.0.1:5099"\n'))
    assert "[remote].mode: 'external' is not a mode for the remote party (use emulated)" in message


def test_bad_url(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[wwsf]\nmode = "external"\nurl = "http://127.0.0.1:8443"\n'))
    assert "[wwsf].url: 'http://127.0.0.1:8443' is not a https URL" in message


def test_bad_port_in_a_url(tmp_path: Path) -> None:
    text = BASE + '[registrar]\nmode = "external"\nurl = "http://127.0.0.1:81800"\n'
    message = refused(write(tmp_path, text))
    assert "[registrar].url: 'http://127.0.0.1:81800' has a bad port" in message


def test_bad_port_in_a_sip_address(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[s_cscf]\nmode = "external"\nsip = "tcp://127.0.0.1:50x0"\n'))
    assert "[s_cscf].sip: 'tcp://127.0.0.1:50x0' is not udp://HOST:PORT or tcp://HOST:PORT" in message


def test_port_zero_of_an_external_node(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[s_cscf]\nmode = "external"\nsip = "tcp://127.0.0.1:0"\n'))
    assert "[s_cscf].sip: 'tcp://127.0.0.1:0' has a bad port" in message


def test_missing_trust_ca_for_external_https(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[wwsf]\nmode = "external"\nurl = "https://127.0.0.1:8443"\n'))
    assert "[trust].ca: missing" in message


def test_a_ca_file_that_does_not_exist(tmp_path: Path) -> None:
    text = BASE + '[trust]\nca = ["no-such-ca.pem"]\n'
    message = refused(write(tmp_path, text))
    assert f"[trust].ca[0]: no such file: {tmp_path / 'no-such-ca.pem'}" in message


def test_a_block_whose_ep_cscf_is_not_listed(tmp_path: Path) -> None:
    text = BASE + '\n[[block]]\nwimpu = "sip:wrtc-!.*!@block2.ims.example.net"\noption = "A"\n'
    text += 'ep_cscf = "ep-cscf9"\n'
    message = refused(write(tmp_path, text))
    assert "block[1].ep_cscf: 'ep-cscf9' is not an [[ep_cscf]] of this PIXIT" in message


def test_a_user_of_no_block(tmp_path: Path) -> None:
    text = BASE + (
        '\n[[user]]\nusername = "eve"\npassword = "p"\nidentity = "sip:wrtc-eve@block1.ims.example.net"\n'
        'block = "sip:wrtc-!.*!@block7.ims.example.net"\n'
    )
    message = refused(write(tmp_path, text))
    assert "user[1].block: 'sip:wrtc-!.*!@block7.ims.example.net' is not a [[block]] of this PIXIT" in message


def test_an_external_ep_cscf_needs_its_identity_when_the_wwsf_is_the_suites(tmp_path: Path) -> None:
    ca = pki(tmp_path).ca_path
    text = (
        BASE.replace(
            'name = "ep-cscf1"\n',
            'name = "ep-cscf1"\nmode = "external"\nurl = "wss://127.0.0.1:7443"\nsip = "tcp://127.0.0.1:5080"\n',
        )
        + f'[trust]\nca = ["{ca}"]\n'
    )
    message = refused(write(tmp_path, text))
    assert "ep_cscf[0].identity: missing" in message
    with_identity = text.replace('mode = "external"\n', 'mode = "external"\nidentity = "sip:ep"\n')
    assert load_pixit(write(tmp_path, with_identity)).nodes["ep-cscf1"].identity == "sip:ep"


def test_the_same_address_for_two_nodes(tmp_path: Path) -> None:
    text = BASE + (
        '[i_cscf]\nmode = "external"\nsip = "tcp://127.0.0.1:5060"\n'
        '[s_cscf]\nmode = "external"\nsip = "tcp://127.0.0.1:5060"\n'
    )
    message = refused(write(tmp_path, text))
    assert "s_cscf: 127.0.0.1:5060 is also the address of i_cscf" in message


def test_not_toml(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "[wwsf\nmode = 1\n"))
    assert "not valid TOML" in message


def test_a_relative_ca_is_read_beside_the_pixit(tmp_path: Path) -> None:
    ca = pki(tmp_path).ca_path
    text = BASE + '[wwsf]\nmode = "external"\nurl = "https://127.0.0.1:8443"\n'
    pixit = load_pixit(write(tmp_path, text + '[trust]\nca = ["ca/ca.pem"]\n'))
    assert pixit.trust == (ca,)


# ----- emulated IMS core, fault injection, standby (mixed runs) ---------------------------------


def test_an_emulated_s_cscf_needs_a_fixed_tcp_address(tmp_path: Path) -> None:
    message = refused(write(tmp_path, BASE + '[s_cscf]\nmode = "emulated"\n'))
    assert "[s_cscf].sip: an emulated S-CSCF/HSS needs the address the SUT reaches it at" in message
    for address in ("udp://127.0.0.1:5070", "tcp://127.0.0.1:0"):
        message = refused(write(tmp_path, BASE + f'[s_cscf]\nmode = "emulated"\nsip = "{address}"\n'))
        assert "tcp://HOST:PORT with a fixed port" in message, address


def test_an_emulated_i_cscf_needs_an_emulated_s_cscf(tmp_path: Path) -> None:
    text = BASE + '[i_cscf]\nmode = "emulated"\nsip = "tcp://127.0.0.1:5060"\n'
    message = refused(write(tmp_path, text))
    assert "[i_cscf].mode: an emulated I-CSCF forwards to the emulated S-CSCF" in message
    both = text + '[s_cscf]\nmode = "emulated"\nsip = "tcp://127.0.0.1:5070"\n'
    message = refused(write(tmp_path, both))
    assert "block[0].password: missing: the suite's emulated S-CSCF/HSS needs" in message
    both = both.replace('ep_cscf = "ep-cscf1"\n', 'ep_cscf = "ep-cscf1"\npassword = "lab-only"\n', 1)
    pixit = load_pixit(write(tmp_path, both))
    assert pixit.emulated("i_cscf") and pixit.emulated("s_cscf") and not pixit.all_reference


@pytest.mark.parametrize("key", ["fail", "restart", "start_again"])
def test_a_fault_injection_command_only_on_an_external_ep_cscf(tmp_path: Path, key: str) -> None:
    text = BASE.replace('name = "ep-cscf1"\n', f'name = "ep-cscf1"\n{key} = ["kill", "1"]\n')
    message = refused(write(tmp_path, text))
    assert f"ep_cscf[0].{key}: only an external eP-CSCF needs a fault-injection command" in message
    message = refused(write(tmp_path, text.replace('= ["kill", "1"]', '= "kill 1"')))
    assert f"ep_cscf[0].{key}: expected list" in message


def test_start_again_follows_a_fail_command(tmp_path: Path) -> None:
    """``[[ep_cscf]] start_again`` starts the eP-CSCF its ``fail`` command stopped (TP_WIMPU_LIFE_010):
    without ``fail`` it would start one that never failed. The failover example PIXIT has both."""
    failover = Path(__file__).resolve().parents[2] / "examples" / "pixit" / "reference-failover.toml"
    ep = load_pixit(failover).nodes["ep-cscf1"]
    assert ep.fail and ep.start_again[-3:] == ("start-again", "../../var/reference-failover", "ep-cscf1")
    text = failover.read_text(encoding="utf-8")
    no_fail = "\n".join(line for line in text.splitlines() if not line.startswith("fail = "))
    path = tmp_path / "no-fail.toml"
    path.write_text(no_fail, encoding="utf-8")
    with pytest.raises(PixitError) as error:
        load_pixit(path)
    assert "ep_cscf[0].start_again: starts the eP-CSCF again after its fail command, which is missing" in str(
        error.value
    )


def test_a_standby_must_be_another_ep_cscf(tmp_path: Path) -> None:
    text = BASE.replace('option = "A"\n', 'option = "A"\nstandby = ["ep-cscf1"]\n')
    message = refused(write(tmp_path, text))
    assert "block[0].standby: 'ep-cscf1' is not another [[ep_cscf]] of this PIXIT" in message
    other = text.replace('standby = ["ep-cscf1"]', 'standby = ["ep-cscf2"]')
    other += '[[ep_cscf]]\nname = "ep-cscf2"\n'
    assert load_pixit(write(tmp_path, other)).blocks[0].standby == ("ep-cscf2",)


def test_a_block_representative_defaults_to_the_references_and_must_be_an_identity(tmp_path: Path) -> None:
    assert load_pixit(write(tmp_path, BASE)).blocks[0].representative == "sip:block1@wrtc.ims.example.net"
    text = BASE.replace('option = "A"\n', 'option = "A"\nrepresentative = "not an identity"\n')
    message = refused(write(tmp_path, text))
    assert "block[0].representative:" in message


def test_the_failover_time_is_the_pixits_and_the_reference_says_10_s(tmp_path: Path) -> None:
    """Issue 15: "within 10 seconds" is no number in a feature: ``[timing] failover_within``."""
    from conformance.pixit import REFERENCE_PIXIT

    assert load_pixit(REFERENCE_PIXIT).failover_within == 10.0
    assert load_pixit(write(tmp_path, BASE)).failover_within == 10.0  # omitted: the reference's
    assert load_pixit(write(tmp_path, BASE + "[timing]\nfailover_within = 2.5\n")).failover_within == 2.5
    for bad in ("0", "-1", '"10"', "true"):
        message = refused(write(tmp_path, BASE + f"[timing]\nfailover_within = {bad}\n"))
        assert "[timing].failover_within: expected a positive number of seconds" in message, message


def test_the_minimum_registration_interval_is_the_pixits_and_the_reference_says_60_s(tmp_path: Path) -> None:
    """TP_WIMPU_REG_011 registers for the SUT's own Min-Expires: ``[timing] min_expires``."""
    from conformance.pixit import REFERENCE_PIXIT
    from reference.nodes.p_cscf.flows import RegistrationPolicy

    assert load_pixit(REFERENCE_PIXIT).min_expires == RegistrationPolicy(ep_cscf="x").min_expires == 60
    assert load_pixit(write(tmp_path, BASE + "[timing]\nmin_expires = 120\n")).min_expires == 120
    for bad in ("0", "-1", "1.5", '"60"', "true"):
        message = refused(write(tmp_path, BASE + f"[timing]\nmin_expires = {bad}\n"))
        assert "[timing].min_expires: expected a positive whole number of seconds" in message, message


def test_timer_c_is_given_only_on_the_testers_clock(tmp_path: Path) -> None:
    """``[timing] timer_c`` (TP_WIMPU_ORIG_016, FORK_004): the eP-CSCF's Timer C on the ``[clock]``
    file's clock; none by default (those test purposes are then inconclusive)."""
    assert load_pixit(write(tmp_path, BASE)).timer_c is None
    clock = '[clock]\noffset_file = "clock-offset"\n'
    assert load_pixit(write(tmp_path, BASE + clock + "[timing]\ntimer_c = 181\n")).timer_c == 181.0
    message = refused(write(tmp_path, BASE + "[timing]\ntimer_c = 181\n"))
    assert "[timing].timer_c: a Timer C on the tester's clock needs [clock] offset_file" in message, message
    for bad in ("0", "-5", '"181"', "true"):
        message = refused(write(tmp_path, BASE + clock + f"[timing]\ntimer_c = {bad}\n"))
        assert "[timing].timer_c: expected a positive number of seconds" in message, message


def test_the_registrar_stall_commands_go_together_and_only_on_an_external_registrar(tmp_path: Path) -> None:
    """``[registrar] stall`` and ``resume`` (TP_WIMPU_REG_013): both or neither; the suite makes its own
    reference registrar stall itself."""
    stall = 'stall = ["kill", "-STOP", "1"]\n'
    message = refused(write(tmp_path, BASE + '[registrar]\nmode = "reference"\n' + stall))
    assert "[registrar].resume: missing: give stall and resume together" in message
    both = stall + 'resume = ["kill", "-CONT", "1"]\n'
    message = refused(write(tmp_path, BASE + '[registrar]\nmode = "reference"\n' + both))
    assert "[registrar].stall: only an external registrar needs fault-injection commands" in message
    message = refused(write(tmp_path, BASE + '[registrar]\nmode = "reference"\nresume = "kill -CONT 1"\n'))
    assert "[registrar].resume: expected list" in message


def test_the_kamailio_lab_declares_its_registrar_stall_commands() -> None:
    pixit = load_pixit(Path(__file__).resolve().parents[2] / "examples" / "pixit" / "kamailio.toml")
    assert pixit.registrar_stall is not None
    stall, resume = pixit.registrar_stall
    assert "kill -STOP" in stall[-1] and "kill -CONT" in resume[-1]
