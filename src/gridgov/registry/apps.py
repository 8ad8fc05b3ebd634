from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "gridgov.registry"
    verbose_name = "Registry 实有人口、房屋、单位"
