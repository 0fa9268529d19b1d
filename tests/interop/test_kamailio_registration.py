"""Interop (issue 16): the Kamailio eP-CSCF (interop/kamailio) judged by the suite, registration side.

A nested ``pytest steps`` run of the registration and security features against
``examples/pixit/kamailio.toml`` with its PICS (``kamailio-pics.toml``): Kamailio 5.6 from Debian
with the reference WWSF and registrar beside it, the suite's emulated IMS core around it. Each
scenario's verdict, as the conformance report gives it (``reports.results.load_run``: the one
judge of a run's verdicts), must be the one ``docs/validation.md`` records for Kamailio, with the
reason given there; a change either way (a fix in interop/kamailio, or a change of the suite) must update
that table and this one together.

The PIXIT is moved to a loopback address of its own (the same ports), as the mixed run's test does,
so that another run on this machine keeps its ports. ``scripts/install.sh`` installs Kamailio, so
CI runs this; the test is skipped only where ``kamailio`` is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nested import why

from conformance.harness.scenario_capture import release_host, scenario_host
from conformance.pixit import load_pixit
from conformance.traceability import load_pics
from reports.results import Verdict, load_run

ROOT = Path(__file__).resolve().parents[2]
PIXIT = ROOT / "examples" / "pixit" / "kamailio.toml"
PICS = ROOT / "examples" / "pixit" / "kamailio-pics.toml"
FEATURES = ["steps/test_registration.py", "steps/test_security.py"]

PASS = Verdict.PASS.value
FAIL = Verdict.FAIL.value
NA = Verdict.NOT_APPLICABLE.value
INCONCLUSIVE = Verdict.INCONCLUSIVE.value

# Scenario (its test name, without the module) -> Kamailio's verdict; docs/validation.md says why.
EXPECTED: dict[str, str] = {
    # TP_WIMPU_BLK_001
    "test_a_block_provisioned_for_option_1_is_registered_by_its_epcscf_at_startup"
    "[sip:wrtc-!.*!@block1.ims.example.net-ep-cscf1-sip:block1@wrtc.ims.example.net]": PASS,
    "test_the_wwsf_announces_every_block_of_the_third_party_with_a_different_epcscf": NA,  # BLK_004
    "test_a_block_provisioned_for_option_2_is_registered_upon_the_first_wic_registration_for_it": NA,
    "test_wics_registering_in_a_block_add_no_ims_registration_of_the_block"
    "[alice-sip:wrtc-!.*!@block1.ims.example.net-ep-cscf1]": PASS,
    "test_wics_registering_in_a_block_add_no_ims_registration_of_the_block"
    "[bob-sip:wrtc-!.*!@block2.ims.example.net-ep-cscf2]": NA,
    "test_a_wic_registers_for_the_first_time[alice-A1-sip:wrtc-!.*!@block1.ims.example.net]": PASS,
    "test_a_wic_registers_for_the_first_time[bob-B1-sip:wrtc-!.*!@block2.ims.example.net]": NA,
    "test_the_epcscf_accepts_the_token_in_each_carriage_it_supports"
    "[in an Authorization Bearer header field]": PASS,
    "test_the_epcscf_accepts_the_token_in_each_carriage_it_supports[as an application/jwt body part]": PASS,
    "test_the_allocated_impu_is_taken_from_the_block_and_bound_to_the_external_identity": NA,
    "test_the_individual_impu_allocated_to_an_external_identity_never_reaches_the_wic": NA,
    "test_a_second_wic_of_the_same_user_adds_a_contact_to_the_same_impu[alice]": PASS,
    "test_a_second_wic_of_the_same_user_adds_a_contact_to_the_same_impu[bob]": NA,
    "test_a_wic_refreshes_its_registration": PASS,
    # REG_008: Kamailio's Via on the WebSocket names its WSS listener, an eP-CSCF hop all the same
    "test_a_refresh_of_a_wics_contact_over_another_websocket_moves_the_contact_to_it[alice]": PASS,
    "test_a_refresh_of_a_wics_contact_over_another_websocket_moves_the_contact_to_it[bob]": NA,
    "test_deregistration_of_the_last_contact_removes_the_entry[alice]": PASS,
    "test_deregistration_of_the_last_contact_removes_the_entry[bob]": NA,
    "test_a_deregistration_of_a_contact_that_was_never_registered_leaves_no_entry[alice]": PASS,
    "test_a_deregistration_of_a_contact_that_was_never_registered_leaves_no_entry[bob]": NA,
    "test_a_page_from_another_origin_is_refused_at_the_websocket_handshake": PASS,
    "test_a_register_without_a_token_is_challenged": PASS,
    "test_a_valid_token_for_another_identity_is_refused": PASS,
    "test_a_token_that_fails_one_check_of_its_contents_is_refused"
    "[a copy of its token signed by another key]": PASS,
    "test_a_token_that_fails_one_check_of_its_contents_is_refused[an unsigned copy of its token]": PASS,
    # SEC_007 audience: a made-up eP-CSCF identity when the directory has no second eP-CSCF
    "test_a_token_that_fails_one_check_of_its_contents_is_refused"
    "[a token the WWSF issued for another eP-CSCF]": PASS,
    "test_an_expired_token_is_refused": PASS,
    "test_an_identity_outside_every_wimpu_block_is_refused_even_with_a_valid_token": PASS,
    # added after the first Kamailio run (found by the blind fault catalogue); Kamailio's
    # registrar module does each as the scenario asks
    "test_a_wic_instance_that_comes_back_with_a_new_contact_uri_replaces_its_contact[alice]": PASS,
    "test_a_wic_instance_that_comes_back_with_a_new_contact_uri_replaces_its_contact[bob]": NA,
    "test_the_200_ok_lists_the_wics_contact_with_at_most_the_interval_it_asked_for[alice]": PASS,
    "test_the_200_ok_lists_the_wics_contact_with_at_most_the_interval_it_asked_for[bob]": NA,
    "test_a_register_for_exactly_the_minimum_registration_interval_is_accepted[alice]": PASS,
    "test_a_register_for_exactly_the_minimum_registration_interval_is_accepted[bob]": NA,
    "test_a_page_from_an_origin_that_only_begins_like_the_wwsfs_is_refused_at_the_websocket_handshake"
    "[.evil.example.com]": PASS,
    "test_a_page_from_an_origin_that_only_begins_like_the_wwsfs_is_refused_at_the_websocket_handshake"
    "[0]": PASS,
    "test_a_valid_token_for_the_identity_in_from_does_not_register_another_identity_in_to": PASS,
    # the dialect rows (issue 17, docs/dialects.md): Kamailio registers alice's WIC in each client's SIP
    "test_a_wic_of_each_client_family_registers_for_the_first_time"
    "[alice-A1-JsSIP 3.13-sip:wrtc-!.*!@block1.ims.example.net]": PASS,
    "test_a_wic_of_each_client_family_registers_for_the_first_time"
    "[alice-A1-SIP.js 0.21-sip:wrtc-!.*!@block1.ims.example.net]": PASS,
    "test_a_wic_of_each_client_family_registers_for_the_first_time"
    "[alice-A1-a sipML5-like client-sip:wrtc-!.*!@block1.ims.example.net]": PASS,
    "test_a_wic_of_each_client_family_registers_for_the_first_time"
    "[bob-B1-JsSIP 3.13-sip:wrtc-!.*!@block2.ims.example.net]": NA,
    "test_a_wic_of_each_client_family_registers_for_the_first_time"
    "[bob-B1-SIP.js 0.21-sip:wrtc-!.*!@block2.ims.example.net]": NA,
    "test_a_wic_of_each_client_family_registers_for_the_first_time"
    "[bob-B1-a sipML5-like client-sip:wrtc-!.*!@block2.ims.example.net]": NA,
    # Kamailio challenges SIP.js's token-less un-REGISTER (401) and keeps the contact, as its PICS says
    # (PICS_PROFILE_REG_DEREG_NO_TOKEN = no): the profile's choice is not checked, the text's holds
    "test_a_wic_that_deregisters_without_its_token_as_sipjs_does_removes_the_entry[alice-SIP.js 0.21]": PASS,
    "test_a_wic_that_deregisters_without_its_token_as_sipjs_does_removes_the_entry[bob-SIP.js 0.21]": NA,
    # SEC_009, SEC_010, SEC_011: they set up a session first (their preamble); sessions are not in
    # this slice (a), so the behaviour under test is never reached: INCONCLUSIVE
    "test_a_request_in_another_wics_session_from_a_websocket_that_never_registered_is_refused": INCONCLUSIVE,
    "test_a_request_in_a_session_set_up_over_another_websocket_of_the_same_user_is_refused": INCONCLUSIVE,
    "test_a_request_in_a_session_the_wic_has_already_ended_is_refused": INCONCLUSIVE,
}


def _verdicts(reports: Path) -> dict[str, str]:
    """Test name -> the verdict the conformance report gives it."""
    results, _ = load_run(reports)
    return {result.test: result.verdict.value for result in results}


def _private(host: str) -> Path:
    """The PIXIT on ``host`` (same ports), its state directory var/kamailio-<host>, beside the original."""
    text = PIXIT.read_text(encoding="utf-8")
    moved = text.replace("127.0.0.1", host).replace("var/kamailio", f"var/kamailio-{host}")
    moved, started = re.subn(r'("kamailio-lab-block1")\]', rf'\1, "{host}"]', moved)
    assert started == 1, f"{PIXIT}: no start command to move to {host}"
    private = PIXIT.with_name(f".{PIXIT.stem}.{os.getpid()}.{host}.toml")
    private.write_text(moved, encoding="utf-8")
    return private


def test_the_kamailio_pixit_and_pics_load() -> None:
    pixit = load_pixit(PIXIT)
    assert [(n.name, n.mode) for n in pixit.ep_cscfs] == [("ep-cscf1", "external")]
    answers = {item.id: item.answer for item in load_pics(PICS)}
    assert answers["PICS_NODE_EPCSCF"] == "yes" and answers["PICS_OPT_B"] == "no"


@pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio is not installed (scripts/install.sh)")
def test_kamailio_registration_verdicts_are_those_of_docs_validation(tmp_path: Path) -> None:
    host = scenario_host()
    private = _private(host)
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    env["WIMPU_CAPTURES_DIR"] = str(tmp_path / "captures")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *FEATURES, "--sut", str(private), "--pics", str(PICS), "-n0",
             "-p", "no:randomly", "-p", "no:cacheprovider", "--reports-dir", str(reports), "-q"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        private.unlink(missing_ok=True)
        shutil.rmtree(ROOT / "var" / f"kamailio-{host}", ignore_errors=True)
        release_host(host)
    junit = reports / "junit.xml"
    assert junit.exists(), why(junit, result.stdout, result.stderr)
    found = _verdicts(reports)
    differ = {n: (found.get(n), v) for n, v in EXPECTED.items() if found.get(n) != v}
    unknown = sorted(set(found) - set(EXPECTED))
    assert not differ and not unknown, (
        f"verdicts (got, docs/validation.md) that differ: {differ}; scenarios not in the table: {unknown}\n"
        + why(junit, result.stdout, result.stderr)
    )
