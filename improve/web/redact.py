"""Secret links never reach a log line.

The calendar address, the password-reset link and the unsubscribe link carry their key in
the path (improve.reminders.calendar, improve.accounts.resets, improve.reminders.digests),
and a query parameter named like a token or key may carry one too. Anyone who reads the
logs (an operator, a log service, a backup) must not be able to use them. uvicorn's
access log writes every path, and our error lines write the path too, so redaction is
done where every log record is made, whoever makes it: install() wraps the logging
module's record factory once per process (the app does it when it is built).
"""

from __future__ import annotations

import logging
import re
from typing import Any

MARK = "[redacted]"
# the path segment after a secret route, also percent-encoded inside another URL
# (/login?next=%2Fpassword%2Freset%2F...)
_SECRET_PATH = re.compile(
    r"((?:/|%2F)(?:calendar|unsubscribe|password(?:/|%2F)reset)(?:/|%2F))[^\s?&#\"'<>]+",
    re.IGNORECASE,
)
# a query parameter whose name says it holds a key: token=, api_key=, signature=, ...
_SECRET_QUERY = re.compile(
    r"([?&;][\w.-]*(?:token|key|secret|sig|password|passwd|code|auth)[\w.-]*=)[^&;\s#\"']*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the key of every secret link replaced by [redacted]."""
    if "/" in text or "%2" in text:
        text = _SECRET_PATH.sub(rf"\g<1>{MARK}", text)
    if "=" in text:
        text = _SECRET_QUERY.sub(rf"\g<1>{MARK}", text)
    return text


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def install() -> None:
    """Redact the message and arguments of every log record made in this process from now
    on (idempotent). Arguments keep their place and type unless they are text, so
    formatters that read them (uvicorn's access formatter does) still work."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        record.msg = _clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return record

    factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
