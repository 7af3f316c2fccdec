from pathlib import Path

from piccolo.conf.apps import AppConfig

from improve.accounts.tables import (
    ApiToken,
    LoginAddress,
    LoginThrottle,
    Organisation,
    User,
    UserSession,
)

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Organisation, User, UserSession, ApiToken, LoginThrottle, LoginAddress],
    migration_dependencies=[],
    commands=[],
)
