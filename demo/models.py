"""Example records that demo runs relate to: how a project attaches its own models to runs."""

from django.conf import settings
from django.db import models


class Employee(models.Model):
    """Created from the HR new-hire form of the employee onboarding orchestration."""

    full_name = models.CharField(max_length=200)
    email = models.EmailField()
    start_date = models.DateField(null=True, blank=True)
    department = models.CharField(max_length=100, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    annual_salary = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    payroll_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["full_name"]

    def __str__(self) -> str:
        return self.full_name


class PayrollEntry(models.Model):
    """What the demo's fake payroll API received (so that the demo works offline)."""

    idempotency_key = models.CharField(max_length=100, unique=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
