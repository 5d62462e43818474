"""Helpers shared by test files that are not fixtures (fixtures live in the conftest.py files)."""
