"""Pages and API for progress reviews."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromQuery, JSONBody
from litestar.response import Redirect, Template
from msgspec import Meta

from improve import clock
from improve.api import choices
from improve.api.documented import WRITE_ERRORS
from improve.cases import domain as cases
from improve.errors import Invalid
from improve.plans.playbooks import THEMES
from improve.reviews import domain as reviews
from improve.reviews.brief import brief_of
from improve.web.auth import CurrentViewer
from improve.web.params import Id, Limit, Offset

NEW_ACTION_ROWS = 2


def _labels() -> dict[str, Any]:
    return {
        "AUDIENCES": reviews.AUDIENCES,
        "RAG": reviews.RAG,
        "CONFIDENCE": reviews.CONFIDENCE,
        "THEMES": THEMES,
    }


async def _form(
    viewer, case_id: int, audience: str, values: dict, errors: dict, status: int = 200
) -> Template:
    case = await cases.get_case(viewer, case_id)
    return Template(
        "reviews/form.html",
        context={
            "viewer": viewer,
            "case": case,
            "brief": await brief_of(case_id),
            "audience": audience,
            "values": values,
            "errors": errors,
            "today": clock.today(),
            "rows": range(1, NEW_ACTION_ROWS + 1),
            **_labels(),
        },
        status_code=status,
    )


@get("/cases/{case_id:int}/reviews/new", include_in_schema=False)
async def review_form(
    viewer: CurrentViewer, case_id: Id, audience: FromQuery[str] = "internal"
) -> Template:
    if audience not in reviews.AUDIENCES:
        audience = "internal"
    return await _form(viewer, case_id, audience, {}, {})


def _new_actions(form: Any) -> list[dict[str, Any]]:
    out = []
    for n in range(1, NEW_ACTION_ROWS + 1):
        title = str(form.get(f"action_{n}_title") or "").strip()
        if title:
            out.append(
                {
                    "title": title,
                    "theme": form.get(f"action_{n}_theme"),
                    "due_on": form.get(f"action_{n}_due") or None,
                }
            )
    return out


@post("/cases/{case_id:int}/reviews/new", include_in_schema=False)
async def record_review(
    request: Request, viewer: CurrentViewer, case_id: Id
) -> Template | Redirect:
    await cases.get_case(viewer, case_id)
    form = await request.form()
    data = {k: v for k, v in form.items() if k != "_csrf_token"}
    try:
        review = await reviews.record(viewer, case_id, data, _new_actions(form))
    except Invalid as exc:
        errors = {
            k.replace("custom[", "new action ").replace("].", " "): v for k, v in exc.errors.items()
        }
        return await _form(
            viewer, case_id, str(data.get("audience") or "internal"), data, errors, status=400
        )
    return Redirect(f"/reviews/{review['id']}", status_code=303)


@get("/reviews/{review_id:int}", include_in_schema=False)
async def review_page(viewer: CurrentViewer, review_id: Id) -> Template:
    review = await reviews.get(viewer, review_id)
    case = await cases.get_case(viewer, review["case"])
    return Template(
        "reviews/review.html",
        context={"viewer": viewer, "review": review, "case": case, **_labels()},
    )


@post("/cases/{case_id:int}/review-cadence", include_in_schema=False)
async def change_cadence(
    request: Request, viewer: CurrentViewer, case_id: Id
) -> Redirect | Template:
    await cases.editable_case(viewer, case_id)
    form = await request.form()
    try:
        await reviews.set_cadence(viewer, case_id, dict(form))
    except Invalid as exc:
        from improve.cases.routes import _case_page

        return await _case_page(request, viewer, case_id, status=400, errors=exc.errors)
    return Redirect(f"/cases/{case_id}#reviews", status_code=303)


PAGE_ROUTES = [review_form, record_review, review_page, change_cadence]

# --- API ---------------------------------------------------------------------------------


class NewAction(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    theme: choices.Theme
    due_on: dt.date
    owner: int | None = None


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    audience: choices.Audience
    held_on: dt.date
    attendees: Annotated[str, Meta(max_length=10_000)]
    overall_rag: choices.Rag
    confidence: choices.Confidence
    rag: dict[str, str] = {}
    notes: Annotated[str, Meta(max_length=10_000)] = ""
    decisions: Annotated[str, Meta(max_length=10_000)] = ""
    new_actions: list[NewAction] = []


class ReviewOut(msgspec.Struct):
    id: int
    case_id: int
    audience: str
    held_on: dt.date
    attendees: str
    rag: dict[str, str]
    overall_rag: str
    confidence: str
    notes: str
    decisions: str
    recorded_by: str

    @classmethod
    def of(cls, r: dict[str, Any]) -> ReviewOut:
        return cls(
            r["id"],
            r["case"],
            r["audience"],
            r["held_on"],
            r["attendees"],
            dict(r["rag"] or {}),
            r["overall_rag"],
            r["confidence"],
            r["notes"],
            r["decisions"],
            r["recorded_by_name"],
        )


class ReviewPage(msgspec.Struct):
    items: list[ReviewOut]
    limit: int
    offset: int


@get("/cases/{case_id:int}/reviews", summary="A case's reviews, newest first", raises=WRITE_ERRORS)
async def api_reviews(
    viewer: CurrentViewer,
    case_id: Id,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ReviewPage:
    rows = await reviews.of_case(viewer, case_id, limit, offset)
    return ReviewPage([ReviewOut.of(r) for r in rows], limit, offset)


@post(
    "/cases/{case_id:int}/reviews",
    summary="Record a held review (schedules the next one; new actions join the plan)",
    raises=WRITE_ERRORS,
)
async def api_record(viewer: CurrentViewer, case_id: Id, data: JSONBody[ReviewBody]) -> ReviewOut:
    body = msgspec.to_builtins(data)
    actions = body.pop("new_actions")
    return ReviewOut.of(await reviews.record(viewer, case_id, body, actions))


@get("/reviews/{review_id:int}", summary="One review", raises=WRITE_ERRORS)
async def api_review(viewer: CurrentViewer, review_id: Id) -> ReviewOut:
    return ReviewOut.of(await reviews.get(viewer, review_id))


API_ROUTES = [api_reviews, api_record, api_review]
