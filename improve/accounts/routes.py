"""Pages: log in, log out, profile (password and API tokens)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from improve.accounts import login, people, resets, sessions, tokens
from improve.errors import Busy, Invalid, TooMany
from improve.reminders import calendar
from improve.settings import get_settings
from improve.web.auth import CurrentViewer
from improve.web.forms import FORM_MAX_BYTES, MAX_NEXT, form_dict, safe_next
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


FIELD_LABELS = {"email": "Email address", "password": "Password"}


def _retry_after(seconds: int | None) -> dict[str, str] | None:
    return {"Retry-After": str(seconds)} if seconds else None


def _login_page(next_: str, *, error: str | None = None, email: str = "", **extra) -> dict:
    return {
        "next": next_,
        "error": error,
        "email": email,
        "viewer": None,
        "can_reset": _can_reset(),
        **extra,
    }


@get("/login", include_in_schema=False)
async def login_form(request: Request, next: FromQuery[str] = "") -> Template | Redirect:
    if request.scope.get("user") is not None:
        return Redirect(safe_next(next), status_code=303)
    return Template("accounts/login.html", context=_login_page(safe_next(next)))


@post("/login", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def login_submit(request: Request) -> Template | Redirect:
    data = await form_dict(request)
    email, raw_next = str(data.get("email", "")), str(data.get("next", ""))
    target = safe_next(raw_next)
    shown = email if len(email) <= login.MAX_EMAIL else ""
    try:
        if len(raw_next) > MAX_NEXT:
            raise login.LoginRefused("The page to go back to (next) is too long.")
        client = request.client.host if request.client else None
        viewer = await login.authenticate(email, str(data.get("password", "")), client)
    except Invalid as exc:
        error = " ".join(f"{FIELD_LABELS.get(k, k)} {v}." for k, v in exc.errors.items())
        return Template(
            "accounts/login.html",
            context=_login_page(target, error=error, email=shown),
            status_code=400,
        )
    except login.LoginRefused as refused:
        return Template(
            "accounts/login.html",
            context=_login_page(target, error=str(refused), email=shown),
            status_code=refused.status_code,
            headers=_retry_after(refused.retry_after),
        )
    token = await sessions.start(viewer.user_id)
    # end the session the browser had before, if any (no session fixation)
    await sessions.end(request.cookies.get(sessions.COOKIE_NAME, ""))
    max_age = get_settings().session_hours * 3600
    return Redirect(target, status_code=303, cookies=[_session_cookie(token, max_age)])


@post("/logout", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def logout(request: Request) -> Redirect:
    await sessions.end(request.cookies.get(sessions.COOKIE_NAME, ""))
    return Redirect("/login", status_code=303, cookies=[_session_cookie("", 0)])


async def _digests_enabled(user_id: int) -> bool:
    from improve.accounts.tables import User

    row = await User.select(User.digests_enabled).where(User.id == user_id).first()
    return bool(row and row["digests_enabled"])


async def _profile(
    viewer: CurrentViewer,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> Template:
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
    return Template("accounts/profile.html", context=context, status_code=status, headers=headers)


def _changed_message(changed: str, ended: str) -> str | None:
    """The confirmation after a password change or a reset (the redirect's query)."""
    if changed == "reset":
        said = "Your password is changed and you are logged in. Every other login has ended"
    elif changed == "password":
        said = "Your password is changed. Every other login of yours has ended"
    else:
        return None
    if ended == "kept":
        return f"{said}. Your API tokens still work."
    count = int(ended) if ended.isdigit() and len(ended) < 6 else 0
    if count:
        tokens = "1 API token was ended" if count == 1 else f"{count} API tokens were ended"
        return f"{said}, and {tokens}: create a new one below for any script that needs it."
    return f"{said}."


@get("/profile", include_in_schema=False)
async def profile(
    viewer: CurrentViewer, changed: FromQuery[str] = "", ended: FromQuery[str] = ""
) -> Template:
    return await _profile(viewer, message=_changed_message(changed, ended))


@post("/profile/password", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def change_password(request: Request, viewer: CurrentViewer) -> Template | Redirect:
    data = await form_dict(request)
    keep_tokens = data.get("keep_tokens") == "on"
    try:
        ended = await people.change_own_password(
            viewer.user_id,
            str(data.get("current_password", "")),
            str(data.get("new_password", "")),
            str(data.get("confirm_password", "")),
            keep_tokens=keep_tokens,
        )
    except Invalid as exc:
        retry = exc.retry_after if isinstance(exc, TooMany) else None
        status = exc.status_code if isinstance(exc, TooMany) else 400
        return await _profile(viewer, status, _retry_after(retry), errors=exc.errors)
    except Busy as busy:
        return await _profile(viewer, 503, _retry_after(busy.retry_after), message=str(busy))
    # every session ended with the old password; start a new one for this browser
    token = await sessions.start(viewer.user_id)
    max_age = get_settings().session_hours * 3600
    return Redirect(
        f"/profile?changed=password&ended={'kept' if keep_tokens else ended}",
        status_code=303,
        cookies=[_session_cookie(token, max_age)],
    )


@post("/profile/tokens", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def create_token(request: Request, viewer: CurrentViewer) -> Template:
    data = await form_dict(request)
    try:
        _, plaintext = await tokens.create(viewer, str(data.get("name", "")))
    except Invalid as exc:
        return await _profile(
            viewer, status=400, errors={"token_" + k: v for k, v in exc.errors.items()}
        )
    return await _profile(viewer, new_token=plaintext)


@post(
    "/profile/tokens/{token_id:int}/revoke",
    include_in_schema=False,
    request_max_body_size=FORM_MAX_BYTES,
)
async def revoke_token(viewer: CurrentViewer, token_id: Id) -> Redirect:
    await tokens.revoke(viewer, token_id)
    return Redirect("/profile", status_code=303)


# --- a forgotten password (improve.accounts.resets) --------------------------------------

SENT = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works once, for an hour. Nothing arrived? Check your junk mail, then ask again "
    "in a few minutes."
)


def _forgot_page(sent: str | None = None, email: str = "", error: str | None = None) -> dict:
    return {
        "viewer": None,
        "sent": sent,
        "email": email,
        "error": error,
        "can_reset": _can_reset(),
    }


def _can_reset() -> bool:
    return bool(get_settings().smtp_host)  # a reset link needs email


@get("/password/forgot", include_in_schema=False)
async def forgot_form() -> Template:
    return Template("accounts/forgot.html", context=_forgot_page())


@post("/password/forgot", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def forgot_submit(request: Request) -> Template:
    data = await form_dict(request)
    email = str(data.get("email", ""))
    if not _can_reset():
        return Template("accounts/forgot.html", context=_forgot_page())
    try:
        login.check_email(email.strip())
    except Invalid as exc:
        error = f"Email address {exc.errors['email']}."
        return Template("accounts/forgot.html", context=_forgot_page(error=error), status_code=400)
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


@post("/password/reset/{token:str}", include_in_schema=False, request_max_body_size=FORM_MAX_BYTES)
async def reset_submit(request: Request, token: FromPath[str]) -> Template | Redirect:
    resets.require_well_formed(token)
    data = await form_dict(request)
    try:
        holder = await resets.complete(
            token, str(data.get("new_password", "")), str(data.get("confirm_password", ""))
        )
    except Invalid as exc:
        context = {"viewer": None, "token": token, "errors": exc.errors}
        return Template(
            "accounts/reset.html",
            context={**context, "valid": "token" not in exc.errors},
            status_code=400,
        )
    except Busy as busy:
        return Template(
            "accounts/reset.html",
            context={
                "viewer": None,
                "token": token,
                "valid": True,
                "errors": {},
                "busy": str(busy),
            },
            status_code=503,
            headers=_retry_after(busy.retry_after),
        )
    # Logged in at once, in this browser: lock-outs never apply to a session, so a
    # stranger who locks the address again cannot keep its owner out.
    await sessions.end(request.cookies.get(sessions.COOKIE_NAME, ""))
    session = await sessions.start(holder["id"])
    max_age = get_settings().session_hours * 3600
    return Redirect(
        f"/profile?changed=reset&ended={holder['tokens_ended']}",
        status_code=303,
        cookies=[_session_cookie(session, max_age)],
    )


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
