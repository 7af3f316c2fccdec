"""Pages: log in, log out, profile (password and API tokens)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from improve.accounts import login, people, resets, sessions, tokens
from improve.errors import Invalid
from improve.reminders import calendar
from improve.settings import get_settings
from improve.web.auth import CurrentViewer
from improve.web.forms import form_dict, safe_next
from improve.web.params import Id


def _session_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(
        key=sessions.COOKIE_NAME,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )


def _login_page(next_: str, *, error: str | None = None, email: str = "", **extra) -> dict:
    return {
        "next": next_,
        "error": error,
        "email": email,
        "viewer": None,
        "can_reset": _can_reset(),
        "notice": None,
        **extra,
    }


@get("/login", include_in_schema=False)
async def login_form(
    request: Request, next: FromQuery[str] = "", reset: FromQuery[str] = ""
) -> Template | Redirect:
    if request.scope.get("user") is not None:
        return Redirect(safe_next(next), status_code=303)
    notice = "Your password is changed. Log in with it." if reset == "done" else None
    return Template("accounts/login.html", context=_login_page(safe_next(next), notice=notice))


@post("/login", include_in_schema=False)
async def login_submit(request: Request) -> Template | Redirect:
    data = await form_dict(request)
    email, target = str(data.get("email", "")), safe_next(str(data.get("next", "")))
    try:
        viewer = await login.authenticate(email, str(data.get("password", "")))
    except login.LoginRefused as refused:
        return Template(
            "accounts/login.html",
            context=_login_page(target, error=str(refused), email=email),
            status_code=400,
        )
    token = await sessions.start(viewer.user_id)
    # end the session the browser had before, if any (no session fixation)
    await sessions.end(request.cookies.get(sessions.COOKIE_NAME, ""))
    max_age = get_settings().session_hours * 3600
    return Redirect(target, status_code=303, cookies=[_session_cookie(token, max_age)])


@post("/logout", include_in_schema=False)
async def logout(request: Request) -> Redirect:
    await sessions.end(request.cookies.get(sessions.COOKIE_NAME, ""))
    return Redirect("/login", status_code=303, cookies=[_session_cookie("", 0)])


async def _digests_enabled(user_id: int) -> bool:
    from improve.accounts.tables import User

    row = await User.select(User.digests_enabled).where(User.id == user_id).first()
    return bool(row and row["digests_enabled"])


async def _profile(viewer: CurrentViewer, status: int = 200, **extra: object) -> Template:
    context = {
        "viewer": viewer,
        "tokens": await tokens.list_for(viewer),
        "new_token": None,
        "errors": {},
        "message": None,
        "digests_enabled": await _digests_enabled(viewer.user_id),
        "calendar_url": f"{get_settings().base_url}/calendar/"
        f"{await calendar.feed_token_for(viewer.user_id)}.ics",
    }
    context.update(extra)
    return Template("accounts/profile.html", context=context, status_code=status)


@get("/profile", include_in_schema=False)
async def profile(viewer: CurrentViewer) -> Template:
    return await _profile(viewer)


@post("/profile/password", include_in_schema=False)
async def change_password(request: Request, viewer: CurrentViewer) -> Template | Redirect:
    data = await form_dict(request)
    try:
        await people.change_own_password(
            viewer.user_id,
            str(data.get("current_password", "")),
            str(data.get("new_password", "")),
            str(data.get("confirm_password", "")),
        )
    except Invalid as exc:
        return await _profile(viewer, status=400, errors=exc.errors)
    # every session ended with the old password; start a new one for this browser
    token = await sessions.start(viewer.user_id)
    max_age = get_settings().session_hours * 3600
    return Redirect(
        "/profile?changed=1", status_code=303, cookies=[_session_cookie(token, max_age)]
    )


@post("/profile/tokens", include_in_schema=False)
async def create_token(request: Request, viewer: CurrentViewer) -> Template:
    data = await form_dict(request)
    try:
        _, plaintext = await tokens.create(viewer, str(data.get("name", "")))
    except Invalid as exc:
        return await _profile(
            viewer, status=400, errors={"token_" + k: v for k, v in exc.errors.items()}
        )
    return await _profile(viewer, new_token=plaintext)


@post("/profile/tokens/{token_id:int}/revoke", include_in_schema=False)
async def revoke_token(viewer: CurrentViewer, token_id: Id) -> Redirect:
    await tokens.revoke(viewer, token_id)
    return Redirect("/profile", status_code=303)


# --- a forgotten password (improve.accounts.resets) --------------------------------------

SENT = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works once, for an hour. Nothing arrived? Check your junk mail, then ask again "
    "in a few minutes."
)


def _forgot_page(sent: str | None = None, email: str = "") -> dict:
    return {"viewer": None, "sent": sent, "email": email, "can_reset": _can_reset()}


def _can_reset() -> bool:
    return bool(get_settings().smtp_host)  # a reset link needs email


@get("/password/forgot", include_in_schema=False)
async def forgot_form() -> Template:
    return Template("accounts/forgot.html", context=_forgot_page())


@post("/password/forgot", include_in_schema=False)
async def forgot_submit(request: Request) -> Template:
    data = await form_dict(request)
    email = str(data.get("email", ""))
    if not _can_reset():
        return Template("accounts/forgot.html", context=_forgot_page())
    message = await resets.request_link(email)
    # the same words, at the same speed, whether or not the address has an account:
    # the email goes out after the response
    return Template(
        "accounts/forgot.html",
        context=_forgot_page(SENT, email),
        background=BackgroundTask(resets.send_link, message),
    )


@get("/password/reset/{token:str}", include_in_schema=False)
async def reset_form(token: FromPath[str]) -> Template:
    resets.require_well_formed(token)
    holder = await resets.holder_of(token)
    return Template(
        "accounts/reset.html",
        context={"viewer": None, "token": token, "valid": holder is not None, "errors": {}},
        status_code=200 if holder else 400,
    )


@post("/password/reset/{token:str}", include_in_schema=False)
async def reset_submit(request: Request, token: FromPath[str]) -> Template | Redirect:
    resets.require_well_formed(token)
    data = await form_dict(request)
    try:
        await resets.complete(
            token, str(data.get("new_password", "")), str(data.get("confirm_password", ""))
        )
    except Invalid as exc:
        context = {"viewer": None, "token": token, "errors": exc.errors}
        return Template(
            "accounts/reset.html",
            context={**context, "valid": "token" not in exc.errors},
            status_code=400,
        )
    return Redirect("/login?reset=done", status_code=303)


ROUTES = [
    login_form,
    login_submit,
    logout,
    profile,
    change_password,
    create_token,
    revoke_token,
    forgot_form,
    forgot_submit,
    reset_form,
    reset_submit,
]
