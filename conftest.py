"""The test suite's root: the product's tests in tests/ and the sandbox's own in sandbox/sandbox_tests/ share one
session of real parts, whose fixtures and hooks are the plugin tests/fixtures.py."""

pytest_plugins = ["tests.fixtures"]
