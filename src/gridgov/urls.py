from django.contrib import admin
from django.urls import path

from gridgov.core.api import api
from gridgov.core.views import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
