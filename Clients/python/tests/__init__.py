"""Tests of the Python client (a package, so that its conftest does not shadow tests/e2e/conftest.py
when both suites run in one pytest session)."""
