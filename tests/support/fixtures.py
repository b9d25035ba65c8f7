"""Shared pytest fixtures: a real Celery worker process and the browser (see the modules)."""
