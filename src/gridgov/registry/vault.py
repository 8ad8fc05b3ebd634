"""The registry's name for the personal-data crypto, which lives in `gridgov.core.pii`."""

from gridgov.core.pii import *  # noqa: F403
