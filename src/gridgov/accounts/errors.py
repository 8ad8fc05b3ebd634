"""Problem types specific to signing in (codes end the problem `type`: …/problems/totp-required)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from gridgov.core.errors import Forbidden, NotAuthenticated


class InvalidCredentials(NotAuthenticated):
    code = "invalid-credentials"
    title = gettext_lazy("The username or password is wrong")


class TotpRequired(NotAuthenticated):
    code = "totp-required"
    title = gettext_lazy("Enter the code from your authenticator app")


class SessionExpired(NotAuthenticated):
    code = "session-expired"
    title = gettext_lazy("Your session ended because of inactivity; please log in again")


class InvalidToken(NotAuthenticated):
    code = "invalid-token"
    title = gettext_lazy("The API token is unknown, expired or revoked")


class MfaEnrolmentRequired(Forbidden):
    code = "mfa-enrolment-required"
    title = gettext_lazy("Enrol the second factor first")


class PasswordChangeRequired(Forbidden):
    code = "password-change-required"
    title = gettext_lazy("Change your password first")
