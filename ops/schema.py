"""What drf-spectacular cannot guess: how the portal skills API authenticates (the app's session cookie), and
the refusals every operator API operation may answer, and the 429 of every API."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PortalViewerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "botcore.web.api.PortalViewerAuthentication"
    name = "portalSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


_DETAIL = {"$ref": "#/components/schemas/Detail"}
_REFUSALS = {
    "401": ("no credentials, an unknown token, or an expired one (`Token expired`)", _DETAIL),
    "403": ("not staff, or without the admin's right this takes", _DETAIL),
    "404": ("no such id", _DETAIL),
    "400": (
        "a parameter this operation does not take, a malformed id, or a value outside a field's choices:"
        " each named, with what is wrong",
        {"type": "object", "additionalProperties": {"type": "string"}},
    ),
}


_TOO_MANY = {
    "description": "past VIBE_API_RATE for this caller: wait the seconds Retry-After names",
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
    "content": {"application/json": {"schema": _DETAIL}},
}


def document_operator_refusals(result, generator, request, public):
    """A postprocessing hook: the operator API's refusals beside each operation's own answers, and every
    API's 429 (vibeapp/api_rate.py). DRF answers them outside any view's code (authentication, rights,
    lookups, ops.api's filters, throttles), so no view declares them; without them a client generated from
    the schema knew only the 200."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "Detail", {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    )
    for path, operations in result["paths"].items():
        for operation in operations.values():
            operation["responses"].setdefault("429", _TOO_MANY)
        if not path.startswith("/api/ops/"):
            continue
        for operation in operations.values():
            names = {p["name"] for p in operation.get("parameters", ())}
            codes = ["401", "403"]
            if "id" in names:
                codes += ["404", "400"]
            elif "limit" in names:
                codes += ["400"]
            for code in codes:
                description, schema = _REFUSALS[code]
                operation["responses"].setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": schema}}}
                )
    return result
