"""URLs of the whole site: the apps' own URL modules are composed here."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from orchestrator.accounts import PasswordResetView

urlpatterns = [
    path("", RedirectView.as_view(url="/inbox/", permanent=False)),
    # Before Django's own: the reset form that limits how many emails it sends.
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("workitems.urls")),
    path("runs/", include("runs.urls")),
]
# The demo's fake payroll API exists only with the demo enabled (make run), never by accident
# in production.
if settings.DEMO_ENABLED:
    urlpatterns.append(path("demo/", include("demo.urls")))
