"""Every read sees every write committed before it began (read-your-writes), on both
engines, while other reads are in flight; and a kept view is never stored from data
older than the stamp it is kept under."""

from __future__ import annotations

import asyncio

from improve import db, snapshots
from improve.accounts.tables import OrgKind
from improve.db import write_tx
from improve.services.tables import Service

# A read that is in flight for a while (it sorts many rows before its first one, then
# hands them over): other reads start while it runs, as they do under load.
SLOW_READ = (
    "SELECT x FROM (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
    " WHERE x < 20000) SELECT x FROM n) AS walked ORDER BY x DESC"
)


async def _busy_reader(stop: asyncio.Event) -> int:
    rounds = 0
    while not stop.is_set():
        await db.engine().run_ddl(SLOW_READ)
        rounds += 1
    return rounds


async def test_a_read_after_a_commit_sees_it_while_other_reads_are_in_flight(world):
    provider = await world.org(OrgKind.PROVIDER)
    homes = [await world.service(provider) for _ in range(8)]
    stale: list[tuple[int, int]] = []

    async def write_then_read(home: dict, rounds: int) -> None:
        for n in range(rounds):
            async with write_tx():
                await Service.update({Service.beds: n}).where(Service.id == home["id"])
            # the write has committed: a read that starts now must see it
            row = await Service.select(Service.beds).where(Service.id == home["id"]).first()
            if row["beds"] != n:
                stale.append((n, row["beds"]))

    stop = asyncio.Event()
    readers = [asyncio.create_task(_busy_reader(stop)) for _ in range(4)]
    try:
        await asyncio.gather(*(write_then_read(home, 40) for home in homes))
    finally:
        stop.set()
        rounds = await asyncio.gather(*readers)
    assert sum(rounds) > 0  # the other reads really were in flight
    assert stale == [], f"{len(stale)} of 320 reads missed the write just committed"


async def test_a_view_is_never_kept_under_a_stamp_newer_than_its_data(world):
    """A view computed from data read before a commit must not be served under the stamp
    that commit made: whoever reads the stamp first keeps under the older one."""
    provider = await world.org(OrgKind.PROVIDER)
    home = await world.service(provider)
    snapshots.VIEWS.clear()
    key = ("beds-of", home["id"])

    async def beds() -> int:
        row = await Service.select(Service.beds).where(Service.id == home["id"]).first()
        return row["beds"]

    stop = asyncio.Event()
    readers = [asyncio.create_task(_busy_reader(stop)) for _ in range(4)]
    wrong: list[tuple[int, int]] = []
    try:
        for n in range(1, 40):
            async with write_tx():
                await Service.update({Service.beds: n}).where(Service.id == home["id"])
            seen = await snapshots.kept(key, beds)
            if seen != n:
                wrong.append((n, seen))
    finally:
        stop.set()
        await asyncio.gather(*readers)
        snapshots.VIEWS.clear()
    assert wrong == []


def test_a_view_from_an_older_stamp_never_displaces_the_newer_ones():
    """A slow request that read the stamp before a commit finishes last: what it computed
    is not kept, and the views of the newer stamp stay."""
    views = snapshots.Views()
    views.put(("e", 5), "case-1", "new", budget=10_000)
    views.put(("e", 4), "case-2", "old", budget=10_000)
    assert views.get(("e", 5), "case-1") == "new"
    assert views.get(("e", 4), "case-2") is None
    assert views.get(("e", 5), "case-2") is None
    views.put(("other", 1), "case-3", "restored", budget=10_000)  # another epoch: a restore
    assert views.get(("e", 5), "case-1") is None
    assert views.get(("other", 1), "case-3") == "restored"
