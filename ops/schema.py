"""What drf-spectacular cannot guess of the project's API: how the portal skills API authenticates (the app's
session cookie), and the refusals every operator API operation may answer, and the 429 of every API; loaded
with the generator that asks (SPECTACULAR_SETTINGS' DEFAULT_GENERATOR_CLASS), not as the process starts.

Why not at start: drf-spectacular's extension machinery imports its plumbing, DRF's fields and test client,
and through DRF's compat PostgreSQL's field types and psycopg (~0.2-0.3 s of a ~1 s start-up), in every
process (qcluster, poller, each manage.py command) that never builds a schema. Every way a schema is built
(/api/schema/, `check --deploy`'s schema check, `manage.py spectacular`) makes DEFAULT_GENERATOR_CLASS's
generator, so importing this module with it registers the extension before any view is read.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator as SpectacularSchemaGenerator


class SchemaGenerator(SpectacularSchemaGenerator):
    """drf-spectacular's own generator: named in the settings so that building a schema imports this module
    (and its extension) first."""


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
    "415": ("a body of a type the API reads not (an action takes none)", _DETAIL),
    "400": (
        "a parameter this operation does not take or one given twice, a malformed id, a value outside a"
        " field's choices, or a body given to an action (none takes one): each named, with what is wrong",
        {"type": "object", "additionalProperties": {"type": "string"}},
    ),
}
# DRF's CursorPagination answers a cursor it cannot read (ops.api.EventCursorPage) with a 404, not a 400.
_INVALID_CURSOR = ("a cursor this list did not write: `Invalid cursor`", _DETAIL)

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
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", ())}
            refusals = {code: _REFUSALS[code] for code in ("401", "403")}
            if "id" in names:
                refusals.update({code: _REFUSALS[code] for code in ("404", "400")})
            elif "limit" in names:
                refusals["400"] = _REFUSALS["400"]
            if "cursor" in names:
                refusals["404"] = _INVALID_CURSOR
            if method == "post":
                refusals["415"] = _REFUSALS["415"]
            for code, (description, schema) in refusals.items():
                operation["responses"].setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": schema}}}
                )
    return result
