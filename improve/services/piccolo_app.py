from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.services.tables import Commissioning, Enforcement, Rating, Service

APP_CONFIG = AppConfig(
    app_name="services",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Service, Commissioning, Rating, Enforcement],
    migration_dependencies=["improve.accounts.piccolo_app"],
    commands=[],
)
