from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.assessments.tables import SelfAssessment, StatementScore

APP_CONFIG = AppConfig(
    app_name="assessments",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[SelfAssessment, StatementScore],
    migration_dependencies=["improve.cases.piccolo_app"],
    commands=[],
)
