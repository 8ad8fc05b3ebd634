from typing import ClassVar, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
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


_A = TypeVar("_A", bound="AppendOnlyModel")
_C = TypeVar("_C", bound="ChainedEvent")


class AppendOnlyQuerySet(models.QuerySet[_A]):
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


# --- the timeline: hash-chained append-only events (see core/timeline.py and docs/kernel/timeline.md) ---


class ChainHead(models.Model):
    """The end of one hash chain of events: its key ("case:123", "audit"), the sequence number and hash
    of its newest event, and where the chain starts (1 and "" unless a retention purge removed its
    oldest events). core.timeline locks it (SELECT … FOR UPDATE) while it appends, so the writers of
    one chain take turns; verification compares it with the newest event, so a deleted newest event
    is found too."""

    key = models.CharField(max_length=100, primary_key=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=80, blank=True, default="")
    first_seq = models.BigIntegerField(default=1)
    first_prev = models.CharField(max_length=80, blank=True, default="")

    class Meta:
        verbose_name = _("timeline chain head")
        verbose_name_plural = _("timeline chain heads")

    def __str__(self) -> str:
        return f"{self.key} #{self.seq}"


class ChainedQuerySet(AppendOnlyQuerySet[_C]):
    """An append-only queryset whose bulk_create appends to the hash chains (core.timeline)."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        if all(getattr(o, "_timeline_sealed", False) for o in objs):
            return super().bulk_create(objs, *args, **kwargs)
        from gridgov.core import timeline

        return timeline.record_many(objs, batch_size=kwargs.get("batch_size") or 1000)


class ChainedEvent(AppendOnlyModel):
    """An append-only event in a hash chain: `chain_seq` (its place in the chain, from 1), `prev_hash`
    (the hash of the event before it) and `hash` ("sm3:<hex>" or "sha256:<hex>" of its content and
    `prev_hash`). Every insert goes through core.timeline (record / record_many; a plain save or
    bulk_create is routed there too).

    A concrete subclass declares its chain: `chain_prefix` (unique among all event tables),
    `chain_fields` (the attnames that pick the chain: ("case_id",) → "case:123"; () → one chain for
    the table, key = the prefix) and `hashed_fields` (the attnames whose values are hashed; never
    change it for a table with rows). A nullable field added to a table with rows goes in
    `hashed_if_set`: hashed when it holds a value, left out of the hash when null, so the events
    written before it verify as they did."""

    chain_prefix: str = ""
    chain_fields: tuple[str, ...] = ()
    hashed_fields: tuple[str, ...] = ()
    hashed_if_set: tuple[str, ...] = ()

    chain_seq = models.BigIntegerField(null=True, blank=True, editable=False)
    # db_default: a row inserted around core.timeline with plain SQL is stored, and verification names it
    prev_hash = models.CharField(max_length=80, blank=True, default="", db_default="", editable=False)
    hash = models.CharField(max_length=80, blank=True, default="", db_default="", editable=False)

    # ClassVar like AppendOnlyModel's `objects` it overrides; bare, so django-stubs infers the manager type
    objects: ClassVar = ChainedQuerySet.as_manager()

    # set (on the instance only) by core.timeline once the event has its place in the chain
    _timeline_sealed: bool

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is None and not getattr(self, "_timeline_sealed", False):
            from gridgov.core import timeline

            timeline.record_many([self])
            return
        super().save(*args, **kwargs)

    @classmethod
    def chain_key_of(cls, *values) -> str:
        """The chain key for the given values of `chain_fields`."""
        return ":".join([cls.chain_prefix, *(str(v) for v in values)])

    def chain_key(self) -> str:
        return self.chain_key_of(*(getattr(self, f) for f in self.chain_fields))


class Event(ChainedEvent):
    """The timeline event of a domain object: who (`actor`), when (`at`), what (`action`), the status
    from → to, a note and the facts (`data`, JSON). A concrete subclass adds the object it belongs to
    (a ForeignKey, or object_type + object_id) and names it in `chain_fields`, so each object has its
    own chain. cases.TimelineEvent is one."""

    hashed_fields = ("at", "actor_id", "action", "from_status", "to_status", "note", "data")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32, db_index=True)
    from_status = models.CharField(max_length=24, blank=True, default="")
    to_status = models.CharField(max_length=24, blank=True, default="")
    note = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


# --- attachments, notifications and the outbox (core/attachments.py, core/notifications.py,
# core/outbox.py). Each points at the object it belongs to through a generic reference: the content
# type of the owner's model and its integer primary key (every GridGov model has a BigAutoField key).
class Attachment(models.Model):
    """An uploaded file (a photo) of any object. It is uploaded first, for a registered purpose, then
    claimed by the object that uses it (`owner`), which ties it to that object for good. The image
    format is read from the bytes (Pillow), never from the file name or the declared type. Reading it
    goes through the read check the owner's app registered (core.attachments.register_owner)."""

    id = models.CharField(primary_key=True, max_length=32, editable=False)
    purpose = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_type = models.ForeignKey(
        "contenttypes.ContentType", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owner_id = models.BigIntegerField(null=True, blank=True)
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255, blank=True, default="")
    encrypted = models.BooleanField(default=False)
    # The personal-data key (core.pii) that sealed the files of an encrypted attachment, "" when they are
    # stored plain; "hkdf:v1" for files sealed before the key ring. Each blob also carries its key id.
    pii_key = models.CharField(max_length=16, blank=True, default="")
    original_name = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner_type", "owner_id"], name="attachment_owner")]

    def __str__(self) -> str:
        return self.id

    def reseal(self, key) -> tuple[str, ...]:
        """Re-encrypt the files with `key` (key rotation, `rotate_pii_keys`); the columns that changed."""
        from gridgov.core import attachments

        return attachments.reseal(self, key)


class Notification(models.Model):
    """An in-app message to one user, of a registered kind (core.notifications.register_kind), about
    an object. `facts` are what the kind's template is filled with: the text is rendered again in the
    reader's language when it is read; `message` keeps it as rendered at writing time in the
    recipient's language (what the external channels send)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=64, db_index=True)
    facts = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, default="")
    owner_type = models.ForeignKey(
        "contenttypes.ContentType", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owner_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="core_notification_unread"),
            models.Index(fields=["owner_type", "owner_id"], name="core_notification_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.kind} {self.owner_id}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class OutboxMessage(models.Model):
    """One notification to send to one recipient on one external channel, written in the transaction
    of the change that caused it. A worker claims it with a lease (status `sending`, `locked_until`)
    by a conditional UPDATE, calls the channel with the row's id as the idempotency key and marks it
    delivered; a row whose lease ran out (a killed worker) is claimed again by the sweeper. Failures
    back off (`next_attempt_at`); after the last attempt the row is `failed` (admin: outbox)."""

    channel = models.CharField(max_length=32)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox"
    )
    kind = models.CharField(max_length=64)
    message = models.TextField()
    status = models.CharField(
        max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient_id} #{self.pk} ({self.status})"


class LogDelivery(models.Model):
    """What the built-in `log` channel delivered (development and tests): one row per idempotency key,
    so a message delivered twice to the channel is kept once."""

    key = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=32, default="log")
    recipient_id = models.BigIntegerField()
    message = models.TextField()
    delivered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.key} → {self.recipient_id}"
