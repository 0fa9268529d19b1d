"""Binds features/registration (pytest-bdd)."""

from pytest_bdd import scenarios

scenarios("registration")
