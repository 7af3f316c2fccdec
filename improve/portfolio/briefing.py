"""The briefing: one printable page about one service, what a commissioner brings to a
provider-concerns meeting (and a manager to a review): ratings, the case and its
deadlines, the plan by theme with what is overdue, reviews, the projected rating, the
measures with their signals, and the commissioners' levels and visits."""

from __future__ import annotations

from typing import Any

from improve import clock
from improve.access import Viewer
from improve.accounts.tables import Role
from improve.assessments import domain as assessments
from improve.cases import domain as cases
from improve.measures import domain as measures
from improve.monitoring import domain as monitoring
from improve.monitoring.tables import MonitoringStatus
from improve.plans import domain as plans
from improve.services import domain as services
from improve.services import ratings


async def briefing(viewer: Viewer, service_id: int) -> dict[str, Any]:
    service = await services.detail(viewer, service_id)  # 404 outside the viewer's scope
    case = await cases.open_case_for(service_id)
    out: dict[str, Any] = {
        "service": service,
        "today": clock.today(),
        "ratings": (await ratings.for_service(viewer, service_id))[:3],
        "case": None,
        "measures": await _measures(viewer, service_id),
        "assessment": await _latest_assessment(viewer, service_id),
        "levels": await _levels(viewer, service_id),
        "visits": (await monitoring.visits_of(viewer, service_id))[:5],
    }
    if case:
        view = await cases.case_view(viewer, case["id"])
        out["case"] = {
            **view,
            "plan": plans.summary(view["actions"], clock.today()),
            "reviews": view["recent_reviews"][:3],
            "open_findings": [f for f in view["findings"] if f["status"] == "open"],
        }
    return out


async def _measures(viewer: Viewer, service_id: int) -> list[dict[str, Any]]:
    page = await measures.service_measures(viewer, service_id)
    return [i for i in page["items"] if i["latest"] is not None]


async def _latest_assessment(viewer: Viewer, service_id: int) -> dict[str, Any] | None:
    past = await assessments.history_of(viewer, service_id)
    return await assessments.get(viewer, past[0]["id"]) if past else None


async def _levels(viewer: Viewer, service_id: int) -> list[dict[str, Any]]:
    """The commissioners' levels for the service: the provider's people see them all
    (they should know them), a commissioner its own organisation's only (a level is
    its own, as on its monitoring page and in the case's history)."""
    query = MonitoringStatus.select(
        MonitoringStatus.commissioner.name.as_alias("commissioner"),
        MonitoringStatus.level.name.as_alias("level"),
        MonitoringStatus.review_on,
        MonitoringStatus.set_at,
    ).where(MonitoringStatus.service == service_id)
    if viewer.role == Role.COMMISSIONER:
        query = query.where(MonitoringStatus.commissioner == viewer.organisation_id)
    return await query
