from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.reviews.tables import Review

APP_CONFIG = AppConfig(
    app_name="reviews",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Review],
    migration_dependencies=["improve.plans.piccolo_app"],
    commands=[],
)
