from enum import StrEnum

from piccolo.columns import ForeignKey, Integer, OnDelete, Timestamptz, Varchar
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


class Commissioning(Table, tablename="commissioning"):
    """A commissioner (council or ICB) that buys care from, and monitors, a service."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    commissioner = ForeignKey(
        references=Organisation, on_delete=OnDelete.cascade, index=True, null=False
    )
