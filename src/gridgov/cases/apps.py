from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "gridgov.cases"
    label = "cases"

    def ready(self) -> None:
        from gridgov.cases import receivers
        from gridgov.territory.signals import grids_redrawn

        grids_redrawn.connect(receivers.grids_redrawn, dispatch_uid="cases.grids_redrawn")
        from gridgov.cases import permissions  # noqa: F401  (declares the permissions)
        from gridgov.cases.models import Case
        from gridgov.core import pii

        pii.register_resealed(Case)  # reporters' phones take part in `rotate_pii_keys`
        from gridgov.cases import selectors, services, sla
        from gridgov.cases.models import Case, NotificationKind
        from gridgov.core import attachments, notifications

        # Photos of cases: readable by whoever sees the case.
        attachments.register_owner(Case, visible=selectors.visible_cases)
        attachments.register_purpose(
            services.PHOTO_PURPOSE, owner=Case, path="/api/v1/cases/attachments/{id}"
        )
        # What cases tell people: deadline warnings and the outcome of a report.
        for kind in (NotificationKind.DEADLINE_YELLOW, NotificationKind.DEADLINE_RED):
            notifications.register_kind(kind.value, sla.deadline_text, label=kind.label)
        notifications.register_kind(
            NotificationKind.OUTCOME.value, services.outcome_text, label=NotificationKind.OUTCOME.label
        )
        # What cases tell the people who must act: whistle, report-in due, supervision cards,
        # escalation, return, rework, unsatisfied rating (cases/notices.py).
        from gridgov.cases import notices

        notices.register()
