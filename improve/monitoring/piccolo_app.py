from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.monitoring.tables import MonitoringLevel, MonitoringStatus, MonitoringVisit

APP_CONFIG = AppConfig(
    app_name="monitoring",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[MonitoringLevel, MonitoringStatus, MonitoringVisit],
    migration_dependencies=["improve.cases.piccolo_app"],
    commands=[],
)
