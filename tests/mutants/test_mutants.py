"""Every scenario can fail: with the fault it guards against injected, it goes red.

For each fault of ``wimpu_faults.FAULTS``, the scenarios whose test purposes guard
against it (a marker expression over their tags) are run in a subprocess with the fault
applied; every one of them must fail. A fault that breaks only a choice of the solution
profile (``PROFILE_ONLY``), not the text, must give every one of them the verdict PROFILE
DEVIATION instead (a skip whose reason starts with ``profile deviation:`` naming the choice):
never PASS, never a FAIL of the text. Another test proves that every scenario, every
Examples block of an outline included (so every option variant), is guarded by some
fault. ``docs/mutants.md`` lists the same table for readers.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark.expression import Expression  # the grammar of ``pytest -m``, evaluated in process
from nested import nested_env, passed

from conformance.harness.errors import HARNESS_ERROR_PROPERTY
from conformance.harness.expect import FAULT_RUN_EVENT_WAIT
from conformance.tp_table import GROUPS, load_test_purposes
from conformance.traceability import ScenarioVariant as Scenario
from conformance.traceability import scenario_variants

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FEATURES = ROOT / "features"

# fault -> the scenarios (a marker expression over their tags) that must fail when it is injected
GUARDS: dict[str, str] = {
    # WIC registration (5.2.2.5.2)
    "registration_not_stored": "TP_WIMPU_REG_001 or TP_WIMPU_REG_003 or TP_WIMPU_REG_004",
    "registrar_failure_accepted": "TP_WIMPU_REG_013",
    "registrar_without_timeout": "TP_WIMPU_REG_013",
    "allocation_not_stable": "TP_WIMPU_LIFE_009",
    "ok_interval_of_policy": "TP_WIMPU_REG_010",
    "too_brief_inclusive": "TP_WIMPU_REG_011",
    "close_deregisters_the_user": "TP_WIMPU_LIFE_006",
    "deregister_removes_entry": "TP_WIMPU_LIFE_008",
    "registrar_write_answer_partial": "TP_WIMPU_REG_003",
    "registrar_expiry_grace": "TP_WIMPU_LIFE_007",
    "forks_to_remembered_contacts": "TP_WIMPU_LIFE_015",
    "w7_user_prefix": "TP_WIMPU_TERM_006",
    "icscf_domain_exact_match": "TP_WIMPU_TERM_008",
    "icscf_route_cache": "TP_WIMPU_TERM_007",
    "reregistration_not_extended": "TP_WIMPU_LIFE_002 or (TP_WIMPU_ORIG_017 and option_b)",
    "deregistration_ignored": "TP_WIMPU_REG_005",
    "unknown_deregistration_registers": "TP_WIMPU_REG_009",
    "new_impu_per_contact": "TP_WIMPU_REG_003 and option_b",
    "contact_per_flow": "TP_WIMPU_REG_008",
    "external_identity_as_impu": "TP_WIMPU_REG_002",
    "wic_page_missing": "TP_WIMPU_REG_001",
    # the rows with a user name the WWSF knows (an unknown one is still refused)
    "any_password_accepted": "TP_WIMPU_REG_012 and (option_a or option_b)",
    "refusal_carries_token": "TP_WIMPU_REG_012",
    "login_names_first_block": "TP_WIMPU_REG_002",
    "expires_in_absolute": "TP_WIMPU_REG_015",
    "login_refund_user_only": "TP_WIMPU_REG_016",
    "login_lockout_counts_all": "TP_WIMPU_REG_016",
    "throttle_clock_in_ms": "TP_WIMPU_REG_017",
    "token_body_ignored": "TP_WIMPU_REG_006 and token_body",
    "token_header_ignored": "TP_WIMPU_REG_006 and token_header",
    "access_token_form_refused": "TP_WIMPU_REG_006 and token_header_24371",
    # WIC authorisation (5.2.2.5.2 steps 2 and 4, 5.2.2.3.2)
    "origin_not_checked": "TP_WIMPU_SEC_001",
    "subprotocol_not_selected": "TP_WIMPU_REG_001",
    "sip_subprotocol_optional": "TP_WIMPU_SEC_017",
    "sip_subprotocol_always": "TP_WIMPU_SEC_017",
    "token_not_checked": "TP_WIMPU_SEC_002 or TP_WIMPU_SEC_003",
    "signature_not_checked": "TP_WIMPU_SEC_004",
    "exp_not_checked": "TP_WIMPU_SEC_005",
    "alg_none_accepted": "TP_WIMPU_SEC_006",
    "aud_not_checked": "TP_WIMPU_SEC_007",
    "nbf_never_checked": "TP_WIMPU_SEC_016",
    "token_refused_403": (
        "TP_WIMPU_SEC_002 or TP_WIMPU_SEC_004 or TP_WIMPU_SEC_005 or TP_WIMPU_SEC_006 or TP_WIMPU_SEC_007"
        " or TP_WIMPU_SEC_016 or TP_WIMPU_LIFE_004"
    ),
    "any_domain_accepted": "TP_WIMPU_SEC_008",
    "in_dialog_unchecked": "TP_WIMPU_SEC_009 or TP_WIMPU_SEC_010",
    "dialog_outlives_bye": "TP_WIMPU_SEC_011",
    "in_dialog_hop_by_host": "TP_WIMPU_SEC_018",
    "dialog_methods_core_side_only": "TP_WIMPU_SEC_019",
    "icscf_in_dialog_refused": "TP_WIMPU_TERM_019",
    "wic_asserted_identity_kept": "TP_WIMPU_ORIG_005",
    # block registration (5.2.2.5.1) and the WWSF directory
    "no_option1": "TP_WIMPU_BLK_001",
    "option2_never_registered": "TP_WIMPU_BLK_002",
    "block_per_wic": "TP_WIMPU_BLK_003",
    "option2_registration_per_first_wic": "TP_WIMPU_BLK_006",
    "no_service_route": "TP_WIMPU_ORIG_001",
    "impu_to_wic": "TP_WIMPU_REG_007",
    "no_reallocation": "TP_WIMPU_LIFE_003 or TP_WIMPU_LIFE_009 or TP_WIMPU_LIFE_014",
    "directory_not_updated": "TP_WIMPU_LIFE_003 or TP_WIMPU_LIFE_009 or TP_WIMPU_LIFE_014",
    "option2_takeover_waits_for_a_wic": "TP_WIMPU_LIFE_014",
    "directory_shared": "TP_WIMPU_BLK_004",
    # origination (5.2.2.5.3)
    "from_rewritten": "TP_WIMPU_ORIG_001 or TP_WIMPU_ORIG_002",
    "pai_external": "TP_WIMPU_ORIG_002",
    "option_b_no_w6": "TP_WIMPU_ORIG_002",
    "option_a_w6": "TP_WIMPU_ORIG_003",
    "bypass_scscf": "TP_WIMPU_ORIG_001 or TP_WIMPU_ORIG_009",
    "token_forwarded": "TP_WIMPU_ORIG_001 and (dialect_jssip or dialect_sipml5)",
    "wic_route_honoured": "TP_WIMPU_ORIG_010",
    "orig_identity_unchecked": "TP_WIMPU_ORIG_004",
    # the cache outlives the registration's expiry as it outlives a de-registration
    "registration_cache_kept": "TP_WIMPU_ORIG_006 or TP_WIMPU_ORIG_014",
    # option B: the W6 read of step 2 finds the expired registration gone, whatever the flow holds
    "origination_after_expiry": "TP_WIMPU_ORIG_014 and option_a",
    # a 'degraded mode' of step 2: only a registrar that does not answer shows it
    "origination_context_cached": "TP_WIMPU_ORIG_015",
    "origination_context_made_up": "TP_WIMPU_ORIG_015",
    # the registrar's answer at step 4 against the eP-CSCF's memory: only a change in between shows it
    # the restart of an eP-CSCF is the only initialisation a scenario sees after the first
    "block_contact_per_start": "TP_WIMPU_BLK_007",
    "term_contacts_remembered": "TP_WIMPU_TERM_013",
    "term_contacts_cached_on_timeout": "TP_WIMPU_TERM_014",
    # option B's claim is an IMPU of another domain (block): that bug honours only its own domain
    "ppi_checked_against_the_domain": "TP_WIMPU_ORIG_008 and option_a",
    "option_b_ppi_overrides_context": "TP_WIMPU_ORIG_008 and option_b",
    "wic_cancel_swallowed": "TP_WIMPU_ORIG_007",
    # Timer C of the eP-CSCF's proxy (RFC 3261 16.6 item 11, 16.8), origination and forking alike
    "timer_c_missing": "TP_WIMPU_ORIG_016 or TP_WIMPU_FORK_004",
    "timer_c_two_minutes": "TP_WIMPU_ORIG_016 or TP_WIMPU_FORK_004",
    "timer_c_408_without_cancel": "TP_WIMPU_ORIG_016 or TP_WIMPU_FORK_004",
    "timer_c_answers_408": "TP_WIMPU_ORIG_016 or TP_WIMPU_FORK_004",
    # termination and forking (5.2.2.5.4)
    "icscf_no_w7": "TP_WIMPU_TERM_001 or TP_WIMPU_TERM_003 or TP_WIMPU_TERM_004 or TP_WIMPU_TERM_009",
    "icscf_w7_all": "TP_WIMPU_TERM_002 or TP_WIMPU_ORIG_009",
    "icscf_w7_at_border_only": "TP_WIMPU_TERM_005 or TP_WIMPU_TERM_009",
    # option B: the HSS knows no external identity, so the fault's standard procedure ends in the
    # I-CSCF's own 404 - a rejection, only its code differs from the profile's 480 (deviation)
    "icscf_no_reject": "(TP_WIMPU_TERM_003 or TP_WIMPU_LIFE_001) and option_a",
    "icscf_no_retarget": "TP_WIMPU_TERM_001 and option_b",
    "icscf_always_480": "TP_WIMPU_TERM_004",
    "pcpid_stripped": "TP_WIMPU_TERM_001 or TP_WIMPU_LIFE_002",
    "fork_first_only": "TP_WIMPU_FORK_001",
    # the block registration kept alive (5.2.2.5.1)
    "block_never_refreshed": "TP_WIMPU_BLK_005",
    "block_refreshed_at_expiry": "TP_WIMPU_BLK_005",
    "block_refusal_ignored": "TP_WIMPU_BLK_008",
    "block_refreshed_per_wic": "TP_WIMPU_BLK_003",
    "block_lapse_ignored": "TP_WIMPU_BLK_009",
    # an eP-CSCF back after its block was re-allocated (5.2.2.2, 5.2.2.5.2 step 3 inopportune)
    "primary_serves_without_lease": "TP_WIMPU_LIFE_010",
    "state_restored_after_crash": "TP_WIMPU_LIFE_010",
    "refused_after_binding": "TP_WIMPU_LIFE_010",
    # a request of a session whose WIC's WebSocket closed (5.2.2.5.4 step 5, inopportune)
    "dead_flow_to_other_flow": "TP_WIMPU_LIFE_011",
    "dead_flow_no_430": "TP_WIMPU_LIFE_011",
    "in_dialog_by_registration": "TP_WIMPU_TERM_015",
    "callee_next_hop_is_caller_contact": "TP_WIMPU_TERM_018",
    "websocket_flow_430": "TP_WIMPU_TERM_015",
    # a WIC whose branch of a forked session lost (5.2.2.5.4 step 5 and 5.2.2.3.2, inopportune)
    "fork_losers_keep_dialog": "TP_WIMPU_SEC_012",
    # found by blind batch 2 (docs/mutants-blind-2.md): a de-registration from an unauthorised
    # WebSocket, origination after a refresh outlived the first interval
    "dereg_without_token_anywhere": "TP_WIMPU_SEC_013",
    "refresh_not_recorded": "TP_WIMPU_ORIG_017 and option_a",  # option B reads the context over W6
    "core_bye_keeps_dialog": "TP_WIMPU_SEC_014",
    "w7_timeout_taken_as_registered": "TP_WIMPU_TERM_016",
    # found by blind batch 3 (docs/mutants-blind-3.md): a page that registered nothing originated
    # as a user registered over another WebSocket (option B),
    "origination_registered_anywhere": "TP_WIMPU_ORIG_018",
    # and a refresh for less time than was left kept the longer expiry (wIMPU Registrar)
    "refresh_keeps_first_interval": "TP_WIMPU_LIFE_012",
    # and a P-Asserted-Identity a WIC wrote into its answer reached the core (5.2.2.5.4 step 5)
    "provisional_assertion_relayed": "TP_WIMPU_TERM_017",
    # and a token-less Contact: * on an authorised WebSocket removed every WIC's contacts (IWF)
    "deregistration_by_expires_header": "TP_WIMPU_SEC_015",
    # Contact: * with the token, which no scenario sent before (P-CSCF)
    "wildcard_removes_own_flow_only": "TP_WIMPU_REG_014",
    # a take-over left the failed eP-CSCF's contacts in the registrar (a profile choice)
    "takeover_cleans_its_allocations_only": "TP_WIMPU_LIFE_013",
    # requests outside any session (MESSAGE, RFC 3428)
    "message_sent_as_written": "TP_WIMPU_ORIG_011",
    "message_cache_kept": "TP_WIMPU_ORIG_012",
    "options_answered_locally": "TP_WIMPU_ORIG_013",
    "options_answered_for_wics": "TP_WIMPU_TERM_012",
    "message_first_contact_only": "TP_WIMPU_TERM_010",
    "message_deferred": "TP_WIMPU_TERM_011",
    "no_cancel": "TP_WIMPU_FORK_001",
    "cancel_no_reason": "TP_WIMPU_FORK_001",
    "upstream_cancel_one_branch": "TP_WIMPU_FORK_002",
    "fork_cancel_own_reason": "TP_WIMPU_FORK_002",
    "busy_here_global": "TP_WIMPU_FORK_003",
    "fork_last_refusal": "TP_WIMPU_FORK_003",
    # lifecycle (5.2.2.3.1)
    "expiry_ignored": "TP_WIMPU_LIFE_001",
    "registration_bound_to_token": "TP_WIMPU_LIFE_004",
    "token_pinned_to_registration": "TP_WIMPU_LIFE_005",
}


# ----- the scenarios and their tags, as pytest-bdd marks them --------------------------------


PROFILE_ONLY: dict[str, str] = {
    # the session to the user who has not registered again is still not set up (the text's check);
    # only the contacts stay in the registrar, and the refusal comes from the eP-CSCF, not the I-CSCF
    "takeover_cleans_its_allocations_only": "PROFILE_LIFE_TAKEOVER_CLEANUP",
    # the token is refused and nothing is registered (the text's check); only the answer is 403 with
    # no Bearer challenge (5.2.2.5.2 step 4 leaves "the exact means" out of scope)
    "token_refused_403": "PROFILE_SEC_TOKEN_401",
    # the token itself is right (its exp in seconds, the eP-CSCF checks it as before); only the log-in
    # answer's expires_in is the expiry time, not the lifetime the profile gives there
    "expires_in_absolute": "PROFILE_WWSF_TOKEN_TIMES",
    # every log-in has the right password and the first five get their tokens; only the profile's
    # throttle, failed log-ins only, refuses none of the others (the text leaves a throttle open)
    "login_refund_user_only": "PROFILE_WWSF_THROTTLE_FAILURES",
    "throttle_clock_in_ms": "PROFILE_WWSF_THROTTLE_GUESSING",
    # the page without sip gets a WebSocket with no subprotocol, which RFC 6455 4.2.2 allows; only
    # the profile refuses it
    "sip_subprotocol_optional": "PROFILE_WSS_SIP_ONLY",
    # the block's one binding is only refreshed more often: the text's single registration holds
    "block_refreshed_per_wic": "PROFILE_BLK_NO_PER_WIC",
    # the request reaches no other WIC (the text's check holds); only the answer is not 430
    "dead_flow_no_430": "PROFILE_LIFE_DEAD_FLOW_430",
    # 5.2.2.5.3 step 2 is only "not applicable" in option A: a W6 read is the text's to allow
    "option_a_w6": "PROFILE_ORIG_OPTA_NO_W6",
    # the WIC's request goes on around the S-CSCF to a node of its choosing; which check TS 24.229's
    # P-CSCF makes of that Route is open point 26, so only the profile's route-set check sees it
    "in_dialog_hop_by_host": "PROFILE_SEC_IN_DIALOG_ROUTE_SET",
    # the BYE or INFO in no dialog is answered (481 by the remote party) and ends nothing; only the
    # profile keeps it from the core (RFC 3261 16 lets a proxy forward any request)
    "dialog_methods_core_side_only": "PROFILE_SEC_DIALOG_METHODS",
    # the text says nothing of a request in a dialog sent to the I-CSCF: refusing it is only against
    # the profile's "goes to the next hop of its Route"
    "icscf_in_dialog_refused": "PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE",
    # the session goes on asserting the registered identity (the text's check holds); the refusal is
    # the profile's (open point 19)
    "orig_identity_unchecked": "PROFILE_ORIG_IDENTITY_403",
    # the reference registrar's grants refuse the foreign identity (500, nothing stored): the text's
    # outcome holds, only the code differs from the profile's 403
    "any_domain_accepted": "PROFILE_SEC_FOREIGN_403",
    # the rejection holds (before any eP-CSCF, after the W7 query); only "the appropriate code"
    # (5.2.2.5.4 step 2) differs from the profile's 404
    "icscf_always_480": "PROFILE_TERM_REJECT_CODE",
    # the WIC is still not registered while the registrar hangs; only the 503 before Timer F is missing
    "registrar_without_timeout": "PROFILE_REG_W6_UNAVAILABLE",
    # the user is still re-registered under a binding of the block and reached; only its IMPU differs
    "allocation_not_stable": "PROFILE_LIFE_IMPU_STABLE",
    # every WIC is still cancelled and the caller gets 487; only the Reason copied (RFC 3326's SHOULD)
    "fork_cancel_own_reason": "PROFILE_FORK_CANCEL_REASON",
    # every losing WIC is still cancelled (RFC 3261 16.7 step 10); only the Reason (RFC 3326) is missing
    "cancel_no_reason": "PROFILE_FORK_CANCEL_REASON",
    # the caller still gets one of the WICs' refusals, after the last one; which one is the profile's
    "fork_last_refusal": "PROFILE_FORK_FIRST_REFUSAL",
    # the ringing branch is still cancelled at Timer C, and the caller's session ends; only the 408
    # in place of the callee's 487 differs (Kamailio's tm)
    "timer_c_answers_408": "PROFILE_TIMER_C_487",
}
"""Faults that break only a solution-profile choice (the choice each one breaks): their guarding
scenarios end in PROFILE DEVIATION, not FAIL (issue 15)."""


def scenarios() -> list[Scenario]:
    """Every scenario variant under ``features/``, with its own and inherited tags."""
    return scenario_variants(FEATURES)


def selects(selection: str, scenario: Scenario) -> bool:
    """Whether ``pytest -m selection`` runs ``scenario``."""

    def carries(name: str, /, **kwargs: str | int | bool | None) -> bool:
        return name in scenario.tags

    return Expression.compile(selection).evaluate(carries)


def declared_tags() -> dict[str, str]:
    """Every tag of ``features/tags.toml`` -> its group."""
    with (FEATURES / "tags.toml").open("rb") as f:
        groups = tomllib.load(f)
    return {tag: group for group, tags in groups.items() for tag in tags}


# ----- the checks -----------------------------------------------------------------------------


def _faults() -> Mapping[str, Any]:
    sys.path.insert(0, str(HERE))
    try:
        from wimpu_faults import FAULTS
    finally:
        sys.path.remove(str(HERE))
    return FAULTS


def test_every_fault_has_guards_and_every_guard_exists() -> None:
    faults = _faults()
    assert set(GUARDS) == set(faults), "GUARDS and wimpu_faults.FAULTS must name the same faults"
    assert set(PROFILE_ONLY) <= set(GUARDS), "PROFILE_ONLY names a fault GUARDS does not"
    for name, fault in faults.items():
        assert fault.description.strip() and "\n" not in fault.description, f"{name}: one-line description"
    declared = declared_tags()
    for selection in GUARDS.values():
        for tag in re.findall(r"\w+", selection):
            if tag not in ("and", "or", "not"):
                assert tag in declared, f"{tag} is not a declared tag"


def test_every_scenario_is_guarded_by_a_fault() -> None:
    """Every declared test purpose in use, and every scenario variant, is selected by some guard."""
    found = scenarios()
    guarded = {s.name for s in found if any(selects(selection, s) for selection in GUARDS.values())}
    used = set().union(*(s.tags for s in found))
    tps = {tag for tag, group in declared_tags().items() if group == "test_purpose" and tag in used}
    unguarded_tps = sorted(tp for tp in tps if not any(tp in s.tags and s.name in guarded for s in found))
    assert not unguarded_tps, f"test purposes no fault of GUARDS guards: {unguarded_tps}"
    unguarded = sorted(s.name for s in found if s.name not in guarded)
    assert not unguarded, "scenarios (Examples blocks) no fault of GUARDS guards:\n" + "\n".join(unguarded)
    idle = sorted(fault for fault, expr in GUARDS.items() if not any(selects(expr, s) for s in found))
    assert not idle, f"guards that select no scenario: {idle}"


SHARE_BEGIN = "<!-- share per group: generated by tests/mutants/test_mutants.py -->"
SHARE_END = "<!-- end of share per group -->"


def share_per_group() -> dict[str, tuple[int, int]]:
    """Behaviour group -> (faults a scenario of the group must catch, faults only that group
    catches), from ``GUARDS`` and the group of each scenario's test purposes (the TP table). A fault
    of ``PROFILE_ONLY`` counts for no group: it makes its scenarios end in PROFILE DEVIATION, which
    is not a catch (the blind report counts it the same way)."""
    group_of = {tp.id: tp.group for tp in load_test_purposes(ROOT)}
    found = scenarios()
    caught: dict[str, set[str]] = {group: set() for group in GROUPS}
    for fault, selection in GUARDS.items():
        if fault in PROFILE_ONLY:
            continue
        for scenario in found:
            if selects(selection, scenario):
                for tag in scenario.tags:
                    if tag in group_of:
                        caught[group_of[tag]].add(fault)

    def elsewhere(fault: str, group: str) -> bool:
        return any(fault in caught[other] for other in GROUPS if other != group)

    return {g: (len(caught[g]), sum(not elsewhere(f, g) for f in caught[g])) for g in GROUPS}


def render_share() -> str:
    """The table of :func:`share_per_group`, as docs/mutants.md shows it."""
    total = len(GUARDS)
    lines = [
        SHARE_BEGIN,
        f"| Behaviour group | Faults its scenarios catch (of {total}) | Share | Caught by this group only |",
        "|---|---|---|---|",
    ]
    for group, (count, only) in share_per_group().items():
        lines.append(f"| {group} | {count} | {100 * count / total:.0f} % | {only} |")
    lines.append(SHARE_END)
    return "\n".join(lines)


def test_the_share_per_group_in_the_docs_is_current() -> None:
    """docs/mutants.md shows the share of the catalogue each behaviour group catches (issue 15);
    ``WIMPU_UPDATE_DOCS=1`` rewrites it."""
    doc = ROOT / "docs" / "mutants.md"
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(SHARE_BEGIN), text.find(SHARE_END)
    assert 0 <= start < end, f"{doc}: no section between {SHARE_BEGIN!r} and {SHARE_END!r}"
    current = text[start : end + len(SHARE_END)]
    if os.environ.get("WIMPU_UPDATE_DOCS") == "1":
        doc.write_text(text.replace(current, render_share()), encoding="utf-8")
        return
    assert current == render_share(), (
        "docs/mutants.md: the share per behaviour group is out of date; rewrite it with "
        "WIMPU_UPDATE_DOCS=1 python3 -m pytest tests/mutants/test_mutants.py -k share"
    )


def run_with_fault(
    fault: str | None, selection: str, junit: Path, *, workers: int = 0, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The scenarios ``selection`` selects, with ``fault`` (None: none), at the fault runs' wait
    (:data:`FAULT_RUN_EVENT_WAIT`), with ``workers`` xdist workers (0: serially)."""
    label = fault or "control"
    env = nested_env(Path(tempfile.mkdtemp(prefix=f"wimpu-mutant-{label}-")), HERE)  # not the run's captures
    if fault is not None:
        env["WIMPU_FAULT"] = fault
    env["WIMPU_EVENT_WAIT"] = str(FAULT_RUN_EVENT_WAIT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-p", "wimpu_faults", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", "-n", str(workers), "--no-reports", "-q", "-rfE",
         f"--junitxml={junit}", "-m", selection],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_the_guarding_scenarios_pass_without_a_fault_at_the_fault_runs_wait(tmp_path: Path) -> None:
    """The control of the fault runs: every scenario a guard selects passes without a fault at
    the fault runs' shorter wait (``WIMPU_EVENT_WAIT``), so a guard that fails under a fault fails
    by the fault's doing, never because that wait is too short for the reference."""
    selection = " or ".join(f"({guard})" for guard in sorted(set(GUARDS.values())))
    expected = sum(s.tests for s in scenarios() if selects(selection, s))
    junit = tmp_path / "junit.xml"
    result = run_with_fault(None, selection, junit, workers=2, timeout=1200)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0 and _count("passed", summary) == expected, (
        f"without a fault, at WIMPU_EVENT_WAIT={FAULT_RUN_EVENT_WAIT}, all {expected} guarding scenarios "
        f"must pass, got {summary!r}\n{(result.stdout + result.stderr)[-3000:]}"
    )


def _count(outcome: str, summary: str) -> int:
    found = re.search(rf"(\d+) {outcome}", summary)
    return int(found.group(1)) if found else 0


def _harness_errors(junit: Path) -> list[str]:
    """The ``harness.error`` properties of a run: scenarios that failed on the test system's own
    defect (``HarnessError``, ERROR in the reports), which catch no fault."""
    if not junit.is_file():
        return []
    properties = ET.parse(junit).getroot().iter("property")
    return [p.get("value", "") for p in properties if p.get("name") == HARNESS_ERROR_PROPERTY]


def _skip_reasons(junit: Path) -> list[str]:
    if not junit.is_file():
        return []
    return [
        skipped.get("message", "")
        for case in ET.parse(junit).getroot().iter("testcase")
        if (skipped := case.find("skipped")) is not None
    ]


class FaultRuns:
    """The fault runs of the selected fault tests, one run ahead of the test that waits for its own.

    Each fault run is a serial ``pytest steps`` subprocess that mostly waits (on its scenarios'
    timers, on the short event wait of the fault runs): while a test waits for its fault's run, the
    run of the next selected fault goes on beside it, so at most two fault runs at once, one per
    core of this machine. That is the load the control run is checked under
    (``test_the_guarding_scenarios_pass_without_a_fault_at_the_fault_runs_wait``: two xdist
    workers), so a guard still fails by its fault's doing, never for a wait too short under load.
    In an xdist worker of the parent (which runs some of the tests, not known in advance) each test
    runs its own fault's run only. A run's result is kept for its test alone (a test run twice in one
    session gets the same result)."""

    def __init__(self, faults: list[str], folder: Path, *, ahead: int) -> None:
        self._order, self._folder, self._ahead = faults, folder, ahead
        self._pool = concurrent.futures.ThreadPoolExecutor(ahead + 1)
        self._runs: dict[str, concurrent.futures.Future[subprocess.CompletedProcess[str]]] = {}

    def junit(self, fault: str) -> Path:
        return self._folder / f"{fault}.xml"

    def result(self, fault: str) -> subprocess.CompletedProcess[str]:
        """The run with ``fault``: started now unless it was already, the next ones' started too."""
        first = self._order.index(fault) if fault in self._order else len(self._order)
        for name in [fault, *self._order[first + 1 : first + 1 + self._ahead]]:
            if name not in self._runs:
                self._runs[name] = self._pool.submit(run_with_fault, name, GUARDS[name], self.junit(name))
        return self._runs[fault].result()

    def close(self) -> None:
        """The runs not yet started are not started (a session stopped early, ``-x``); the one
        running ends within its own timeout."""
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def fault_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultRuns]:
    """The fault runs of the fault tests this session runs, in their order."""
    selected = [
        item.callspec.params["fault"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_scenarios_fail_when_the_reference_misbehaves"
    ]
    ahead = 0 if os.environ.get("PYTEST_XDIST_WORKER") else 1
    runs = FaultRuns(selected, tmp_path_factory.mktemp("fault-runs"), ahead=ahead)
    yield runs
    runs.close()


@pytest.mark.parametrize("fault", sorted(GUARDS))
def test_scenarios_fail_when_the_reference_misbehaves(fault: str, fault_runs: FaultRuns) -> None:
    expected = sum(s.tests for s in scenarios() if selects(GUARDS[fault], s))
    junit = fault_runs.junit(fault)
    result = fault_runs.result(fault)
    out = result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    counts = {o: _count(o, summary) for o in ("failed", "passed", "skipped", "error", "xfailed", "xpassed")}
    if fault in PROFILE_ONLY:
        reasons = _skip_reasons(junit)
        wanted = f"profile deviation: {PROFILE_ONLY[fault]}: "
        assert result.returncode == 0 and counts["skipped"] == expected == sum(counts.values()), (
            f"with fault {fault!r} all {expected} guarding scenarios must end in PROFILE DEVIATION, got "
            f"{summary!r}; these did not notice it: {passed(junit) or 'none'}\n{out[-2000:]}"
        )
        assert len(reasons) == expected and all(r.startswith(wanted) for r in reasons), reasons
        return
    assert result.returncode == 1 and counts["failed"] == expected and sum(counts.values()) == expected, (
        f"with fault {fault!r} all {expected} guarding scenarios must fail, got {summary!r}; "
        f"these did not notice it: {passed(junit) or 'none'}\n{out[-2000:]}"
    )
    harness = _harness_errors(junit)
    assert not harness, f"with fault {fault!r}, failures of the harness, not catches: {harness}"
