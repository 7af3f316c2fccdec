from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.reminders.tables import Notification, Outbox

APP_CONFIG = AppConfig(
    app_name="reminders",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Outbox, Notification],
    migration_dependencies=["improve.reviews.piccolo_app"],
    commands=[],
)
