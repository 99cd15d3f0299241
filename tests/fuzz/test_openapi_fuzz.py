"""schemathesis over /api/openapi.json, as a plain user and as an admin: no server errors,
and no response that breaks its own schema. Bounded examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fuzz.conftest import FuzzTarget

schema = schemathesis.pytest.from_fixture("api_schema")

CHECKS = [not_a_server_error, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _call(case, token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=15)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.timeout(900)
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_holds_its_schema_for_a_plain_user(case, fuzz_target: FuzzTarget):
    _call(case, fuzz_target.user_token)


@pytest.mark.timeout(900)
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_holds_its_schema_for_an_admin(case, fuzz_target: FuzzTarget):
    _call(case, fuzz_target.admin_token)
