"""Failed logins are throttled (django-axes) per username and per address, through the real
login view; the lockout is the login page with a sentence, and it ends after the cool-off."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts to log in."


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
    return 3


def log_in(client, username, password, address="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_failures_from_several_addresses_lock_the_account(client, assignee, outsider, limit):
    for number in range(limit - 1):
        response = log_in(client, "ana", "wrong", address=f"10.0.1.{number}")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    # The failure that reaches the limit is answered with the lockout already.
    assert log_in(client, "ana", "wrong", address="10.0.1.50").status_code == 429

    # The right password from yet another address: the account is locked, not the address.
    response = log_in(client, "ana", "demo", address="10.0.1.99")
    page = response.content.decode()
    assert response.status_code == 429
    assert LOCKED in page and "paused for 15 minutes" in page
    assert 'value="ana"' in page  # what was typed is kept
    assert "_auth_user_id" not in client.session
    # Someone else from that address still logs in.
    assert log_in(client, "olga", "demo", address="10.0.1.99").status_code == 302


def test_failures_for_several_usernames_from_one_address_lock_the_address(
    client, assignee, outsider, limit
):
    for number in range(limit):
        log_in(client, f"guess{number}", "wrong", address="10.0.2.1")

    response = log_in(client, "ana", "demo", address="10.0.2.1")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    # The same account from another address is not locked.
    assert log_in(client, "ana", "demo", address="10.0.2.2").status_code == 302


def test_after_the_cool_off_the_right_password_logs_in(client, assignee, limit):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(limit):
            log_in(client, "ana", "wrong")
        assert log_in(client, "ana", "demo").status_code == 429
    with time_machine.travel(start + datetime.timedelta(minutes=16), tick=False):
        response = log_in(client, "ana", "demo")
    assert response.status_code == 302
    assert response.url == "/inbox/"
    assert client.session["_auth_user_id"] == str(assignee.pk)


def test_fewer_failures_than_the_limit_do_not_lock(client, assignee, limit):
    for _ in range(limit - 1):
        log_in(client, "ana", "wrong")
    assert log_in(client, "ana", "demo").status_code == 302


def test_the_admin_login_is_throttled_too(client, operator, limit):
    for _ in range(limit):
        client.post(
            reverse("admin:login"), {"username": "otto", "password": "x"}, REMOTE_ADDR="10.0.3.1"
        )
    response = client.post(
        reverse("admin:login"), {"username": "otto", "password": "demo"}, REMOTE_ADDR="10.0.3.2"
    )
    assert response.status_code == 429
    assert LOCKED in response.content.decode()


def test_behind_a_proxy_the_forwarded_address_is_counted(client, assignee, outsider, settings):
    # Without it every client would share the proxy's address, and one person's typos would
    # lock everybody out; an address the client itself put in X-Forwarded-For is not used.
    settings.AXES_FAILURE_LIMIT = 2
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(2):
        client.post(
            reverse("login"),
            {"username": f"guess{_}", "password": "x"},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7",
        )
    response = client.post(
        reverse("login"),
        {"username": "ana", "password": "demo"},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="203.0.113.8",
    )
    assert response.status_code == 302  # another client through the same proxy
    response = client.post(
        reverse("login"),
        {"username": "olga", "password": "demo"},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7",
    )
    assert response.status_code == 429  # the same client, whatever it puts in front
