"""Logging in and resetting a password: the pages Django's auth views show, hardened.

Failed logins are counted and locked out by django-axes (settings: AXES_*); `locked_out` is
its lockout page, the login page with a sentence. Password reset emails are limited per email
address and per client address, counted in the cache, so that the form cannot be used to
flood someone's mailbox or the mail server.
"""

import datetime

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

PASSWORD_RESET_WINDOW = datetime.timedelta(hours=1)


def client_address(request: HttpRequest) -> str | None:
    """The client's address, which the login lockout and the reset limits count by.

    Behind TRUSTED_PROXY_COUNT proxies, each appending the address it saw to
    X-Forwarded-For, the client is the entry the outermost proxy appended: the one that many
    from the right. Entries further left are whatever the client sent, so they are not
    trusted. Without proxies it is REMOTE_ADDR."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [address for address in forwarded if address]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def _in_words(duration: datetime.timedelta) -> str:
    minutes = max(1, round(duration.total_seconds() / 60))
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """django-axes' lockout response: the login page, keeping the username that was typed,
    with a sentence saying why and for how long (HTTP 429)."""
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    cool_off = get_cool_off(request) or settings.AXES_COOLOFF_TIME
    context = {
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "locked_out": (
            "Too many failed attempts to log in. For your security, logging in is paused "
            f"for {_in_words(cool_off)}; please try again then."
        ),
    }
    return render(request, "registration/login.html", context, status=429)


def _count(key: str) -> int:
    """Add one to the counter `key` (it expires a window after its first count)."""
    cache.add(key, 0, timeout=int(PASSWORD_RESET_WINDOW.total_seconds()))
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=int(PASSWORD_RESET_WINDOW.total_seconds()))
        return 1


def password_reset_allowed(*, address: str | None, email: str) -> bool:
    """Count a request for a reset email to `email` from `address`; False when either has
    asked more than its limit within the window. Every request counts, whether or not an
    account has that email, so the answer tells nothing about who has an account."""
    per_email = _count(f"password-reset:email:{email.strip().lower()}")
    per_address = _count(f"password-reset:address:{address or 'unknown'}")
    return (
        per_email <= settings.PASSWORD_RESET_LIMIT_PER_EMAIL
        and per_address <= settings.PASSWORD_RESET_LIMIT_PER_ADDRESS
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset form, which sends no email past the limits (it says so)."""

    def form_valid(self, form):
        allowed = password_reset_allowed(
            address=client_address(self.request), email=form.cleaned_data["email"]
        )
        if not allowed:
            form.add_error(
                None,
                "Several password reset emails have been asked for recently. Please look for "
                f"them in your inbox, or try again in {_in_words(PASSWORD_RESET_WINDOW)}.",
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)
