from django.contrib import admin
from django.urls import path, re_path

from gridgov.core.api import api
from gridgov.core.views import api_not_found, home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    re_path(r"^api/", api_not_found),
]
