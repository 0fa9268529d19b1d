"""Binds every feature under features/ (pytest-bdd)."""

from pytest_bdd import scenarios

scenarios("registration", "security")
