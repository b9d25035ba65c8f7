"""System checks of the runs app: the engine's fast path meets the versions it was written for."""

from django.conf import settings
from django.core.checks import Warning, register
from django.db import connections

# The fast path (runs/engine/sql.py, begin.py) works with psycopg's pipeline mode and
# Django's execute wrappers, cursors and converters as these versions have them.
FAST_PATH_DJANGO = ((5, 2), (5, 3))
FAST_PATH_PSYCOPG = ((3, 2), (3, 4))


def _version(text: str) -> tuple[int, int]:
    major, minor, *_ = (
        int("".join(c for c in part if c.isdigit()) or 0) for part in text.split(".")
    )
    return major, minor


def _within(version: tuple[int, int], bounds) -> bool:
    low, high = bounds
    return low <= version < high


@register()
def fast_path_versions(app_configs, databases=None, **kwargs):
    """Warn when the engine's fast path is on, on PostgreSQL, with a Django or psycopg it
    was not written against: it may still work, and ENGINE_FAST_PATH=false is the way out."""
    if not getattr(settings, "ENGINE_FAST_PATH", True):
        return []
    if connections["default"].vendor != "postgresql":
        return []
    import django
    import psycopg

    found = []
    for name, installed, bounds in (
        ("Django", django.__version__, FAST_PATH_DJANGO),
        ("psycopg", psycopg.__version__, FAST_PATH_PSYCOPG),
    ):
        if not _within(_version(installed), bounds):
            (low, high) = bounds
            found.append(
                Warning(
                    f"The engine's fast path was written for {name} "
                    f"{low[0]}.{low[1]} up to (not including) {high[0]}.{high[1]}; "
                    f"{installed} is installed.",
                    hint="Run the engine's tests on this version, or set ENGINE_FAST_PATH=false "
                    "to use plain Django transactions and ORM writes.",
                    id="runs.W001",
                )
            )
    return found
