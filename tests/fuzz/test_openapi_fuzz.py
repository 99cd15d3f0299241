"""schemathesis over /api/openapi.json, as a plain user and as an admin: no server errors,
and no response that breaks its own schema. Bounded examples per operation.

Driven through schemathesis's Python API (each operation's Hypothesis strategy under
`@given`), not its pytest plugin: the plugin's lazy fixture loader reaches into pytest
internals that pytest 9 removed."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fuzz.conftest import FuzzTarget

CHECKS = [not_a_server_error, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _fuzz_every_operation(schema: schemathesis.BaseSchema, token: str) -> list[str]:
    """Run each operation's strategy; return one line per failing operation."""
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=15)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        # Schemathesis reports a failed check as a FailureGroup (a BaseExceptionGroup).
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations > 20, f"the schema lists only {operations} operations"
    return failures


@pytest.mark.timeout(900)
def test_api_holds_its_schema_for_a_plain_user(
    api_schema: schemathesis.BaseSchema, fuzz_target: FuzzTarget
) -> None:
    failures = _fuzz_every_operation(api_schema, fuzz_target.user_token)
    assert not failures, "\n\n".join(failures)


@pytest.mark.timeout(900)
def test_api_holds_its_schema_for_an_admin(
    api_schema: schemathesis.BaseSchema, fuzz_target: FuzzTarget
) -> None:
    failures = _fuzz_every_operation(api_schema, fuzz_target.admin_token)
    assert not failures, "\n\n".join(failures)
