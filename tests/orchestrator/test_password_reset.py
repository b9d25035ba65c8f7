"""Password reset: Django's views in the site's templates, with reset emails limited per email
address and per client address (orchestrator/accounts.py)."""

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

TOO_MANY = "Several password reset emails have been asked for recently."


@pytest.fixture(autouse=True)
def fresh_cache(settings, request):
    """A cache of this test's own: the limits' counters start at zero."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }
    settings.PASSWORD_RESET_LIMIT_PER_EMAIL = 2
    settings.PASSWORD_RESET_LIMIT_PER_ADDRESS = 4


def ask(client, email, address="10.0.0.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_the_reset_link_in_the_email_sets_a_new_password(client, assignee):
    response = ask(client, "ana@example.com")
    assert response.status_code == 302
    assert response.url == reverse("password_reset_done")
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    link = re.search(r"https?://\S+/accounts/reset/\S+/", message.body).group(0)
    path = link.split("://", 1)[1].partition("/")[2]

    form_page = client.get("/" + path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-much-longer-pass-42", "new_password2": "a-much-longer-pass-42"},
        follow=True,
    )
    assert "Your password has been changed." in done.content.decode()
    assignee.refresh_from_db()
    assert assignee.check_password("a-much-longer-pass-42")


def test_the_pages_are_the_sites_own(client):
    page = client.get(reverse("password_reset")).content.decode()
    assert "Reset your password" in page and 'class="topbar"' in page
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()


def test_emails_to_one_address_stop_at_the_limit(client, assignee):
    for number in range(2):
        assert ask(client, "ana@example.com", address=f"10.0.1.{number}").status_code == 302
    response = ask(client, "ANA@example.com", address="10.0.1.9")

    assert response.status_code == 429
    page = response.content.decode()
    assert TOO_MANY in page
    assert 'value="ANA@example.com"' in page  # what was typed is kept
    assert len(mail.outbox) == 2


def test_requests_from_one_client_address_stop_at_the_limit(client, make_user):
    for number in range(4):
        make_user(f"user{number}")
        assert ask(client, f"user{number}@example.com").status_code == 302
    make_user("user9")

    response = ask(client, "user9@example.com")
    assert response.status_code == 429
    assert TOO_MANY in response.content.decode()
    assert len(mail.outbox) == 4
    # Another client address may still ask.
    assert ask(client, "user9@example.com", address="10.0.0.2").status_code == 302
    assert len(mail.outbox) == 5


def test_unknown_addresses_count_too_and_the_answer_tells_nothing(client, assignee):
    for _ in range(2):
        assert ask(client, "nobody@example.com").status_code == 302
    assert ask(client, "nobody@example.com").status_code == 429
    assert mail.outbox == []


def test_an_invalid_email_is_answered_beside_the_field(client):
    response = ask(client, "not an address")
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
