"""The OpenAPI 3 document of API v1, built from the same pydantic models that validate input.

It declares what the server enforces (tests/security runs schemathesis against it): types,
lengths and ranges, `additionalProperties: false`, the HH:MM pattern of an arrival time,
the status enums, body limits (413) and nesting (422), ids that name nothing (404). What no
schema can say (a child absent today, a roster row naming an unknown group) is a 409 or a
422 with a readable `detail`, as each operation's description says."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from ...roster.body import RosterIn
from .bodies import AttendanceIn, ChildPatch, EtaPickupIn, GpsPickupIn, StatusIn


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def _json_body(ref: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def _with_pattern(schema: dict[str, Any], field: str, pattern: str) -> dict[str, Any]:
    """A string field the server parses by hand (an arrival time), declared as it checks it."""
    schema["properties"][field]["pattern"] = pattern
    return schema


def _with_defs(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A schema with nested models: the nested ones become components of their own."""
    defs = schema.pop("$defs", {})
    return {name: schema, **defs}


ERROR = {"$ref": "#/components/schemas/Error"}
ERRORS = {
    "401": _answer("Missing, unknown or revoked token", ERROR),
    "404": _answer("Unknown id (or another organization's)", ERROR),
    "405": _answer("Method not allowed here (the Allow header lists those that are)", ERROR),
    "422": _answer("Invalid input, one message per field", ERROR),
}
# Operations with a body: too large (64 KB; a roster 20 MB), or JSON nested too deeply.
BODY_ERRORS = {
    **ERRORS,
    "413": _answer("Body too large", ERROR),
    "422": _answer(
        "Invalid input, one message per field (or JSON nested more than 32 levels)", ERROR
    ),
}
HHMM = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"
# Internal ids are 32-bit: a larger one names nothing (404, like an unknown one).
PICKUP_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
PICKUP_STATUSES = [
    "scheduled",
    "tracking",
    "announced",
    "called",
    "ready",
    "departed",
    "cancelled",
    "expired",
    "dismissed",
]


@cache
def openapi_document() -> dict[str, Any]:
    pickup = {"$ref": "#/components/schemas/Pickup"}
    refused = _answer(
        "Refused (outside the call window, child absent, already announced, not the next step…)",
        {"$ref": "#/components/schemas/Error"},
    )
    str_id = {"type": "string"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Relais API",
            "version": "1",
            "description": (
                "Pickup alerts for school daycares. Ids are the management system's own ids."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/roster": {
                "put": {
                    "summary": "Replace the organization's whole roster (idempotent)",
                    "description": (
                        "Installations and groups are created or renamed by id; children absent "
                        "from the roster are deactivated; new guardians, and guardians whose "
                        "email changed, are invited. Any bad row: 422 with one error per row, "
                        "and nothing is applied. A roster that would deactivate more than a "
                        "fifth of the active children is refused (409, nothing applied) unless "
                        "the query says confirm_deactivations=true."
                    ),
                    "parameters": [
                        {
                            "name": "confirm_deactivations",
                            "in": "query",
                            "description": (
                                "true: apply even when more than a fifth of the active "
                                "children would be deactivated"
                            ),
                            "schema": {"type": "boolean", "default": False},
                        }
                    ],
                    "requestBody": _json_body("#/components/schemas/RosterIn"),
                    "responses": {
                        **BODY_ERRORS,
                        "200": _answer("Applied", {"$ref": "#/components/schemas/RosterResult"}),
                        "409": _answer(
                            "More than a fifth of the active children would be deactivated "
                            "and confirm_deactivations is not true; nothing applied "
                            "(reason: mass_deactivation, with deactivating and active_children)",
                            ERROR,
                        ),
                        "422": _answer(
                            "Invalid roster: one error per offending row (an unknown group, "
                            "a duplicate id…); nothing applied",
                            ERROR,
                        ),
                    },
                }
            },
            "/installations": {
                "get": {
                    "summary": "The organization's installations and their groups",
                    "responses": {
                        "200": _answer(
                            "Installations",
                            {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Installation"},
                            },
                        ),
                        **ERRORS,
                    },
                }
            },
            "/children": {
                "get": {
                    "summary": "Children, with today's presence",
                    "parameters": [{"name": "installation_id", "in": "query", "schema": str_id}],
                    "responses": {
                        "200": _answer(
                            "Children",
                            {"type": "array", "items": {"$ref": "#/components/schemas/Child"}},
                        ),
                        **ERRORS,
                    },
                }
            },
            "/children/{child_id}": {
                "patch": {
                    "summary": "Move a child to another group of its installation",
                    "parameters": [
                        {"name": "child_id", "in": "path", "required": True, "schema": str_id}
                    ],
                    "description": (
                        "The group must be one of the child's installation (422 otherwise)."
                    ),
                    "requestBody": _json_body("#/components/schemas/ChildPatch"),
                    "responses": {"200": _answer("Moved"), **BODY_ERRORS},
                }
            },
            "/attendance": {
                "post": {
                    "summary": "Check a child in or out",
                    "requestBody": _json_body("#/components/schemas/AttendanceIn"),
                    "responses": {"200": _answer("Recorded"), **BODY_ERRORS},
                }
            },
            "/pickups": {
                "get": {
                    "summary": "Today's pickups",
                    "parameters": [
                        {"name": "installation_id", "in": "query", "schema": str_id},
                        {
                            "name": "status",
                            "in": "query",
                            "description": "Only pickups in this status (empty: every status).",
                            "schema": {"type": "string", "enum": ["", *PICKUP_STATUSES]},
                        },
                    ],
                    "responses": {
                        "200": _answer("Pickups", {"type": "array", "items": pickup}),
                        **ERRORS,
                    },
                },
                "post": {
                    "summary": "Announce an arrival, by time or by position",
                    "description": (
                        "Refused with 409 when the child cannot be announced now (absent, "
                        "already announced, departed…) and with 422 when the arrival falls "
                        "outside the installation's call window or the position is not "
                        "plausible."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/EtaPickupIn"},
                                        {"$ref": "#/components/schemas/GpsPickupIn"},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _answer("Announced", pickup),
                        "409": refused,
                        **BODY_ERRORS,
                    },
                },
            },
            "/pickups/{pickup_id}/status": {
                "post": {
                    "summary": "Next step: called, ready, departed",
                    "parameters": [
                        {
                            "name": "pickup_id",
                            "in": "path",
                            "required": True,
                            "schema": PICKUP_ID,
                        }
                    ],
                    "requestBody": _json_body("#/components/schemas/StatusIn"),
                    "responses": {
                        "200": _answer("Moved", pickup),
                        "409": refused,
                        **BODY_ERRORS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "AttendanceIn": _schema(AttendanceIn),
                **_with_defs(_schema(RosterIn), "RosterIn"),
                "RosterResult": {
                    "type": "object",
                    "properties": {
                        key: {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                            "description": "installations, groups, guardians, children",
                        }
                        for key in ("created", "updated", "deactivated")
                    }
                    | {"invitations_sent": {"type": "integer"}},
                },
                "ChildPatch": _schema(ChildPatch),
                "EtaPickupIn": _with_pattern(_schema(EtaPickupIn), "eta", HHMM),
                "GpsPickupIn": _schema(GpsPickupIn),
                "StatusIn": _schema(StatusIn),
                "Error": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {
                        "detail": {"type": "string"},
                        "reason": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object"}},
                        "deactivating": {"type": "integer"},
                        "active_children": {"type": "integer"},
                    },
                },
                "Installation": {
                    "type": "object",
                    "properties": {
                        "id": str_id,
                        "name": {"type": "string"},
                        "latitude": {"type": ["number", "null"]},
                        "longitude": {"type": ["number", "null"]},
                        "groups": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"id": str_id, "name": {"type": "string"}},
                            },
                        },
                    },
                },
                "Child": {
                    "type": "object",
                    "properties": {
                        "id": str_id,
                        "first_name": {"type": "string"},
                        "last_name": {"type": "string"},
                        "installation_id": str_id,
                        "group_id": str_id,
                        "present": {"type": "boolean"},
                        "guardian_ids": {"type": "array", "items": str_id},
                    },
                },
                "Pickup": {
                    "type": "object",
                    "properties": {
                        "id": PICKUP_ID,
                        "status": {"type": "string", "enum": PICKUP_STATUSES},
                        "mode": {"type": "string", "enum": ["eta", "gps"]},
                        "child_id": str_id,
                        "guardian_id": str_id,
                        "installation_id": str_id,
                        "group_id": str_id,
                        "eta": {
                            "type": ["string", "null"],
                            "description": "HH:MM, installation time",
                        },
                        "announce_at": {"type": ["string", "null"]},
                        "gps_minutes": {"type": ["integer", "null"]},
                        "seq": {
                            "type": ["integer", "null"],
                            "description": (
                                "In the answer of an announcement or a status call: the "
                                "installation's event number of that change (null when "
                                "nothing changed). Boards show the change once they have "
                                "this number."
                            ),
                        },
                    },
                },
            },
        },
    }
