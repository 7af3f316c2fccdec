from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.plans.tables import Action, ActionFinding, ActionNote, OrgPlaybook, Plan

APP_CONFIG = AppConfig(
    app_name="plans",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Plan, Action, ActionFinding, ActionNote, OrgPlaybook],
    migration_dependencies=["improve.cases.piccolo_app"],
    commands=[],
)
