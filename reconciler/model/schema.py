"""JSON Schemas of the desired-state files, generated from the pydantic models.

Editors validate a file as it is typed when it names its schema (``"$schema":
"../schema/permission-set.schema.json"``). The committed copies under ``schema/`` are checked
against these by the tests, so they never drift from the models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from reconciler.model import documents

SCHEMAS: dict[str, type[BaseModel]] = {
    "reconciler.schema.json": documents.ReconcilerFile,
    "users.schema.json": documents.UsersFile,
    "groups.schema.json": documents.GroupsFile,
    "permission-set.schema.json": documents.PermissionSetFile,
    "assignments.schema.json": documents.AssignmentsFile,
    "access-control-attributes.schema.json": documents.AccessControlAttributesFile,
}
"""Schema file name → the model of the desired-state file it describes."""


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every schema, keyed by file name (``permission-set.schema.json``), as JSON-ready dicts."""
    schemas = {}
    for name, model in SCHEMAS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schemas[name] = schema
    return schemas
