"""Property-based fuzzing of the whole JSON API from its own OpenAPI schema (schemathesis).

Every operation gets generated valid and invalid requests; the app must never answer 5xx, and
every answer must match the schema: a documented status code, content type and body.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# Six operations, up to 3600 cases. Searches run the real models (about 20 ms each here), so
# the run is also bounded in time: the budget is shared equally by the operations, so a slow
# machine cannot starve any; on this 2-core machine it is not reached.
EXAMPLES = 600
BUDGET_S = 150.0


@pytest.mark.slow
def test_the_api_never_fails_and_always_matches_its_schema(client: TestClient) -> None:
    # ``client`` has run the app's lifespan: the index is loaded and stays in app.state.
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    started = time.monotonic()
    counts: dict[str, int] = {}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    share = BUDGET_S / len(operations)
    for operation in operations:
        label = operation.label
        counts[label] = 0
        begun = time.monotonic()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            if time.monotonic() - begun > share:  # noqa: B023
                return  # budget spent: the remaining examples pass unrun
            counts[label] += 1  # noqa: B023
            case.call_and_validate(checks=checks)

        fuzz()
    print(f"fuzzed {sum(counts.values())} cases in {time.monotonic() - started:.1f} s: {counts}")
    assert len(counts) == 7 and all(n > 0 for n in counts.values()), counts
