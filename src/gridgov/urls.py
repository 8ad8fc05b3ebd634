from django.contrib import admin
from django.urls import path, re_path

from gridgov.api import api
from gridgov.core import spa
from gridgov.core.views import api_not_found, home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    re_path(r"^api/", api_not_found),
    # The web app (built by `make frontend`): history-mode routes, so every path below answers the page.
    re_path(r"^app(?:/(?P<rest>.*))?$", spa.desktop, name="app"),
    re_path(r"^m(?:/(?P<rest>.*))?$", spa.mobile, name="mobile_app"),
]
