"""System checks for what the settings cannot enforce: production on the embedded defaults."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def embedded_defaults_in_production(app_configs, **kwargs):
    warnings = []
    if settings.DEBUG:
        return warnings
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        warnings.append(
            Warning(
                "DEBUG is off but the database is the embedded SQLite file.",
                hint="Set DATABASE_URL to PostgreSQL: row locks and concurrent workers need it.",
                id="orchestrator.W001",
            )
        )
    if settings.CELERY_BROKER_URL == "filesystem://":
        warnings.append(
            Warning(
                "DEBUG is off but the Celery broker is the embedded filesystem transport.",
                hint="Set REDIS_URL so that workers on other machines receive background steps.",
                id="orchestrator.W002",
            )
        )
    return warnings
