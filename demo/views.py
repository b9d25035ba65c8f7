"""A small fake payroll API, so that the onboarding demo works offline."""

import json

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from demo.models import PayrollEntry


@csrf_exempt
@require_POST
def payroll_employees(request: HttpRequest) -> JsonResponse:
    """Register an employee with payroll; the Idempotency-Key header makes retries safe."""
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "The body must be JSON."}, status=400)
    if not payload.get("email"):
        return JsonResponse({"error": "An email is required."}, status=400)
    key = request.headers.get("Idempotency-Key") or payload["email"]
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
