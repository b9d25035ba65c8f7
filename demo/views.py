"""A small fake payroll API, so that the onboarding demo works offline. It is mounted only
with the demo enabled (orchestrator/urls.py) and answers only calls that carry the
PAYROLL_API_TOKEN as a Bearer token; bad input is refused with 400 and a sentence."""

import hmac
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from demo.models import PayrollEntry

# A new hire's record is a few hundred bytes; anything much larger is not one.
MAX_BODY_BYTES = 10_000
MAX_KEY_LENGTH = PayrollEntry._meta.get_field("idempotency_key").max_length


def _refuse(sentence: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": sentence}, status=status)


def _authorised(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = settings.PAYROLL_API_TOKEN
    return bool(expected) and scheme == "Bearer" and hmac.compare_digest(token, expected)


@csrf_exempt
@require_POST
def payroll_employees(request: HttpRequest) -> JsonResponse:
    """Register an employee with payroll; the Idempotency-Key header makes retries safe."""
    if not _authorised(request):
        response = _refuse("A valid payroll API token is required.", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="payroll"'
        return response
    # The declared length is checked before the body is read; the body itself after.
    declared = request.headers.get("Content-Length", "")
    too_long = declared.isdigit() and int(declared) > MAX_BODY_BYTES
    if too_long or len(request.body) > MAX_BODY_BYTES:
        return _refuse(f"The body must be at most {MAX_BODY_BYTES} bytes.")
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _refuse("The body must be JSON.")
    if not isinstance(payload, dict):
        return _refuse("The body must be a JSON object.")
    email = payload.get("email")
    if not email or not isinstance(email, str):
        return _refuse("An email is required.")
    try:
        validate_email(email)
    except ValidationError:
        return _refuse("The email is not a valid email address.")
    key = request.headers.get("Idempotency-Key") or email
    if len(key) > MAX_KEY_LENGTH:
        return _refuse(f"The Idempotency-Key must be at most {MAX_KEY_LENGTH} characters.")
    # The first call with a key registers the hire (one INSERT); a retry finds it.
    try:
        with transaction.atomic():
            entry = PayrollEntry.objects.create(idempotency_key=key, payload=payload)
        created = True
    except IntegrityError:
        entry, created = PayrollEntry.objects.get(idempotency_key=key), False
    return JsonResponse(
        {"payroll_id": f"PAY-{entry.pk:05d}", "created": created}, status=201 if created else 200
    )
