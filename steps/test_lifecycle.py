"""Binds features/lifecycle (pytest-bdd)."""

from pytest_bdd import scenarios

scenarios("lifecycle")
