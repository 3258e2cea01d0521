"""The screening job: one transaction per batch, so progress is durable and a run resumes.

This is the one place in the quality package that opens its own units of work
(`database.session()`, which commits); the functions it calls only flush.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from anxin_profile.quality import repository, service
from anxin_profile.quality.schemas import ScreeningProgress
from anxin_shared.db import Database
from anxin_shared.errors import Conflict, Forbidden
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

NO_RUN = "no access to this screening run"


def _drive(
    database: Database,
    run_id: str,
    batch_size: int,
    max_batches: int | None,
    now: Callable[[], datetime],
    deadlines: service.Deadlines,
) -> ScreeningProgress:
    batches = 0
    while True:
        with database.session() as session:
            run = service.screen_batch(session, run_id, batch_size, now(), deadlines)
            if run.status == "completed":
                return service.progress(run)
        batches += 1
        if max_batches is not None and batches >= max_batches:
            with database.session() as session:
                return service.progress(service.pause(session, run_id, now()))


def start(
    database: Database,
    policy: PolicyEngine,
    principal: Principal,
    subsidiary: str | None,
    batch_size: int,
    max_batches: int | None,
    now: Callable[[], datetime],
    deadlines: service.Deadlines,
) -> ScreeningProgress:
    """Decide, start a run and screen up to `max_batches` batches (all when None)."""
    with database.session() as session:
        subsidiaries = service.governed_subsidiaries(
            session, policy, principal, "create", subsidiary
        )
        run_id = service.start_run(session, principal, subsidiaries, now()).run_id
    return _drive(database, run_id, batch_size, max_batches, now, deadlines)


def _own_run(
    database: Database, policy: PolicyEngine, principal: Principal, run_id: str, action: str
) -> ScreeningProgress:
    with database.session() as session:
        run = repository.get_run(session, run_id)
        scope = service.scope_subsidiaries(run) if run else []
        allowed = service.governed_subsidiaries(session, policy, principal, action, None)
        if run is None or not set(scope) <= set(allowed):
            decision = policy.decide(principal.subject, "-", service.RESOURCE, action, "L0")
            raise Forbidden(NO_RUN, decision_id=decision.decision_id)
        return service.progress(run)


def resume(
    database: Database,
    policy: PolicyEngine,
    principal: Principal,
    run_id: str,
    batch_size: int,
    max_batches: int | None,
    now: Callable[[], datetime],
    deadlines: service.Deadlines,
) -> ScreeningProgress:
    """Continue a paused or interrupted run from its cursor."""
    current = _own_run(database, policy, principal, run_id, "create")
    if current.status == "completed":
        raise Conflict("this run has completed; start a new one")
    return _drive(database, run_id, batch_size, max_batches, now, deadlines)


def read(
    database: Database, policy: PolicyEngine, principal: Principal, run_id: str
) -> ScreeningProgress:
    """The progress of a run."""
    return _own_run(database, policy, principal, run_id, "read")
