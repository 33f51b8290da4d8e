"""Documents built from Python values (not parsed text) refuse what JSON cannot hold too."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconciler.model.documents import PermissionSetFile


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_inline_policy_holding_a_non_finite_number_is_a_json_number_error(number: float) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Condition": {"NumericLessThan": {"k": number}}}]}
    with pytest.raises(ValidationError) as raised:
        PermissionSetFile.model_validate({"name": "A", "inline_policy": policy})
    assert [error["type"] for error in raised.value.errors()] == ["json_number"]
