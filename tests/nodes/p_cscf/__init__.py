"""Tests of the eP-CSCF (a package: its test_flows.py is not the captures one)."""
