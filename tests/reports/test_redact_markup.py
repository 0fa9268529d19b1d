"""Scrubbing a markup file keeps it well-formed: the marker is escaped (a test name holding
``password=...`` once made the JUnit XML unreadable, and the conformance report was lost)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.redact import scrub_file


def test_a_password_in_an_xml_attribute_is_redacted_and_the_file_still_parses(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0"?><testsuite><testcase name="t[username=alice&amp;password=alice-password]" />'
        "<testcase name='u'><system-out>password: s3cret-value</system-out></testcase></testsuite>",
        encoding="utf-8",
    )
    assert scrub_file(junit)
    root = ET.parse(junit).getroot()
    names = [case.get("name") for case in root.iter("testcase")]
    assert names[0] == "t[username=alice&password=<redacted>]"
    assert "s3cret" not in junit.read_text(encoding="utf-8")
    assert not scrub_file(junit)  # idempotent


def test_a_json_file_keeps_the_plain_marker(tmp_path: Path) -> None:
    data = tmp_path / "cucumber.json"
    data.write_text('{"x": "password=alice-password"}', encoding="utf-8")
    assert scrub_file(data)
    assert data.read_text(encoding="utf-8") == '{"x": "password=<redacted>"}'
