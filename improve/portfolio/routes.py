"""The portfolio pages and their CSV exports: a commissioner's monitored services, or a
provider's homes side by side for its quality team."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Response, Template
from markupsafe import Markup

from improve import access, snapshots
from improve.accounts.tables import Role
from improve.errors import Forbidden
from improve.exports import to_csv
from improve.monitoring import domain as monitoring
from improve.portfolio import domain as portfolio
from improve.services.tables import RATING_LABELS
from improve.web.auth import CurrentViewer
from improve.web.downloads import csv_download
from improve.web.params import Id
from improve.web.templating import render_partial


def _filters(level, rating, special, overdue, q, sort, order) -> portfolio.Filters:
    return portfolio.Filters(
        level=level,
        rating=rating,
        special_measures=special == "1",
        overdue=overdue == "1",
        q=q[:100],
        sort=sort if sort in portfolio.SORTS else "concern",
        descending=order == "desc",
    )


def _kind(viewer) -> str:
    if viewer.role in (Role.COMMISSIONER, Role.ADMIN):
        return "commissioner"
    if viewer.role == Role.QUALITY_LEAD:
        return "quality"
    raise Forbidden("The portfolio is for commissioners and quality teams")


@get("/portfolio", include_in_schema=False)
async def portfolio_page(
    request: Request,
    viewer: CurrentViewer,
    level: FromQuery[str] = "",
    rating: FromQuery[str] = "",
    special: FromQuery[str] = "",
    overdue: FromQuery[str] = "",
    q: FromQuery[str] = "",
    sort: FromQuery[str] = "concern",
    order: FromQuery[str] = "asc",
) -> Template:
    """The page's main content is rendered once per state of the data, scope and query,
    and kept (improve.snapshots): fifty rows of cells cost more to render than to read."""
    kind = _kind(viewer)
    # the quality view takes no filters: one kept page per provider, whatever the URL says
    query = (level, rating, special, overdue, q, sort, order) if kind == "commissioner" else ()

    async def main() -> Markup:
        if kind == "quality":
            context = await portfolio.quality_view(viewer)
        else:
            context = await _commissioner_context(viewer, *query)
        context["organisation_name"] = viewer.organisation_name
        return render_partial(request, f"portfolio/_{kind}_main.html", context)

    html = await snapshots.kept((f"{kind} page", *access.scope_key(viewer), query), main)
    return Template(f"portfolio/{kind}.html", context={"viewer": viewer, "main": html})


async def _commissioner_context(viewer, level, rating, special, overdue, q, sort, order) -> dict:
    filters = _filters(level, rating, special, overdue, q, sort, order)
    rows = await portfolio.commissioner_view(viewer, filters)
    # the organisation's own levels, most serious last, whatever the filter leaves on the page
    levels = await monitoring.levels_of(viewer.organisation_id)
    return {
        "rows": rows,
        "filters": filters,
        "sorts": portfolio.SORTS,
        "levels": [lv["name"] for lv in levels],
        "rating_choices": [(k, v) for k, v in RATING_LABELS.items() if k],
        "RATING_LABELS": RATING_LABELS,
        "totals": portfolio.totals(rows),
        "csv_query": urlencode(
            {
                "level": level,
                "rating": rating,
                "special": special,
                "overdue": overdue,
                "q": q,
                "sort": sort,
                "order": order,
            }
        ),
    }


@get("/portfolio.csv", include_in_schema=False)
async def portfolio_csv(
    viewer: CurrentViewer,
    level: FromQuery[str] = "",
    rating: FromQuery[str] = "",
    special: FromQuery[str] = "",
    overdue: FromQuery[str] = "",
    q: FromQuery[str] = "",
    sort: FromQuery[str] = "concern",
    order: FromQuery[str] = "asc",
) -> Response:
    if _kind(viewer) == "quality":
        header, body = portfolio.quality_csv(await portfolio.quality_view(viewer))
    else:
        rows = await portfolio.commissioner_view(
            viewer, _filters(level, rating, special, overdue, q, sort, order)
        )
        header, body = portfolio.csv_rows(rows, portfolio.COMMISSIONER_CSV)
    return csv_download(to_csv(header, body), "portfolio.csv")


@get("/services/{service_id:int}/briefing", include_in_schema=False)
async def briefing_page(viewer: CurrentViewer, service_id: Id) -> Template:
    from improve import framework
    from improve.cases.stages import STAGE_LABELS
    from improve.measures import runchart
    from improve.monitoring import domain as monitoring
    from improve.plans.playbooks import THEMES
    from improve.portfolio.briefing import briefing

    return Template(
        "portfolio/briefing.html",
        context={
            "viewer": viewer,
            **await briefing(viewer, service_id),
            "RATING_LABELS": RATING_LABELS,
            "STAGE_LABELS": STAGE_LABELS,
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
            "THEMES": THEMES,
            "VISIT_KINDS": monitoring.VISIT_KINDS,
            "OUTCOMES": monitoring.OUTCOMES,
            "month_name": runchart.month_name,
        },
    )


PAGE_ROUTES = [portfolio_page, portfolio_csv, briefing_page]
