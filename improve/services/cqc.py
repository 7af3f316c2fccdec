"""CQC's data formats: location records from the public API, and the care directory CSV.

Parsing is pure (no database): a record becomes a `Location` with its ratings, or an
`ImportProblem` naming the record and what is missing. Real records vary: rating
spellings differ, newer assessments carry ratings only under
`assessment[].ratings.asgRatings`, multi-service locations are "Not rated" overall with
ratings per service, and fields are often missing.
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
from improve.services.tables import ServiceType

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


def check_location_id(value: Any, field_name: str = "cqc_location_id") -> str:
    text = str(value or "").strip()
    if not LOCATION_ID.match(text):
        raise Invalid({field_name: f"'{text}' is not a CQC location id (1- then digits)"})
    return text


@dataclass(frozen=True)
class Location:
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

    def service_fields(self) -> dict[str, Any]:
        return {
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


def _first(record: dict[str, Any], *names: str) -> Any:
    for name in names:
        if record.get(name) not in (None, ""):
            return record[name]
    return None


def _key_questions(items: Any, where: str) -> dict[str, str]:
    found = dict.fromkeys(KEY_QUESTIONS, "")
    for item in items or []:
        if not isinstance(item, dict):
            continue
        name = _KQ_NAMES.get(str(item.get("name", "")).strip().lower())
        if name:
            found[name] = ratings.normalise(item.get("rating"), f"{where} {item.get('name')}")
    return found


def _rating(
    overall_block: dict[str, Any], date: dt.date | None, where: str, source: str, link: str = ""
) -> ratings.RatingIn | None:
    if date is None:
        return None
    overall = ratings.normalise(overall_block.get("rating"), f"{where} overall rating")
    kqs = _key_questions(overall_block.get("keyQuestionRatings"), where)
    if not overall and not any(kqs.values()):
        return None
    return ratings.RatingIn(
        published_on=date, overall=overall, key_questions=kqs, source=source, report_link_id=link
    )


def _ratings(record: dict[str, Any], service_type: str) -> tuple[list[ratings.RatingIn], list]:
    found: list[ratings.RatingIn] = []
    notes: list[str] = []
    current = record.get("currentRatings") or {}
    overall = current.get("overall") or {}
    date = _date(_first(overall, "reportDate") or current.get("reportDate"))
    rating = _rating(
        overall, date, "currentRatings", "cqc_api", str(overall.get("reportLinkId") or "")
    )
    if rating is None and current.get("serviceRatings"):
        rating = _service_rating(current["serviceRatings"], service_type, date)
        if rating:
            notes.append("Not rated overall: the rating of the matching service was used.")
    if rating:
        found.append(rating)
    for n, old in enumerate(record.get("historicRatings") or [], 1):
        block = old.get("overall") or {}
        rating = _rating(
            block,
            _date(_first(old, "reportDate") or block.get("reportDate")),
            f"historicRatings[{n}]",
            "cqc_api",
        )
        if rating:
            found.append(rating)
    for n, assessment in enumerate(record.get("assessment") or [], 1):
        for m, asg in enumerate((assessment.get("ratings") or {}).get("asgRatings") or [], 1):
            date = _date(
                _first(asg, "publicationDate", "reportDate", "date")
                or _first(assessment, "publicationDate", "assessmentDate", "reportDate", "date")
            )
            block = asg.get("overall") if isinstance(asg.get("overall"), dict) else asg
            rating = _rating(block, date, f"assessment[{n}].asgRatings[{m}]", "cqc_api")
            if rating:
                found.append(rating)
    # one per publication date, the first seen wins (current before historic)
    unique: dict[dt.date, ratings.RatingIn] = {}
    for r in found:
        unique.setdefault(r.published_on, r)
    return sorted(unique.values(), key=lambda r: r.published_on), notes


def _service_rating(
    items: list[dict[str, Any]], service_type: str, fallback: dt.date | None
) -> ratings.RatingIn | None:
    best = None
    for item in items:
        name = str(item.get("name", "")).lower()
        rating = _rating(
            item,
            _date(item.get("reportDate")) or fallback,
            f"serviceRatings '{item.get('name')}'",
            "cqc_api",
        )
        if rating is None:
            continue
        if best is None or _type_of(name) == service_type:
            best = rating
    return best


def _type_of(text: str) -> str:
    text = text.lower()
    for needle, kind in _SERVICE_TYPES:
        if needle in text:
            return kind.value
    return ""


def _service_type(record: dict[str, Any]) -> str:
    for item in record.get("gacServiceTypes") or []:
        for key in ("name", "description"):
            kind = _type_of(str(item.get(key, "")))
            if kind:
                return kind
    if str(record.get("careHome", "")).upper() == "Y":
        return ServiceType.CARE_HOME.value
    return ServiceType.HOME_CARE.value


def _manager(record: dict[str, Any]) -> str:
    for activity in record.get("regulatedActivities") or []:
        for contact in activity.get("contacts") or []:
            if "Registered Manager" in (contact.get("personRoles") or []):
                parts = [contact.get("personGivenName"), contact.get("personFamilyName")]
                return " ".join(p for p in parts if p)
    return ""


def parse_location(record: Any, where: str = "record") -> Location:
    """One location record as the CQC API returns it."""
    if not isinstance(record, dict):
        raise ImportProblem({where: "is not a JSON object (a CQC location record)"})
    missing = [name for name in ("locationId", "name", "providerId") if not record.get(name)]
    location = str(record.get("locationId") or "").strip()
    if location:
        where = f"location {location}"
    if missing:
        raise ImportProblem({where: "missing " + ", ".join(missing)})
    try:
        check_location_id(location, "locationId")
    except Invalid as exc:
        raise ImportProblem({where: exc.errors["locationId"]}) from None
    service_type = _service_type(record)
    try:
        found, notes = _ratings(record, service_type)
    except Invalid as exc:
        raise ImportProblem(
            {where: "; ".join(f"{k}: {v}" for k, v in exc.errors.items())}
        ) from None
    beds = record.get("numberOfBeds")
    address = ", ".join(
        str(record[k])
        for k in ("postalAddressLine1", "postalAddressLine2", "postalAddressTownCity")
        if record.get(k)
    )
    return Location(
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
    )


def parse_locations(data: Any) -> list[Location]:
    """One record or a list of records. Every problem in every record is reported."""
    records = data if isinstance(data, list) else [data]
    if not records:
        raise ImportProblem({"file": "holds no records"})
    locations, problems = [], {}
    for n, record in enumerate(records, 1):
        try:
            locations.append(parse_location(record, f"record {n}"))
        except ImportProblem as exc:
            problems.update(exc.errors)
    if problems:
        raise ImportProblem(problems)
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
