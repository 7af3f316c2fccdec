from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.cases.tables import AuditEvent, Case, Finding

APP_CONFIG = AppConfig(
    app_name="cases",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Case, Finding, AuditEvent],
    migration_dependencies=["improve.services.piccolo_app"],
    commands=[],
)
