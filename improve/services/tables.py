from enum import StrEnum

from piccolo.columns import Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from improve.accounts.tables import Organisation, User


class ServiceType(StrEnum):
    CARE_HOME = "care_home"
    CARE_HOME_NURSING = "care_home_nursing"
    HOME_CARE = "home_care"
    SUPPORTED_LIVING = "supported_living"


SERVICE_TYPE_LABELS = {
    ServiceType.CARE_HOME: "Care home",
    ServiceType.CARE_HOME_NURSING: "Care home with nursing",
    ServiceType.HOME_CARE: "Home care",
    ServiceType.SUPPORTED_LIVING: "Supported living",
}


class Service(Table, tablename="service"):
    """A CQC-registered location: a care home or a home-care agency office."""

    name = Varchar(length=200)
    provider = ForeignKey(
        references=Organisation, on_delete=OnDelete.restrict, index=True, null=False
    )
    service_type = Varchar(length=30, choices=ServiceType, default=ServiceType.CARE_HOME)
    local_authority = Varchar(length=120, default="")
    beds = Integer(null=True, default=None)
    # the registered manager's login; indexed because managers' scope filters on it
    manager = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, index=True)
    created_at = Timestamptz()
    # CQC's location id ("1-" and digits); unique through a raw index (SQLite cannot add a
    # UNIQUE column), null for services not yet matched to a CQC record
    cqc_location_id = Varchar(length=20, null=True, default=None)
    cqc_provider_id = Varchar(length=20, default="")
    # the registered manager's name as CQC lists it (who may not have a login)
    registered_manager_name = Varchar(length=200, default="")
    address = Varchar(length=300, default="")
    postcode = Varchar(length=10, default="")
    # what CQC's record says (improve.services.cqc), null when it says nothing: since when
    # the location has had no registered manager (registeredManagerAbsentDate), and the
    # visit of an inspection whose report is not yet published (unpublishedReports)
    cqc_manager_absent_since = Date(null=True, default=None)
    cqc_unpublished_visit_on = Date(null=True, default=None)


class RatingValue(StrEnum):
    OUTSTANDING = "outstanding"
    GOOD = "good"
    REQUIRES_IMPROVEMENT = "requires_improvement"
    INADEQUATE = "inadequate"


RATING_LABELS = {
    RatingValue.OUTSTANDING: "Outstanding",
    RatingValue.GOOD: "Good",
    RatingValue.REQUIRES_IMPROVEMENT: "Requires improvement",
    RatingValue.INADEQUATE: "Inadequate",
    "": "Not rated",
}


class Rating(Table, tablename="rating"):
    """A published CQC rating of a service: overall and the five key questions.

    A key question is "" when it was not rated. ``service_type`` is "" for the location's
    own rating, or the service type CQC rated on its own in a location that offers
    several (its name as CQC gives it, e.g. "Residential homes"). One rating per service,
    date and service type (a raw unique index), so importing the same record twice
    changes nothing.
    """

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    published_on = Date()
    overall = Varchar(length=30, default="")
    safe = Varchar(length=30, default="")
    effective = Varchar(length=30, default="")
    caring = Varchar(length=30, default="")
    responsive = Varchar(length=30, default="")
    well_led = Varchar(length=30, default="")
    source = Varchar(length=20, default="manual")  # manual, cqc_api, cqc_directory
    report_link_id = Varchar(length=80, default="")
    created_at = Timestamptz()
    service_type = Varchar(length=120, default="")
    # when CQC assessed (a Single Assessment Framework assessment's assessmentDate)
    assessed_on = Date(null=True, default=None)


class EnforcementKind(StrEnum):
    SPECIAL_MEASURES = "special_measures"
    WARNING_NOTICE = "warning_notice"
    REQUIREMENT_NOTICE = "requirement_notice"
    CONDITION = "condition"
    NOTICE_OF_PROPOSAL = "notice_of_proposal"
    NOTICE_OF_DECISION = "notice_of_decision"
    URGENT_PROCEDURE = "urgent_procedure"
    PROSECUTION = "prosecution"


ENFORCEMENT_LABELS = {
    EnforcementKind.SPECIAL_MEASURES: "Special measures",
    EnforcementKind.WARNING_NOTICE: "Warning notice",
    EnforcementKind.REQUIREMENT_NOTICE: "Requirement notice",
    EnforcementKind.CONDITION: "Condition on registration",
    EnforcementKind.NOTICE_OF_PROPOSAL: "Notice of proposal",
    EnforcementKind.NOTICE_OF_DECISION: "Notice of decision",
    EnforcementKind.URGENT_PROCEDURE: "Urgent procedure",
    EnforcementKind.PROSECUTION: "Prosecution",
}


class Enforcement(Table, tablename="enforcement"):
    """Enforcement that came with a rating: notices, conditions, special measures."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    rating = ForeignKey(references=Rating, on_delete=OnDelete.set_null, null=True, default=None)
    kind = Varchar(length=30, choices=EnforcementKind)
    regulation = Varchar(length=4, default="")
    description = Text(default="")
    issued_on = Date(null=True, default=None)
    # the date by which to comply (warning notices); countdowns run to it
    compliance_due_on = Date(null=True, default=None)
    created_at = Timestamptz()


class Commissioning(Table, tablename="commissioning"):
    """A commissioner (council or ICB) that buys care from, and monitors, a service."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    commissioner = ForeignKey(
        references=Organisation, on_delete=OnDelete.cascade, index=True, null=False
    )
