"""Shared by every test directory: rate-limit counts live in a per-process memory cache that starts empty
for each test (the server keeps them in Redis or a file cache, settings.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    from django.core.cache import caches

    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit"},
    }
    caches["ratelimit"].clear()
    yield
