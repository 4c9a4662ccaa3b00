"""The API's request bodies: strict pydantic models that validate input (routes.py) and
describe it (openapi.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    # Strict: JSON types as the OpenAPI declares them (`"present": false`, never 0 or "no").
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class AttendanceIn(_Body):
    child_id: Annotated[str, Field(min_length=1, max_length=100)]
    present: bool


class ChildPatch(_Body):
    group_id: Annotated[str, Field(min_length=1, max_length=100)]


class EtaPickupIn(_Body):
    child_id: Annotated[str, Field(min_length=1, max_length=100)]
    guardian_id: Annotated[str, Field(min_length=1, max_length=100)]
    mode: Literal["eta"]
    eta: Annotated[str, Field(min_length=1, max_length=5, examples=["17:45"])]


class GpsPickupIn(_Body):
    child_id: Annotated[str, Field(min_length=1, max_length=100)]
    guardian_id: Annotated[str, Field(min_length=1, max_length=100)]
    mode: Literal["gps"]
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]


class StatusIn(_Body):
    status: Literal["called", "ready", "departed"]
