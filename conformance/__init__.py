"""The suite's view of the system under test: the PIXIT (``conformance.pixit``)."""
