from django.apps import AppConfig


class TerritoryConfig(AppConfig):
    name = "gridgov.territory"
    label = "territory"
