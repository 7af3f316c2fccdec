"""CQC's data formats: location records from the public API, and the care directory CSV.

**Location records.** One entry point, pure (no database, no clock, no network), for the
files people upload and for a live feed of CQC's API alike:

    parse_location(record) -> ParsedLocation      # raises RecordRefused

``RecordRefused`` (an ``ImportProblem``: 422 from the API, 400 on a page) carries
``errors``: each refused field's path in the record (``locationId``,
``currentRatings.overall.rating``,
``assessment[0].ratings.asgRatings[1].keyQuestionRatings[2].rating``) mapped to what is
wrong with it; every problem of the record is reported at once. ``parse_locations(data)``
takes one record or a list of them (paths then start with the record's index in the list,
``[2].locationId``).

What is read, under the names CQC's API gives (``/public/v1/locations/{locationId}``):

- older inspections: ``currentRatings.overall`` (``rating``, ``reportDate``,
  ``reportLinkId``, ``keyQuestionRatings[]`` of ``name`` and ``rating``), dated by its
  ``reportDate`` or ``currentRatings.reportDate``; ``historicRatings[]`` (``reportDate``,
  ``overall``);
- ratings per service type in a location offering several:
  ``currentRatings.serviceRatings[]`` and ``historicRatings[].serviceRatings[]`` (``name``,
  ``rating``, ``reportDate`` or their entry's, ``keyQuestionRatings[]``). Every type is
  kept, named as CQC names it, in whatever order they come; the location's own overall
  (usually "Not rated") is kept as CQC shows it;
- assessments under the Single Assessment Framework: ``assessment[]``
  (``assessmentPlanPublishedDateTime``, ``ratings.overall``: a list of ratings, or one;
  ``ratings.asgRatings[]``: one per assessment service group, with ``name``, ``rating``,
  ``status``, ``assessmentDate``, ``keyQuestionRatings[]``). A rating is published on the
  date of ``assessmentPlanPublishedDateTime`` and assessed on ``assessmentDate``. A lone
  assessment service group, with no location-wide rating beside it, is the location's own
  rating; several are ratings per service type, named by their ``name``;
- ``registeredManagerAbsentDate`` (the location has had no registered manager since) and
  ``unpublishedReports[].firstVisitDate`` (inspected, report not yet published).

Ratings are CQC's four (Outstanding, Good, Requires improvement, Inadequate) in any
capitals. The words CQC publishes where a rating is legitimately absent
(``NOT_RATED_WORDS``) read as not rated, as do a missing, null or empty rating. Any other
word, or a value that is not text, is refused wherever it is and whether or not its block
is dated; so is a rating without its publication date, and a date that is not a date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any

from improve.errors import EARLIEST, LATEST, Invalid
from improve.framework import KEY_QUESTIONS
from improve.services import ratings
from improve.services.tables import RatingValue, ServiceType

LOCATION_ID = re.compile(r"^1-\d{5,12}$")

# CQC's names for key questions, in any case or spacing
_KQ_NAMES = {
    "safe": "safe",
    "effective": "effective",
    "caring": "caring",
    "responsive": "responsive",
    "well-led": "well_led",
    "well led": "well_led",
    "wellled": "well_led",
    "well_led": "well_led",
}

# CQC's four ratings, compared in lower case with spaces collapsed ("Requires Improvement"
# and "Requires improvement" are both CQC's spellings)
RATING_WORDS = {
    "outstanding": RatingValue.OUTSTANDING.value,
    "good": RatingValue.GOOD.value,
    "requires improvement": RatingValue.REQUIRES_IMPROVEMENT.value,
    "inadequate": RatingValue.INADEQUATE.value,
}
# The words CQC publishes in a rating's place where there is legitimately none: in its API
# records ("Not rated" where a location is rated per service type; "Inspected but not
# rated", "No published rating", "Insufficient evidence to rate" for key questions and
# older inspections; "No Approved Rating" and "Evidence requirements partially / not yet
# scored" in assessments) and in its downloads ("Not Yet Inspected"). Nothing else is.
NOT_RATED_WORDS = frozenset(
    {
        "not rated",
        "inspected but not rated",
        "no published rating",
        "insufficient evidence to rate",
        "not yet inspected",
        "no approved rating",
        "evidence requirements partially / not yet scored",
    }
)
_RATING_HELP = (
    "(CQC rates Outstanding, Good, Requires improvement or Inadequate, or publishes "
    "Not rated, Inspected but not rated, No published rating, Insufficient evidence to "
    "rate, Not yet inspected, No approved rating)"
)
NO_DATE = "a rating needs its publication date"

# gacServiceTypes names, most specific first
_SERVICE_TYPES = [
    ("nursing homes", ServiceType.CARE_HOME_NURSING),
    ("care home service with nursing", ServiceType.CARE_HOME_NURSING),
    ("residential homes", ServiceType.CARE_HOME),
    ("care home service without nursing", ServiceType.CARE_HOME),
    ("homecare agencies", ServiceType.HOME_CARE),
    ("domiciliary care service", ServiceType.HOME_CARE),
    ("supported living", ServiceType.SUPPORTED_LIVING),
]


class ImportProblem(Invalid):
    """A record or file that cannot be imported; the message names what is wrong."""


class RecordRefused(ImportProblem):
    """A location record refused: ``errors`` maps each bad field's path in the record
    (``currentRatings.overall.rating``) to what is wrong with it."""

    @property
    def paths(self) -> list[str]:
        return list(self.errors)


def check_location_id(value: Any, field_name: str = "cqc_location_id") -> str:
    text = str(value or "").strip()
    if not LOCATION_ID.match(text):
        raise Invalid({field_name: f"'{text}' is not a CQC location id (1- then digits)"})
    return text


@dataclass(frozen=True)
class ParsedLocation:
    """A location as its CQC record describes it: the service's fields and its ratings
    (oldest first; for each date, the location's own before its service types')."""

    location_id: str
    provider_id: str
    provider_name: str
    name: str
    service_type: str
    beds: int | None
    local_authority: str
    registered_manager: str
    address: str
    postcode: str
    ratings: tuple[ratings.RatingIn, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()
    # since when CQC lists no registered manager; the visit of an unpublished report
    manager_absent_since: dt.date | None = None
    unpublished_visit_on: dt.date | None = None
    # the record says both of the above (CQC's API does; the care directory does not, so
    # its import leaves them as they are)
    has_record_status: bool = False

    def service_fields(self) -> dict[str, Any]:
        fields = {
            "name": self.name,
            "service_type": self.service_type,
            "beds": self.beds,
            "local_authority": self.local_authority,
            "cqc_location_id": self.location_id,
            "cqc_provider_id": self.provider_id,
            "registered_manager_name": self.registered_manager,
            "address": self.address,
            "postcode": self.postcode,
        }
        if self.has_record_status:
            fields["cqc_manager_absent_since"] = self.manager_absent_since
            fields["cqc_unpublished_visit_on"] = self.unpublished_visit_on
        return fields


Location = ParsedLocation  # the name the importer and the care directory use


def _date(value: Any) -> dt.date | None:
    """A date of the record, or None when it is missing, not a date, or outside the range
    the app accepts anywhere (improve.errors.EARLIEST to LATEST)."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


# --- reading a record: every problem collected, by its path ----------------------------


class _Reader:
    """Reads one record's ratings, collecting refusals by path."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}
        # (rank, reading order, rating): lower ranks win a (date, service type) shared
        self.found: list[tuple[int, int, ratings.RatingIn]] = []

    def refuse(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def obj(self, value: Any, path: str) -> dict[str, Any] | None:
        if value is None or isinstance(value, dict):
            return value
        self.refuse(path, "must be an object")
        return None

    def items(self, value: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
        """A list's objects with their paths (a non-object item is refused)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.refuse(path, "must be a list")
            return []
        out = []
        for n, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{path}[{n}]", item))
            else:
                self.refuse(f"{path}[{n}]", "must be an object")
        return out

    def date(self, block: dict[str, Any], key: str, path: str) -> dt.date | None:
        """A date (YYYY-MM-DD, or a date-time starting with one); "" and null are none."""
        value = block.get(key)
        if value in (None, ""):
            return None
        text = value.strip() if isinstance(value, str) else ""
        try:
            if len(text) > 10 and text[10] not in "T ":
                raise ValueError
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            self.refuse(f"{path}.{key}" if path else key, f"'{value}' is not a date (YYYY-MM-DD)")
            return None

    def word(self, value: Any, path: str) -> str:
        """A rating value, "" when CQC says there is none; anything else is refused."""
        if value is None:
            return ""
        if not isinstance(value, str):
            self.refuse(path, f"{value!r} is not a CQC rating {_RATING_HELP}")
            return ""
        text = " ".join(value.split()).casefold()
        if not text or text in NOT_RATED_WORDS:
            return ""
        if text in RATING_WORDS:
            return RATING_WORDS[text]
        self.refuse(path, f"'{value}' is not a CQC rating {_RATING_HELP}")
        return ""

    def block(self, block: dict[str, Any], path: str) -> tuple[str, dict[str, str]]:
        """A block's overall rating and its key questions' (the first of each wins)."""
        overall = self.word(block.get("rating"), f"{path}.rating")
        kqs = dict.fromkeys(KEY_QUESTIONS, "")
        for item_path, item in self.items(
            block.get("keyQuestionRatings"), f"{path}.keyQuestionRatings"
        ):
            value = self.word(item.get("rating"), f"{item_path}.rating")
            name = _KQ_NAMES.get(" ".join(str(item.get("name") or "").split()).lower())
            if name is None:
                if value:
                    self.refuse(
                        f"{item_path}.name",
                        f"'{item.get('name')}' is not a key question (Safe, Effective, "
                        "Caring, Responsive, Well-led)",
                    )
                continue
            kqs[name] = kqs[name] or value
        return overall, kqs

    def add(
        self,
        rank: int,
        rated: tuple[str, dict[str, str]],
        published: dt.date | None,
        date_path: str,
        *,
        service_type: str = "",
        link: Any = "",
        assessed: dt.date | None = None,
        keep_unrated: bool = False,
    ) -> bool:
        """Keep a rating (True when it rates anything). A rating with no date is refused;
        an unrated block is kept only when asked (a location's own "Not rated" beside its
        service types' ratings) and dated."""
        overall, kqs = rated
        rates = bool(overall or any(kqs.values()))
        if rates and published is None:
            self.refuse(date_path, NO_DATE)
            return True
        if published is None or not (rates or keep_unrated):
            return rates
        self.found.append(
            (
                rank,
                len(self.found),
                ratings.RatingIn(
                    published_on=published,
                    overall=overall,
                    key_questions=kqs,
                    source="cqc_api",
                    report_link_id=str(link or "")[:80],
                    service_type=service_type,
                    assessed_on=assessed,
                ),
            )
        )
        return rates

    def service_type(self, item: dict[str, Any], path: str) -> str:
        name = " ".join(str(item.get("name") or "").split())[:120]
        if not name:
            self.refuse(f"{path}.name", "names no service type: a rating per service type needs it")
        return name

    def service_ratings(self, value: Any, path: str, fallback: dt.date | None, rank: int) -> bool:
        """Every service type's rating (True when any rates anything)."""
        any_rated = False
        for item_path, item in self.items(value, path):
            rated = self.block(item, item_path)
            if not (rated[0] or any(rated[1].values())):
                continue
            name = self.service_type(item, item_path)
            published = self.date(item, "reportDate", item_path) or fallback
            any_rated |= self.add(
                rank,
                rated,
                published,
                f"{item_path}.reportDate",
                service_type=name,
                link=item.get("reportLinkId"),
            )
        return any_rated

    # the record's three places for ratings

    def current(self, record: dict[str, Any]) -> None:
        current = self.obj(record.get("currentRatings"), "currentRatings")
        if not current:
            return
        overall = self.obj(current.get("overall"), "currentRatings.overall") or {}
        published = self.date(overall, "reportDate", "currentRatings.overall") or self.date(
            current, "reportDate", "currentRatings"
        )
        rated = self.block(overall, "currentRatings.overall")
        types = self.service_ratings(
            current.get("serviceRatings"), "currentRatings.serviceRatings", published, 0
        )
        self.add(
            0,
            rated,
            published,
            "currentRatings.overall.reportDate",
            link=overall.get("reportLinkId"),
            keep_unrated=types,
        )

    def historic(self, record: dict[str, Any]) -> None:
        for path, entry in self.items(record.get("historicRatings"), "historicRatings"):
            overall = self.obj(entry.get("overall"), f"{path}.overall") or {}
            published = self.date(entry, "reportDate", path) or self.date(
                overall, "reportDate", f"{path}.overall"
            )
            rated = self.block(overall, f"{path}.overall")
            types = self.service_ratings(
                entry.get("serviceRatings"), f"{path}.serviceRatings", published, 2
            )
            self.add(
                2,
                rated,
                published,
                f"{path}.reportDate",
                link=entry.get("reportLinkId"),
                keep_unrated=types,
            )

    def assessments(self, record: dict[str, Any]) -> None:
        for path, entry in self.items(record.get("assessment"), "assessment"):
            published = self.date(entry, "assessmentPlanPublishedDateTime", path)
            date_path = f"{path}.assessmentPlanPublishedDateTime"
            assessed = self.date(entry, "assessmentDate", path)
            found = self.obj(entry.get("ratings"), f"{path}.ratings") or {}
            overall = found.get("overall")
            if isinstance(overall, dict):
                wide = [(f"{path}.ratings.overall", overall)]
            elif overall is None or isinstance(overall, list):
                wide = self.items(overall, f"{path}.ratings.overall")
            else:
                self.refuse(f"{path}.ratings.overall", "must be a list or an object")
                wide = []
            groups = [
                (p, item, self.block(item, p))
                for p, item in self.items(found.get("asgRatings"), f"{path}.ratings.asgRatings")
            ]
            wide_rated = False
            for p, item in wide:
                rated = self.block(item, p)
                wide_rated |= bool(rated[0] or any(rated[1].values()))
                self.add(
                    _status_rank(item),
                    rated,
                    published,
                    date_path,
                    assessed=self.date(item, "assessmentDate", p) or assessed,
                )
            rated_groups = [g for g in groups if g[2][0] or any(g[2][1].values())]
            names = {" ".join(str(g[1].get("name") or "").split()) for g in rated_groups}
            # one assessment service group and no location-wide rating: the location's own
            per_type = wide_rated or len(names) > 1
            for p, item, rated in rated_groups:
                self.add(
                    _status_rank(item),
                    rated,
                    published,
                    date_path,
                    service_type=self.service_type(item, p) if per_type else "",
                    assessed=self.date(item, "assessmentDate", p) or assessed,
                )

    def kept(self) -> list[ratings.RatingIn]:
        """One rating per date and service type: the current rating before an
        assessment's historic one, both before the history's."""
        unique: dict[tuple[dt.date, str], ratings.RatingIn] = {}
        for _, _, r in sorted(self.found, key=lambda f: (f[0], f[1])):
            unique.setdefault((r.published_on, r.service_type), r)
        return sorted(unique.values(), key=lambda r: (r.published_on, r.service_type))


def _status_rank(item: dict[str, Any]) -> int:
    return 1 if str(item.get("status") or "").strip().lower() == "historic" else 0


def _type_of(text: str) -> str:
    text = text.lower()
    for needle, kind in _SERVICE_TYPES:
        if needle in text:
            return kind.value
    return ""


def _service_type(record: dict[str, Any]) -> str:
    for item in record.get("gacServiceTypes") or []:
        if not isinstance(item, dict):
            continue
        for key in ("name", "description"):
            kind = _type_of(str(item.get(key, "")))
            if kind:
                return kind
    if str(record.get("careHome", "")).upper() == "Y":
        return ServiceType.CARE_HOME.value
    return ServiceType.HOME_CARE.value


def _manager(record: dict[str, Any]) -> str:
    for activity in record.get("regulatedActivities") or []:
        if not isinstance(activity, dict):
            continue
        for contact in activity.get("contacts") or []:
            if isinstance(contact, dict) and "Registered Manager" in (
                contact.get("personRoles") or []
            ):
                parts = [contact.get("personGivenName"), contact.get("personFamilyName")]
                return " ".join(str(p) for p in parts if p)
    return ""


def _notes(found: list[ratings.RatingIn]) -> list[str]:
    if not found:
        return ["the record holds no published rating: nothing to add"]
    types = sorted({r.service_type for r in found if r.service_type})
    if types:
        return [f"rated per service type, each kept: {', '.join(types)}"]
    return []


def parse_location(record: Any) -> ParsedLocation:
    """One location record as CQC's API returns it, or ``RecordRefused`` naming every
    refused field by its path in the record."""
    if not isinstance(record, dict):
        raise RecordRefused({"record": "is not a JSON object (a CQC location record)"})
    reader = _Reader()
    for name in ("locationId", "name", "providerId"):
        if record.get(name) in (None, ""):
            reader.refuse(name, "is missing")
        elif not isinstance(record[name], str):
            reader.refuse(name, "must be text")
    location = str(record.get("locationId") or "").strip()
    if "locationId" not in reader.errors and not LOCATION_ID.match(location):
        reader.refuse("locationId", f"'{location}' is not a CQC location id (1- then digits)")
    reader.current(record)
    reader.assessments(record)
    reader.historic(record)
    absent = reader.date(record, "registeredManagerAbsentDate", "")
    visits = [
        reader.date(item, "firstVisitDate", path)
        for path, item in reader.items(record.get("unpublishedReports"), "unpublishedReports")
    ]
    if reader.errors:
        raise RecordRefused(reader.errors)
    found = reader.kept()
    notes = _notes(found)
    if None in visits:
        notes.append("an unpublished report with no visit date is not shown")
    service_type = _service_type(record)
    beds = record.get("numberOfBeds")
    address = ", ".join(
        str(record[k])
        for k in ("postalAddressLine1", "postalAddressLine2", "postalAddressTownCity")
        if record.get(k)
    )
    return ParsedLocation(
        location_id=location,
        provider_id=str(record["providerId"]).strip(),
        provider_name=str(record.get("providerName") or ""),
        name=" ".join(str(record["name"]).split())[:200],
        service_type=service_type,
        beds=int(beds)
        if isinstance(beds, int | float)
        and beds > 0
        and service_type in (ServiceType.CARE_HOME, ServiceType.CARE_HOME_NURSING)
        else None,
        local_authority=str(record.get("localAuthority") or "")[:120],
        registered_manager=_manager(record),
        address=address[:300],
        postcode=str(record.get("postalCode") or "")[:10],
        ratings=tuple(found),
        notes=tuple(notes),
        manager_absent_since=absent,
        unpublished_visit_on=max((v for v in visits if v), default=None),
        has_record_status=True,
    )


def parse_locations(data: Any) -> list[ParsedLocation]:
    """One record or a list of records. Every problem in every record is reported, a
    list's by the record's index (``[2].currentRatings.overall.rating``)."""
    if not isinstance(data, list):
        return [parse_location(data)]
    if not data:
        raise ImportProblem({"file": "holds no records"})
    locations, problems = [], {}
    for n, record in enumerate(data):
        try:
            locations.append(parse_location(record))
        except RecordRefused as exc:
            for path, message in exc.errors.items():
                problems[f"[{n}]" if path == "record" else f"[{n}].{path}"] = message
    if problems:
        raise RecordRefused(problems)
    return locations


# --- the care directory CSV ------------------------------------------------------------

_DIRECTORY_REQUIRED = ("Location ID", "Location Name", "Provider ID", "Provider Name")


@dataclass(frozen=True)
class DirectoryRow:
    line: int
    location: Location


def parse_directory(text: str) -> list[DirectoryRow]:
    """CQC's monthly care directory: one row per active location."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip() for h in reader.fieldnames or []]
    absent = [h for h in _DIRECTORY_REQUIRED if h not in headers]
    if absent:
        raise ImportProblem({"file": "not a CQC care directory: no column " + ", ".join(absent)})
    rows, problems = [], {}
    for line, raw in enumerate(reader, 2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        try:
            rows.append(DirectoryRow(line, _directory_location(row)))
        except Invalid as exc:
            problems[f"line {line}"] = "; ".join(f"{k} {v}" for k, v in exc.errors.items())
    if problems:
        raise ImportProblem(problems)
    return rows


def _directory_location(row: dict[str, str]) -> Location:
    missing = [h for h in _DIRECTORY_REQUIRED if not row.get(h)]
    if missing:
        raise Invalid({"missing": ", ".join(missing)})
    location = check_location_id(row["Location ID"], "Location ID")
    care_home = row.get("Care home?", "").upper() == "Y"
    kind = ServiceType.CARE_HOME.value if care_home else ServiceType.HOME_CARE.value
    for header, value in row.items():
        if value.upper() == "Y" and header.lower().startswith("service type"):
            found = _type_of(header)
            if found:
                kind = found
                break
    overall = ratings.normalise(row.get("Location Latest Overall Rating"), "overall rating")
    published = _date(row.get("Publication Date"))
    if published is None and row.get("Publication Date"):
        for fmt in ("%d/%m/%Y", "%d-%b-%y", "%d %B %Y"):
            try:
                published = dt.datetime.strptime(row["Publication Date"], fmt).date()
                break
            except ValueError:
                continue
        if published is not None and not EARLIEST <= published <= LATEST:
            published = None
    found = ()
    if overall and published:
        found = (
            ratings.RatingIn(published, overall, dict.fromkeys(KEY_QUESTIONS, ""), "cqc_directory"),
        )
    beds_text = row.get("Care homes beds", "")
    return Location(
        location_id=location,
        provider_id=row["Provider ID"],
        provider_name=row["Provider Name"],
        name=row["Location Name"][:200],
        service_type=kind,
        beds=int(beds_text) if beds_text.isdigit() and care_home else None,
        local_authority=row.get("Location Local Authority", "")[:120],
        registered_manager=row.get("Registered manager", "")[:200],
        address="",
        postcode="",
        ratings=found,
    )
