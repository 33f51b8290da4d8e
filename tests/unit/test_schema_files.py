"""The JSON Schemas committed under ``schema/`` are the ones the models generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.model.schema import json_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_committed_schema_matches_the_model(name: str) -> None:
    committed = json.loads((SCHEMA_DIR / name).read_text())

    assert committed == json_schemas()[name], (
        f"schema/{name} is stale: run `reconciler schema --out schema`"
    )


def test_every_example_file_names_its_schema() -> None:
    example = SCHEMA_DIR.parent / "desired-state"
    for file in example.rglob("*.json"):
        reference = json.loads(file.read_text())["$schema"]
        assert (file.parent / reference).resolve().is_file(), file
