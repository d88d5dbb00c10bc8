"""The deploy tests drive the same session-wide Debian Chromium as the browser tests."""

from tests.browser.conftest import browser  # noqa: F401  (a fixture, re-exported for tests/deploy)
