"""Binds features/termination (pytest-bdd)."""

from pytest_bdd import scenarios

scenarios("termination")
