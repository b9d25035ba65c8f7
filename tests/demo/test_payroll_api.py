"""The demo's fake payroll API: mounted only with the demo enabled, answers only calls with
its token, and refuses bad input with 400 and a sentence."""

import importlib
import json

import pytest
from django.urls import Resolver404, clear_url_caches, resolve

from demo.models import PayrollEntry
from demo.views import MAX_BODY_BYTES

URL = "/demo/payroll/employees/"
pytestmark = pytest.mark.django_db


def post(client, body, *, token="demo-token", content_type="application/json", **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(URL, body, content_type=content_type, **headers)


@pytest.fixture(autouse=True)
def _token(settings):
    settings.PAYROLL_API_TOKEN = "demo-token"


def test_a_call_with_the_token_registers_the_hire(client):
    response = post(client, {"email": "maya@example.com", "full_name": "Maya Lin"})
    assert response.status_code == 201
    assert response.json()["payroll_id"].startswith("PAY-")
    assert PayrollEntry.objects.get().payload["email"] == "maya@example.com"


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_a_call_without_the_token_is_refused(client, token):
    response = post(client, {"email": "maya@example.com"}, token=token)
    assert response.status_code == 401
    assert response.json() == {"error": "A valid payroll API token is required."}
    assert not PayrollEntry.objects.exists()


def test_without_a_configured_token_every_call_is_refused(client, settings):
    settings.PAYROLL_API_TOKEN = ""
    assert post(client, {"email": "maya@example.com"}, token="").status_code == 401


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        ("not json", "The body must be JSON."),
        (b"\xff\xfe", "The body must be JSON."),
        ("", "The body must be JSON."),
        ("[1, 2]", "The body must be a JSON object."),
        ('"maya@example.com"', "The body must be a JSON object."),
        ("{}", "An email is required."),
        ('{"email": 42}', "An email is required."),
        ('{"email": "not an address"}', "The email is not a valid email address."),
        (
            json.dumps({"email": "maya@example.com", "notes": "x" * MAX_BODY_BYTES}),
            f"The body must be at most {MAX_BODY_BYTES} bytes.",
        ),
    ],
)
def test_bad_input_is_refused_with_400_and_a_sentence(client, body, sentence):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json() == {"error": sentence}
    assert not PayrollEntry.objects.exists()


def test_an_overlong_idempotency_key_is_refused(client):
    response = post(client, {"email": "maya@example.com"}, HTTP_IDEMPOTENCY_KEY="k" * 500)
    assert response.status_code == 400
    assert not PayrollEntry.objects.exists()


def test_get_is_405(client):
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer demo-token").status_code == 405


def test_without_the_demo_the_payroll_api_is_not_mounted(settings):
    import orchestrator.urls

    settings.DEMO_ENABLED = False
    try:
        urls = importlib.reload(orchestrator.urls)
        clear_url_caches()
        with pytest.raises(Resolver404):
            resolve(URL, urls)
    finally:
        settings.DEMO_ENABLED = True
        importlib.reload(orchestrator.urls)
        clear_url_caches()
    assert resolve(URL).url_name == "payroll_employees"
