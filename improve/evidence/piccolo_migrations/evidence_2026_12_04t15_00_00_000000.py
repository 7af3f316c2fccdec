"""The append-only history gets one narrow exception: withdrawing evidence redacts it.

Until now the triggers on audit_event refused every UPDATE and DELETE, so a resident's
name typed into an evidence note, link or file name and then withdrawn stayed readable
in the history (the activity page, its CSV, the API, the case file). Withdrawal now
replaces those texts in the history's copies with the marker "[withdrawn]".

Why an exception in the trigger rather than keeping evidence texts out of the log (by
reference): the log is read as it was written by the activity page, the CSV, the API,
the case file and, outside the app, by whoever reads the database; a log holding only
references would no longer say what was added without a join to rows that can change,
and every existing row already holds the texts. A redaction the database itself checks
keeps every other guarantee, whatever code (ours, a script, raw SQL) runs the UPDATE:

- DELETE is still refused, always;
- an UPDATE is allowed only on an 'added' event of evidence ('evidence', 'added');
- only its summary and its after may change: id, time, actor, actor's name, service,
  case, entity, entity id, action and before must stay as they were;
- in after, only "text", "url" and "file_name" may change, each only to "[withdrawn]"
  and only where it was already a text; every other key stays as it was;
- the summary may stay or become a beginning of itself followed by "[withdrawn]"
  (a tail cut off, never anything added);
- the evidence row must already be withdrawn, and the log must already hold the
  'withdrawn' event of that evidence (who, when, why and which events it redacted),
  so no redaction happens without its own record.

Anything else raises "the audit log is append-only", as before.

Evidence withdrawn before this migration is redacted by it, under the new rule: for each
such item the log gets an entry (by "improve migrate", saying which entries it redacted)
before its entries are redacted. The code is frozen here, as a migration's must be.
"""

import datetime as dt
import json

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "withdrawn evidence is redacted in the history: the one update it allows"

MARKER = "[withdrawn]"
_FIELDS = ("text", "url", "file_name")


class RawTable(Table):
    pass


def _sqlite_field_rule(field: str) -> str:
    path = f"'$.{field}'"
    return (
        f"(json_extract(NEW.after, {path}) IS json_extract(OLD.after, {path}) "
        f"OR (json_type(OLD.after, {path}) = 'text' "
        f"AND json_type(NEW.after, {path}) = 'text' "
        f"AND json_extract(NEW.after, {path}) = '{MARKER}'))"
    )


_SQLITE_PATHS = ", ".join(f"'$.{f}'" for f in _FIELDS)
SQLITE_REDACTION = f"""
    OLD.entity = 'evidence' AND OLD.action = 'added'
    AND NEW.id IS OLD.id AND NEW."at" IS OLD."at" AND NEW.actor IS OLD.actor
    AND NEW.actor_name IS OLD.actor_name AND NEW.service IS OLD.service
    AND NEW."case" IS OLD."case" AND NEW.entity IS OLD.entity
    AND NEW.entity_id IS OLD.entity_id AND NEW.action IS OLD.action
    AND NEW.before IS OLD.before
    AND (NEW.summary IS OLD.summary
         OR (length(NEW.summary) >= {len(MARKER)}
             AND NEW.summary = substr(OLD.summary, 1, length(NEW.summary) - {len(MARKER)})
                               || '{MARKER}'))
    AND json_remove(NEW.after, {_SQLITE_PATHS}) IS json_remove(OLD.after, {_SQLITE_PATHS})
    AND {" AND ".join(_sqlite_field_rule(f) for f in _FIELDS)}
    AND EXISTS (SELECT 1 FROM evidence e
                WHERE e.id = OLD.entity_id AND e.withdrawn_at IS NOT NULL)
    AND EXISTS (SELECT 1 FROM audit_event w
                WHERE w.entity = 'evidence' AND w.entity_id = OLD.entity_id
                AND w.action = 'withdrawn')
"""

SQLITE_FORWARDS = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    f"WHEN NOT ({SQLITE_REDACTION}) "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
SQLITE_BACKWARDS = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]


def _pg_field_rule(field: str) -> str:
    return (
        f"((NEW.after::jsonb -> '{field}') IS NOT DISTINCT FROM (OLD.after::jsonb -> '{field}') "
        f"OR (jsonb_typeof(OLD.after::jsonb -> '{field}') = 'string' "
        f"AND (NEW.after::jsonb -> '{field}') = to_jsonb('{MARKER}'::text)))"
    )


_PG_KEYS = "ARRAY[" + ", ".join(f"'{f}'" for f in _FIELDS) + "]::text[]"
POSTGRES_FORWARDS = [
    f"""
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.entity = 'evidence' AND OLD.action = 'added'
        AND (NEW.id, NEW."at", NEW.actor, NEW.actor_name, NEW.service, NEW."case",
             NEW.entity, NEW.entity_id, NEW.action, NEW.before::text)
            IS NOT DISTINCT FROM
            (OLD.id, OLD."at", OLD.actor, OLD.actor_name, OLD.service, OLD."case",
             OLD.entity, OLD.entity_id, OLD.action, OLD.before::text)
        AND (NEW.summary IS NOT DISTINCT FROM OLD.summary
             OR (length(NEW.summary) >= {len(MARKER)}
                 AND NEW.summary = left(OLD.summary, length(NEW.summary) - {len(MARKER)})
                                   || '{MARKER}'))
        AND (NEW.after::jsonb - {_PG_KEYS}) IS NOT DISTINCT FROM (OLD.after::jsonb - {_PG_KEYS})
        AND {" AND ".join(_pg_field_rule(f) for f in _FIELDS)}
        AND EXISTS (SELECT 1 FROM evidence e
                    WHERE e.id = OLD.entity_id AND e.withdrawn_at IS NOT NULL)
        AND EXISTS (SELECT 1 FROM audit_event w
                    WHERE w.entity = 'evidence' AND w.entity_id = OLD.entity_id
                    AND w.action = 'withdrawn')
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END; $$ LANGUAGE plpgsql""",
]
# as cases_2026_11_23t16_21_00 made it
POSTGRES_BACKWARDS = [
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql",
]


SUMMARY_MAX = 300


def _summary_without(summary: str, shown: object) -> str:
    """As improve.history._summary_without was written on 2026-12-04."""
    if not isinstance(shown, str) or not shown or shown == MARKER:
        return summary
    cut = None
    if summary.endswith(": " + shown):
        cut = len(summary) - len(shown)
    elif len(summary) >= SUMMARY_MAX:
        cut = next(
            (
                i
                for i in range(2, len(summary))
                if summary[i - 2 : i] == ": " and shown.startswith(summary[i:])
            ),
            None,
        )
    if cut is None and shown in summary:
        cut = summary.index(shown)
    if cut is None:
        return summary
    return summary[:cut][: SUMMARY_MAX - len(MARKER)] + MARKER


def _json(value: object) -> dict:
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return dict(value or {})


async def redact_earlier_withdrawals() -> int:
    """Redact the history of evidence withdrawn before the rule existed. Returns how many
    evidence items it redacted. Safe to run again (nothing left to do the second time)."""
    postgres = RawTable._meta.db.engine_type != "sqlite"
    as_json = "{}::json" if postgres else "{}"
    rows = await RawTable.raw(
        'SELECT a.id, a.service, a."case", a.entity_id, a.summary, a.after '
        "FROM audit_event a JOIN evidence e ON e.id = a.entity_id "
        "WHERE a.entity = 'evidence' AND a.action = 'added' AND e.withdrawn_at IS NOT NULL "
        "ORDER BY a.id"
    )
    todo: dict[int, list[tuple[dict, str, dict]]] = {}
    for row in rows:
        before = _json(row["after"])
        after = dict(before)
        for key in _FIELDS:
            if isinstance(after.get(key), str) and after[key]:
                after[key] = MARKER
        summary = _summary_without(row["summary"], before.get("file_name") or before.get("url"))
        if after != before or summary != row["summary"]:
            todo.setdefault(row["entity_id"], []).append((row, summary, after))
    now = dt.datetime.now(dt.UTC)
    for evidence_id, events in todo.items():
        first = events[0][0]
        await RawTable.raw(
            'INSERT INTO audit_event ("at", actor, actor_name, service, "case", entity, '
            "entity_id, action, summary, before, after) "
            f"VALUES ({{}}, NULL, {{}}, {{}}, {{}}, 'evidence', {{}}, 'redacted', {{}}, NULL, "
            f"{as_json})",
            now,
            "improve migrate",
            first["service"],
            first["case"],
            evidence_id,
            "Evidence withdrawn earlier: its note, link and file name removed from the history",
            json.dumps({"redacted_events": [row["id"] for row, _, _ in events]}),
        )
        for row, summary, after in events:
            await RawTable.raw(
                f"UPDATE audit_event SET summary = {{}}, after = {as_json} WHERE id = {{}}",
                summary,
                json.dumps(after),
                row["id"],
            )
    return len(todo)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="evidence", description=DESCRIPTION)

    def statements(sqlite: list[str], postgres: list[str]) -> list[str]:
        return sqlite if RawTable._meta.db.engine_type == "sqlite" else postgres

    async def run():
        for statement in statements(SQLITE_FORWARDS, POSTGRES_FORWARDS):
            await RawTable.raw(statement)
        await redact_earlier_withdrawals()

    async def back():
        for statement in statements(SQLITE_BACKWARDS, POSTGRES_BACKWARDS):
            await RawTable.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
