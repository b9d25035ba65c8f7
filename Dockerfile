# The image of web, worker and beat (docker-compose.yml): Python 3.11 and the pinned runtime
# packages (requirements.lock; the tests' and tools' requirements-dev.lock stay out).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock

COPY . .
# collectstatic needs no database or secret; DEBUG=true lets settings load without SECRET_KEY
# (it is only for this command: the containers run with DEBUG off, the settings' default).
RUN DEBUG=true python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 baton \
    && mkdir -p var \
    && chown -R baton var

USER baton
EXPOSE 8000
CMD ["gunicorn", "orchestrator.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
