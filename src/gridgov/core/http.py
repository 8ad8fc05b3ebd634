"""Typing help for endpoints: the request as django-ninja hands it to an authenticated operation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class AuthedRequest(HttpRequest):
    """A request as an API operation gets it (for the type checker): django-ninja has set `auth` to
    what the API's authenticator returned (gridgov.accounts.auth: the signed-in user)."""

    auth: Any
