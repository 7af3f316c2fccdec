from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.measures.tables import (
    MeasureDefinition,
    MeasureSummary,
    MeasureUpload,
    MeasureValue,
)

APP_CONFIG = AppConfig(
    app_name="measures",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[MeasureDefinition, MeasureUpload, MeasureValue, MeasureSummary],
    migration_dependencies=["improve.services.piccolo_app"],
    commands=[],
)
