"""The Litestar application: both faces (pages and /api/v1) over one domain."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from improve import __version__, db, framework, health
from improve.accounts import routes as account_routes
from improve.admin.routes import router as admin_router
from improve.api.reference import ReferencePage
from improve.api.routes import router as api_router
from improve.assessments import routes as assessment_routes
from improve.cases import routes as case_routes
from improve.evidence import routes as evidence_routes
from improve.measures import routes as measure_routes
from improve.monitoring import routes as monitoring_routes
from improve.paths import STATIC_DIR
from improve.plans import routes as plan_routes
from improve.portfolio import routes as portfolio_routes
from improve.reminders import routes as reminder_routes
from improve.reviews import routes as review_routes
from improve.services import routes as service_routes
from improve.settings import Settings, get_settings, use
from improve.web import redact, templating
from improve.web.auth import CSRF_COOKIE, AuthMiddleware, current_viewer
from improve.web.bodies import AppRequest
from improve.web.errors import HANDLERS
from improve.web.headers import add_security_headers


def _lifespan(settings: Settings):
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.prepare(settings.db_pool_size)
        scheduler = None
        if settings.scheduler:
            from jobs import build_scheduler

            scheduler = build_scheduler()
            scheduler.start()
            app.state.scheduler = scheduler
        # Everything loaded so far (modules, the app, its routes) lives as long as the
        # process: keep it out of the garbage collector's full collections, which walked
        # it all and stopped every request for about 100 ms each time (the benchmark's p95).
        gc.freeze()
        try:
            yield
        finally:
            if scheduler is not None:
                from jobs import stop as stop_jobs

                await stop_jobs(scheduler)
            await db.release()

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app. Settings are checked first: a bad configuration never serves."""
    settings = use((settings or get_settings()).check())
    redact.install()  # secret links never reach a log line, uvicorn's access log included
    framework.frameworks()  # load and validate the framework files now: fail at start-up
    return Litestar(
        route_handlers=[
            *health.ROUTES,
            *account_routes.ROUTES,
            *service_routes.ROUTES,
            *case_routes.ROUTES,
            *plan_routes.ROUTES,
            *evidence_routes.PAGE_ROUTES,
            *review_routes.PAGE_ROUTES,
            *reminder_routes.PAGE_ROUTES,
            *measure_routes.PAGE_ROUTES,
            *assessment_routes.PAGE_ROUTES,
            *monitoring_routes.PAGE_ROUTES,
            *portfolio_routes.PAGE_ROUTES,
            admin_router,
            api_router,
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                name="static",
                include_in_schema=False,
                cache_control=None,
            ),
        ],
        dependencies={"viewer": Provide(current_viewer, sync_to_thread=False)},
        middleware=[AuthMiddleware(), db.read_connection_middleware],
        request_class=AppRequest,  # JSON nested too deeply answers 400, not 500
        # the largest body any form accepts (evidence, or the admin's 20 MB CQC import) plus
        # room for the form's own fields; each handler still checks its own limit
        request_max_body_size=(max(settings.upload_max_mb, 20) + 1) * 1024 * 1024,
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name=CSRF_COOKIE,
            header_name="x-csrftoken",
            cookie_secure=settings.secure_cookies,
            cookie_samesite="lax",
            # the API authenticates with Bearer tokens only, never cookies
            # one-click unsubscribe from an email carries a signed token instead
            exclude=[r"^/api/", r"^/unsubscribe/"],
        ),
        template_config=TemplateConfig(instance=templating.engine()),
        exception_handlers=HANDLERS,
        before_send=[add_security_headers],
        lifespan=[_lifespan(settings)],
        openapi_config=OpenAPIConfig(
            title="improve API",
            version=__version__,
            description="Cases, plans and progress of care services recovering from an "
            "Inadequate CQC rating. Authenticate with a personal API token from your "
            "profile page, sent as Authorization: Bearer imp_…; it sees what you see.",
            path="/schema",
            # our own server-rendered reference, not a CDN viewer (improve.api.reference)
            render_plugins=[ReferencePage(), JsonRenderPlugin(path="/openapi.json")],
            components=Components(
                security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer")}
            ),
        ),
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]},
            log_exceptions="debug",
            disable_existing_loggers=False,
        ),
        debug=False,
    )


def app_factory() -> Litestar:
    """For uvicorn --factory (several workers each build their own app)."""
    logging.captureWarnings(True)
    return create_app()
