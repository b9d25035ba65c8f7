"""URLs of the whole site: the apps' own URL modules are composed here."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/inbox/", permanent=False)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("demo/", include("demo.urls")),
    path("", include("workitems.urls")),
    path("runs/", include("runs.urls")),
]
