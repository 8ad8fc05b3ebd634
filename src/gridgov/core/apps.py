from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "gridgov.core"
    label = "core"
    verbose_name = "GridGov core"

    def ready(self) -> None:
        # The safety net of `require` for background work: refusals that waited for a task's
        # transaction are written when the task ends, whatever its outcome.
        from huey import signals
        from huey.contrib.djhuey import HUEY

        from gridgov.core import outbox, pii  # noqa: F401  (outbox registers the built-in `log` channel)
        from gridgov.core.models import Attachment
        from gridgov.core.principal import flush_denials

        pii.register_resealed(Attachment)  # encrypted photos take part in `rotate_pii_keys`

        @HUEY.signal(signals.SIGNAL_COMPLETE, signals.SIGNAL_ERROR, signals.SIGNAL_CANCELED)
        def _flush_denials(signal, task, *args, **kwargs):
            flush_denials()
