"""Tests of the enhanced I-CSCF (a package: its test_flows.py is not the captures one)."""
