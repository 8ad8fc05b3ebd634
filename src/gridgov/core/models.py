from django.db import models
from django.db.models import F


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
