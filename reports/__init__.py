"""Reports of a run for standards discussion: Allure, cucumber JSON, JUnit XML and the conformance report.

``reports.plugin`` (loaded by pytest from ``pyproject.toml``) writes them under ``--reports-dir``;
``reports.conformance`` builds ``conformance.html``/``conformance.md`` (console script
``wimpu-conformance-report``); ``reports.ladder`` draws ladder diagrams as SVG. Generated files live
next to this package's sources and are not committed (see ``README.md`` here).
"""
