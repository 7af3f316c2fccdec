"""Email rendering and sending: the one place emails are made.

Each kind has three templates in templates/emails/: <kind>.subject.txt, <kind>.txt and
<kind>.html. HTML is escaped, plain text is not (it is not HTML).
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from functools import cache
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from improve.paths import TEMPLATES_DIR
from improve.settings import Settings, get_settings


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR / "emails"),
        autoescape=select_autoescape(["html"], default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = lambda d: d.strftime("%-d %B %Y") if d else ""
    return env


def render(kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for one message."""
    env = _environment()
    full = {"base_url": get_settings().base_url, **context}
    subject = " ".join(env.get_template(f"{kind}.subject.txt").render(full).split())
    return (
        subject[:300],
        env.get_template(f"{kind}.txt").render(full),
        env.get_template(f"{kind}.html").render(full),
    )


def review_invite(summary: str, on: dt.date, url: str, uid: str) -> str:
    """An all-day iCalendar invite for a review (icalendar does the format's escaping)."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//improve//reviews//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("dtstart", on)
    event.add("dtend", on + dt.timedelta(days=1))
    event.add("dtstamp", dt.datetime.now(dt.UTC))
    event.add("url", url)
    event.add("description", f"Record the review in improve: {url}")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def message(row: dict[str, Any], settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr(("improve", settings.mail_from))
    msg["To"] = row["email"]
    msg["Subject"] = row["subject"]
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.split("@")[-1] or "localhost")
    for name, value in (row.get("headers") or {}).items():
        msg[name] = value
    msg.set_content(row["text_body"])
    msg.add_alternative(row["html_body"], subtype="html")
    if row.get("ics"):
        msg.add_attachment(
            row["ics"].encode(),
            maintype="text",
            subtype="calendar",
            filename="review.ics",
            params={"method": "PUBLISH"},
        )
    return msg


async def send(row: dict[str, Any], settings: Settings | None = None) -> None:
    """Send one outbox row over SMTP (raises on failure; the caller retries later)."""
    settings = settings or get_settings()
    await aiosmtplib.send(
        message(row, settings),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.smtp_timeout_seconds,
    )
