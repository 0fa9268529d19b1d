"""Binds features/security (pytest-bdd)."""

from pytest_bdd import scenarios

scenarios("security")
