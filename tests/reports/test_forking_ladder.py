"""Issue 7: the ladder of the real forking scenario shows the fork, the winning 200 OK and the CANCEL.

The scenario runs in a pytest subprocess against the bundled reference; its ladder comes from its own
capture (``captures/<feature>/<test>.ladder.json``), and is drawn as the reports draw it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nested import why

from reports.ladder import load_ladder, render_svg

ROOT = Path(__file__).resolve().parents[2]
FEATURE = "termination/forking"
TEST = "test_a_session_to_a_user_registered_from_several_wics_rings_every_wic_and_the_first_answer_wins"


def test_the_forking_ladder_shows_every_branch_the_winning_answer_and_the_cancel(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    env["WIMPU_CAPTURES_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps/test_termination.py", "-n0", "-p", "no:cacheprovider",
         "--no-reports", "-q", "-k", "first_answer_wins and alice-3", f"--junitxml={tmp_path / 'junit.xml'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, why(tmp_path / "junit.xml", result.stdout, result.stderr)
    lanes, events = load_ladder(tmp_path / FEATURE / f"{TEST}_alice-3.ladder.json")
    wics = [lane for lane in lanes if lane.startswith("WIC@")]
    assert len(wics) == 3, lanes
    forked = {e.dst for e in events if e.src == "ep-cscf1" and e.label == "INVITE"}
    assert forked == set(wics), f"the eP-CSCF forked to {sorted(forked)}, the WICs are {wics}"
    answers = [e for e in events if e.dst == "ep-cscf1" and e.src in wics and e.label == "200 OK"]
    invite_answer = [e for e in answers if "INVITE" in e.note]
    assert len(invite_answer) == 1, [(e.src, e.note) for e in answers]
    winner = invite_answer[0].src
    cancelled = {e.dst for e in events if e.src == "ep-cscf1" and e.label == "CANCEL"}
    assert cancelled == set(wics) - {winner}, f"CANCEL sent to {sorted(cancelled)}, the winner was {winner}"
    svg = render_svg(events, lanes=lanes, title=TEST)
    assert svg.count(">CANCEL<") == len(cancelled) and ">200 OK<" in svg and "INVITE" in svg
