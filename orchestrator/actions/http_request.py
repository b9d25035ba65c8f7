"""The `http_request` action: call an HTTP API; a non-2xx answer fails the attempt."""

from orchestrator.actions import http
from orchestrator.actions.registry import ActionFailed, Param, register_action


@register_action(
    "http_request",
    params=[
        Param("url", str, required=True, help="A template over the run data."),
        Param("method", str, help="GET (default), POST, PUT, PATCH or DELETE."),
        Param("headers", dict),
        Param("json", (dict, list), help="A JSON body; its string values may be templates."),
        Param("timeout", (int, float), help="Seconds; 10 by default."),
    ],
)
def http_request(params, context):
    """Call an HTTP API. Outputs: status and the JSON answer (or its text)."""
    method = str(params.get("method") or "GET").upper()
    headers = {"Idempotency-Key": context.idempotency_key, **(params.get("headers") or {})}
    try:
        response = http.request(
            method,
            params["url"],
            headers=headers,
            json=params.get("json"),
            timeout=float(params.get("timeout") or 10),
        )
    except http.HTTPError as exc:
        raise ActionFailed(f"{method} {params['url']} failed: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = response.data.decode("utf-8", "replace")[:2000]
    if not 200 <= response.status < 300:
        raise ActionFailed(f"{method} {params['url']} answered {response.status}: {body}")
    return {"status": response.status, "response": body}
