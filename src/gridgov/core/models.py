from django.db import models, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _


class Revision(models.Model):
    """A named counter that processes poll to know when a cached structure must be rebuilt
    (e.g. the point → grid locator index after grids change). Cheap to read, atomic to bump."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"

    @classmethod
    def bump(cls, name: str) -> None:
        updated = cls.objects.filter(name=name).update(value=F("value") + 1)
        if not updated:
            obj, created = cls.objects.get_or_create(name=name, defaults={"value": 1})
            if not created:
                cls.objects.filter(name=name).update(value=F("value") + 1)

    @classmethod
    def current(cls, name: str) -> int:
        return cls.objects.filter(name=name).values_list("value", flat=True).first() or 0


class WorkdayOverride(models.Model):
    """One day whose working-day status differs from the national calendar (or that the calendar
    does not know yet): a holiday on a weekday or a 调休 working weekend day. See core.worktime."""

    day = models.DateField(_("day"), unique=True)
    is_workday = models.BooleanField(
        _("is a working day"), help_text=_("Checked: a working day (调休上班). Unchecked: a day off (放假).")
    )
    name = models.CharField(_("label"), max_length=64, blank=True, help_text=_("e.g. 国庆节, 春节调休"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("workday override")
        verbose_name_plural = _("workday overrides")

    def __str__(self) -> str:
        kind = "workday" if self.is_workday else "holiday"
        return f"{self.day} {kind} {self.name}".rstrip()


@receiver([post_save, post_delete], sender=WorkdayOverride, dispatch_uid="core.workday_override_changed")
def _workday_override_changed(sender, **kwargs) -> None:
    from gridgov.core import worktime

    Revision.bump(worktime.WORKDAY_REVISION)
    worktime.invalidate_cache()
    transaction.on_commit(worktime.invalidate_cache)


class AppendOnlyQuerySet(models.QuerySet["AppendOnlyModel"]):
    """Refuses bulk updates and deletes of an append-only table."""

    def update(self, **kwargs):
        raise PermissionError(self.model.append_only_message)

    def delete(self):
        raise PermissionError(self.model.append_only_message)


class AppendOnlyModel(models.Model):
    """A record that is written once and never changed or deleted through the ORM (audit logs,
    case timelines). Subclasses name themselves in `append_only_message`."""

    append_only_message = "this record is append-only"

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError(self.append_only_message)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(self.append_only_message)
