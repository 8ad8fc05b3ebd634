"""The timeline tests write real case timelines: they use the small territory and people of the cases tests."""

from gridgov.cases.tests.conftest import fresh_locator, people, world  # noqa: F401 (fixtures)
