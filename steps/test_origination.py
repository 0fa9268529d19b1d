"""Binds features/origination (pytest-bdd)."""

from pytest_bdd import scenarios

scenarios("origination")
