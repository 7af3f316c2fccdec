"""Piccolo's configuration: the engine and the apps whose migrations run.

Found by Piccolo through PICCOLO_CONF=improve.piccolo_conf (set in improve/__init__).
It must not import the Litestar app (circular import).
"""

from piccolo.conf.apps import AppRegistry

from improve.db import make_engine
from improve.settings import get_settings

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(
    apps=[
        "improve.accounts.piccolo_app",
        "improve.services.piccolo_app",
        "improve.cases.piccolo_app",
        "improve.plans.piccolo_app",
        "improve.evidence.piccolo_app",
        "improve.reviews.piccolo_app",
        "improve.reminders.piccolo_app",
        "improve.measures.piccolo_app",
        "improve.assessments.piccolo_app",
        "improve.monitoring.piccolo_app",
    ]
)
