"""The in-app notifications list (pages and API)."""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Request, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from improve.reminders import outbox
from improve.web.auth import CurrentViewer


@get("/notifications", include_in_schema=False)
async def notifications_page(viewer: CurrentViewer) -> Template:
    return Template(
        "reminders/notifications.html",
        context={
            "viewer": viewer,
            "items": await outbox.notifications(viewer.user_id),
            "unread": await outbox.unread_count(viewer.user_id),
        },
    )


@post("/notifications/read", include_in_schema=False)
async def mark_read(viewer: CurrentViewer) -> Redirect:
    await outbox.mark_read(viewer.user_id)
    return Redirect("/notifications", status_code=303)


class NotificationOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    link: str
    created_at: dt.datetime
    read: bool


class Notifications(msgspec.Struct):
    unread: int
    items: list[NotificationOut]


@get(
    "/me/notifications",
    summary="The caller's notifications, newest first",
    raises=[NotAuthorizedException],
)
async def api_notifications(viewer: CurrentViewer) -> Notifications:
    rows = await outbox.notifications(viewer.user_id)
    return Notifications(
        await outbox.unread_count(viewer.user_id),
        [
            NotificationOut(
                r["id"], r["kind"], r["title"], r["link"], r["created_at"], r["read_at"] is not None
            )
            for r in rows
        ],
    )


PAGE_ROUTES = [notifications_page, mark_read]
API_ROUTES = [api_notifications]


@get("/unsubscribe/{token:str}", include_in_schema=False)
async def unsubscribe_page(token: FromPath[str]) -> Template:
    from improve.errors import NotFound
    from improve.reminders import digests

    if digests.user_for_token(token) is None:
        raise NotFound("This link is not valid")
    return Template(
        "reminders/unsubscribe.html", context={"viewer": None, "token": token, "done": False}
    )


@post("/unsubscribe/{token:str}", include_in_schema=False, opt={"exclude_from_csrf": True})
async def unsubscribe(token: FromPath[str]) -> Template:
    """One click from the email (RFC 8058): the signed token is the authority."""
    from improve.errors import NotFound
    from improve.reminders import digests

    user_id = digests.user_for_token(token)
    if user_id is None:
        raise NotFound("This link is not valid")
    await digests.set_enabled(user_id, False)
    return Template(
        "reminders/unsubscribe.html", context={"viewer": None, "token": token, "done": True}
    )


@post("/profile/digests", include_in_schema=False)
async def digest_preference(request: Request, viewer: CurrentViewer) -> Redirect:
    from improve.reminders import digests

    form = await request.form()
    await digests.set_enabled(viewer.user_id, form.get("digests") == "on")
    return Redirect("/profile", status_code=303)


PAGE_ROUTES += [unsubscribe_page, unsubscribe, digest_preference]


@get("/calendar/{feed:str}", include_in_schema=False)
async def calendar_feed(feed: FromPath[str]) -> Response:
    """The subscribed calendar (improve.reminders.calendar): the address is the key."""
    from improve.errors import NotFound
    from improve.reminders import calendar

    viewer = await calendar.viewer_for_feed(feed)
    if viewer is None:
        raise NotFound("This calendar address is not valid. Changing a password changes it.")
    return Response(
        await calendar.feed_for(viewer),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="improve.ics"'},
    )


PAGE_ROUTES += [calendar_feed]
