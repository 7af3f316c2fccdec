"""Send pending emails from the outbox (see improve/reminders/outbox.py for the claims)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from improve import clock
from improve.reminders import outbox


async def deliver(now: dt.datetime | None = None) -> dict[str, Any]:
    with clock.frozen(now or clock.now()):
        return await outbox.deliver()
