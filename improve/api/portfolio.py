"""JSON API v1 for measures, self-assessments, monitoring and the portfolio views: the
same domain functions the pages call."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import get, post, put
from litestar.params import FromQuery, JSONBody
from msgspec import Meta

from improve.api.documented import ERRORS, WRITE_ERRORS
from improve.assessments import domain as assessments
from improve.measures import domain as measures
from improve.monitoring import domain as monitoring
from improve.portfolio import domain as portfolio
from improve.web.auth import CurrentViewer
from improve.web.params import Id

# --- measures ----------------------------------------------------------------------------


class PointOut(msgspec.Struct):
    month: dt.date
    value: float
    in_baseline: bool
    signals: list[str]


class SignalOut(msgspec.Struct):
    kind: str
    direction: str
    start: dt.date
    end: dt.date
    count: int
    improving: bool | None
    explanation: str


class MeasureOut(msgspec.Struct):
    key: str
    name: str
    unit: str
    better: str
    national: float | None
    median: float | None
    baseline_complete: bool
    points: list[PointOut]
    signals: list[SignalOut]


def _signal(s) -> SignalOut:
    return SignalOut(
        kind=s.kind,
        direction=s.direction,
        start=s.start,
        end=s.end,
        count=s.count,
        improving=s.improving,
        explanation=s.explanation,
    )


@get(
    "/services/{service_id:int}/measures",
    summary="Every measure of a service with its run chart (median and signals)",
    raises=ERRORS,
)
async def service_measures(viewer: CurrentViewer, service_id: Id) -> list[MeasureOut]:
    page = await measures.service_measures(viewer, service_id)
    out = []
    for item in page["items"]:
        m, rc = item["measure"], item["chart"]
        out.append(
            MeasureOut(
                key=m.key,
                name=m.name,
                unit=m.unit,
                better=m.better,
                national=m.national,
                median=rc.median,
                baseline_complete=rc.baseline_complete,
                points=[
                    PointOut(p.month, p.value, p.in_baseline, list(p.signal_kinds))
                    for p in rc.points
                ],
                signals=[_signal(s) for s in rc.signals],
            )
        )
    return out


class FigureIn(msgspec.Struct, forbid_unknown_fields=True):
    measure: Annotated[str, Meta(min_length=1, max_length=40)]
    month: Annotated[str, Meta(pattern=r"^\d{4}-\d{2}(-01)?$")]
    value: float


class FigureOut(msgspec.Struct):
    measure: str
    month: dt.date
    value: float


@post(
    "/services/{service_id:int}/measures",
    summary="Record one month's figure (the same month again replaces it)",
    raises=WRITE_ERRORS,
)
async def record_figure(
    viewer: CurrentViewer, service_id: Id, data: JSONBody[FigureIn]
) -> FigureOut:
    saved = await measures.record(viewer, service_id, data.measure, data.month, data.value)
    return FigureOut(**saved)


# --- self-assessment ---------------------------------------------------------------------


class KeyQuestionOut(msgspec.Struct):
    key_question: str
    percent: int
    band: str
    rating: str
    limiter: str | None
    position: str
    to_move_up: str | None
    to_move_down: str | None


class AssessmentOut(msgspec.Struct):
    id: int
    service_id: int
    assessed_on: dt.date
    breach: bool
    projected_overall: str
    principle: str
    notes: list[str]
    key_questions: list[KeyQuestionOut]
    scores: dict[str, int]


def _assessment(row) -> AssessmentOut:
    result = row["result"]
    return AssessmentOut(
        id=row["id"],
        service_id=row["service"],
        assessed_on=row["assessed_on"],
        breach=row["breach"],
        projected_overall=row["projected_overall"],
        principle=result.overall.principle,
        notes=list(result.overall.notes),
        key_questions=[
            KeyQuestionOut(
                key_question=kq,
                percent=r.shown_percent,
                band=r.band.value,
                rating=r.rating.value,
                limiter=r.limiter,
                position=r.position,
                to_move_up=r.to_move_up,
                to_move_down=r.to_move_down,
            )
            for kq, r in result.key_questions.items()
            if r is not None
        ],
        scores=row["scores"],
    )


class AssessmentIn(msgspec.Struct, forbid_unknown_fields=True):
    assessed_on: dt.date
    scores: dict[str, Annotated[int, Meta(ge=1, le=4)]]
    evidence: dict[str, Annotated[str, Meta(max_length=5000)]] = {}


@post(
    "/services/{service_id:int}/assessments",
    summary="Record a self-assessment; answers with the projected rating",
    raises=WRITE_ERRORS,
)
async def record_assessment(
    viewer: CurrentViewer, service_id: Id, data: JSONBody[AssessmentIn]
) -> AssessmentOut:
    form = {"assessed_on": data.assessed_on.isoformat()}
    form |= {f"score.{k}": str(v) for k, v in data.scores.items()}
    form |= {f"evidence.{k}": v for k, v in data.evidence.items()}
    return _assessment(await assessments.record(viewer, service_id, form))


@get(
    "/services/{service_id:int}/assessments/latest",
    summary="The latest self-assessment with its projected rating (404 when none)",
    raises=ERRORS,
)
async def latest_assessment(viewer: CurrentViewer, service_id: Id) -> AssessmentOut:
    from improve.errors import NotFound

    past = await assessments.history_of(viewer, service_id)
    if not past:
        raise NotFound("No self-assessment yet")
    return _assessment(await assessments.get(viewer, past[0]["id"]))


# --- monitoring ----------------------------------------------------------------------------


class LevelIn(msgspec.Struct, forbid_unknown_fields=True):
    level: int
    review_on: dt.date | None = None
    note: Annotated[str, Meta(max_length=2000)] = ""


class LevelOut(msgspec.Struct):
    level_id: int
    level: str
    rank: int
    review_on: dt.date | None
    note: str


@put(
    "/services/{service_id:int}/monitoring-level",
    summary="Hold a service at one of your organisation's monitoring levels (commissioners)",
    raises=WRITE_ERRORS,
)
async def put_level(viewer: CurrentViewer, service_id: Id, data: JSONBody[LevelIn]) -> LevelOut:
    row = await monitoring.set_level(
        viewer,
        service_id,
        {
            "level": str(data.level),
            "review_on": data.review_on.isoformat() if data.review_on else "",
            "note": data.note,
        },
    )
    return LevelOut(
        row["level"], row["level_name"], row["level_rank"], row["review_on"], row["note"]
    )


# --- portfolio ------------------------------------------------------------------------------


class PortfolioRow(msgspec.Struct):
    service_id: int
    name: str
    provider: str
    level: str
    level_review_on: dt.date | None
    rating: str
    special_measures: bool
    case_id: int | None
    stage: str
    days_since_inadequate: int | None
    days_to_reinspection: int | None
    progress: int | None
    overdue_actions: int
    missed_reviews: int
    last_review_rag: str
    projected: str
    trend: str
    slipped_actions: int = 0  # open, and due later than first agreed
    manager_left: bool = False  # the registered manager's account is inactive


@get(
    "/portfolio",
    summary="Every service a commissioner monitors, one row each (commissioners, admins)",
    raises=WRITE_ERRORS,
)
async def commissioner_portfolio(
    viewer: CurrentViewer,
    level: FromQuery[str] = "",
    rating: FromQuery[str] = "",
    special_measures: FromQuery[bool] = False,
    overdue: FromQuery[bool] = False,
    sort: FromQuery[str] = "concern",
    descending: FromQuery[bool] = False,
) -> list[PortfolioRow]:
    filters = portfolio.Filters(
        level=level,
        rating=rating,
        special_measures=special_measures,
        overdue=overdue,
        sort=sort if sort in portfolio.SORTS else "concern",
        descending=descending,
    )
    return [
        PortfolioRow(
            service_id=r["id"],
            name=r["name"],
            provider=r["provider_name"],
            level=r["level"],
            level_review_on=r["level_review_on"],
            rating=r["rating"],
            special_measures=r["special_measures"],
            case_id=r["case_id"],
            stage=r["stage"],
            days_since_inadequate=r["days_since_inadequate"],
            days_to_reinspection=r["days_to_reinspection"],
            progress=r["progress"],
            overdue_actions=r["overdue"],
            missed_reviews=r["missed_reviews"],
            last_review_rag=r["last_review_rag"],
            projected=r["projected"],
            trend=r["trend"]["word"],
            slipped_actions=r["slipped"],
            manager_left=r["manager_left"],
        )
        for r in await portfolio.commissioner_view(viewer, filters)
    ]


ROUTES = [
    service_measures,
    record_figure,
    record_assessment,
    latest_assessment,
    put_level,
    commissioner_portfolio,
]
