"""Schemathesis against the app's own OpenAPI schema, as a logged-in user of each role
(issue 8): no 5xx, every answer matches the schema, and nothing one organisation sends
changes another organisation's data.

Every operation is fuzzed once per role with a Bearer token of that role's user. Path
parameters are sometimes the generated value and sometimes a real id from the scene
(home A's rows, in the caller's scope, or home B's, out of it), id fields in bodies
sometimes real ids of either side or values the domain accepts, and versions sometimes
the current one, so requests reach the domain code and not only 404s and 422s.
Generation is derandomized, so a run is repeatable. Requests go through the
repository's httpx client in the tests' own event loop (see fuzz_support), while
Hypothesis draws the cases in a worker thread.

App bugs found and not fixed yet are listed in KNOWN_BUGS: an operation whose only
failures are known bugs is an expected failure (xfail), any other failure fails.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from argon2 import PasswordHasher
from conftest import http_client
from fuzz_support import (
    Scene,
    ServerErrors,
    body_choices,
    build_scene,
    current_version,
    differences,
    owned,
    path_choices,
    send,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from improve.accounts import passwords
from improve.app import create_app

MAX_EXAMPLES = 10  # per operation and role; the whole file must stay well under 3 minutes
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ("quality_lead", "registered_manager", "commissioner", "admin")
# the organisations whose rows each role must leave as they were (administrators may
# change anything): provider B and council D have nothing to do with provider A or
# council C, and council C's monitoring is not provider A's to change
GUARDED = {
    "quality_lead": ("b", "c", "d"),
    "registered_manager": ("b", "c", "d"),
    "commissioner": ("b", "d"),
    "admin": (),
}


def _schema() -> dict:
    """The app's schema, with two changes that spend the examples on what matters.

    Every request carries the role's token, so the operations' `security` is dropped:
    left in, negative cases spend half their examples on requests without a token (401s,
    which test_access_matrix covers). And the request bodies' objects get the
    `additionalProperties: false` their structs enforce (forbid_unknown_fields) but the
    schema does not say, or most "valid" bodies carry an unknown field and end in 400.
    """
    raw = create_app().openapi_schema.to_schema()
    components = raw.get("components", {}).get("schemas", {})
    closed: set[str] = set()

    def close(schema: Any) -> None:
        if isinstance(schema, list):
            for item in schema:
                close(item)
        elif isinstance(schema, dict):
            ref = schema.get("$ref", "")
            name = ref.rpartition("/")[2]
            if name in components and name not in closed:
                closed.add(name)
                close(components[name])
            if "properties" in schema:
                schema.setdefault("additionalProperties", False)
            for value in schema.values():
                close(value)

    for item in raw["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
                for media, content in operation.get("requestBody", {}).get("content", {}).items():
                    if media == "application/json":
                        close(content.get("schema"))
    return raw


SCHEMA = schemathesis.openapi.from_dict(_schema())
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


@dataclass(frozen=True)
class KnownBug:
    """An app bug the fuzzing found and that is not fixed yet: a test whose every failure
    matches one (by its operation and failure text) is an expected failure. Delete the
    entry with the fix, so the operations it covered are checked again."""

    pattern: str
    reason: str

    def matches(self, label: str, failure: str) -> bool:
        return re.search(self.pattern, f"{label}\n{failure}", re.MULTILINE) is not None


KNOWN_BUGS: list[KnownBug] = []  # none known: every failure fails


def _params():
    for role in ROLES:
        for label in OPERATIONS:
            yield pytest.param(role, label, id=f"{role}-{label}")


@dataclass
class Run:
    """A role's scene and the rows of the organisations it must not change."""

    scene: Scene
    guarded: list[int]
    baseline: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module", autouse=True)
def quick_hashing():
    """argon2 at its real cost would take most of the set-up (seven users a scene)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


@pytest.fixture(scope="module")
def server_errors():
    handler = ServerErrors()
    logger = logging.getLogger("improve.errors")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def fuzz_app():
    return create_app()


@pytest.fixture(scope="module")
async def runs():
    """One scene per role, made when the role's first test runs, so one role's writes
    (an administrator moving home A elsewhere, say) cannot change another's run."""
    made: dict[str, Run] = {}

    async def run_for(role: str) -> Run:
        if role not in made:
            scene = await build_scene()
            guarded = [scene.orgs[key] for key in GUARDED[role]]
            made[role] = Run(scene, guarded, await owned(guarded) if guarded else {})
        return made[role]

    return run_for


def _fill_body(value: Any, scene: Scene, draw) -> None:
    """Sometimes put real ids (of either side) and values the domain accepts into the
    body's fields; the generated value stays one of the choices."""
    if isinstance(value, list):
        for item in value:
            _fill_body(item, scene, draw)
    elif isinstance(value, dict):
        for key in list(value):
            choices = body_choices(scene, key)
            if choices:
                value[key] = draw(st.sampled_from([value[key], *choices]))
            else:
                _fill_body(value[key], scene, draw)


def _generate(operation, scene: Scene, put) -> None:
    """Runs in a worker thread: Hypothesis draws the cases and hands each to `put`, while
    the tests' loop sends the ones before it. Nothing is sent from here, so Hypothesis
    never replays a request against a database an earlier one changed."""
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, data=st.data())
    def generate(case, data) -> None:
        for name in list(case.path_parameters or {}):
            choices = path_choices(scene, name)
            if choices:
                picked = data.draw(st.sampled_from([case.path_parameters[name], *choices]))
                case.path_parameters[name] = picked
        if isinstance(case.body, dict):
            _fill_body(case.body, scene, data.draw)
        fresh = isinstance(case.body, dict) and "version" in case.body and data.draw(st.booleans())
        put((case, fresh))

    try:
        generate()
    finally:
        put(None)


def _failures(exchanges, server_errors: ServerErrors) -> list[str]:
    """Each distinct failed check once (the first case that failed it; for a 500, once per
    kind of error), with the app's traceback for a 500."""
    failures: dict[str, str] = {}
    for case, response in exchanges:
        try:
            case.validate_response(response, checks=CHECKS)
        except (FailureGroup, Failure) as exc:
            trace = server_errors.traceback_for(response.text)
            error = trace.rpartition("\n")[2].partition(":")[0].strip()
            found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in found:
                key = f"{failure.title} ({response.status_code})"
                if key + error in failures:
                    continue
                curl = case.as_curl_command(headers={"Authorization": "Bearer <token>"})
                text = f"{key}: {failure.message}\n  {curl}\n  -> {response.text[:300]}"
                failures[key + error] = text + (f"\n{trace}" if trace else "")
    return list(failures.values())


@pytest.mark.parametrize(("role", "label"), list(_params()))
async def test_every_operation_as_every_role(fuzz_app, runs, server_errors, role, label):
    run = await runs(role)
    loop = asyncio.get_running_loop()
    cases: asyncio.Queue = asyncio.Queue()

    def put(item) -> None:
        loop.call_soon_threadsafe(cases.put_nowait, item)

    generating = asyncio.ensure_future(
        asyncio.to_thread(_generate, OPERATIONS[label], run.scene, put)
    )
    exchanges = []
    async with http_client(fuzz_app) as client:
        while (item := await cases.get()) is not None:
            case, fresh = item
            if fresh:
                version = await current_version(case.path_parameters or {})
                if version is not None:
                    case.body["version"] = version
            exchanges.append((case, await send(client, case, run.scene.tokens[role])))
    await generating

    failures = _failures(exchanges, server_errors)
    changed = differences(run.baseline, await owned(run.guarded)) if run.guarded else []
    known = {bug.reason for f in failures for bug in KNOWN_BUGS if bug.matches(label, f)}
    unknown = [f for f in failures if not any(bug.matches(label, f) for bug in KNOWN_BUGS)]
    problems = unknown + (
        [f"{role} changed another organisation's rows:\n" + "\n".join(changed)] if changed else []
    )
    if changed:
        run.baseline = await owned(run.guarded)  # report each change once, where it happened
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
    if known:
        pytest.xfail("; ".join(sorted(known)))
