"""PostgreSQL tells the predictor replicas when a personal API token changes, as it does for
the tables in models_registry's migration 0005 (whose notify function this trigger reuses):
a revoked token stops opening the predictor within a second. On SQLite the predictor polls.

Only the columns the predictor reads fire it: `last_used_at`, written as tokens are used on
the web side, would otherwise make every replica re-read its directory once a minute per token.
"""

from typing import Any

from django.db import migrations

TABLE = "console_apitoken"
COLUMNS = "user_id, key_hash, scope, expires_at, revoked_at"


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {TABLE}")
    schema_editor.execute(
        f"CREATE TRIGGER predictor_notify AFTER INSERT OR UPDATE OF {COLUMNS} OR DELETE OR "
        f"TRUNCATE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION console_predictor_notify()"
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_api_tokens_idempotency"),
        ("models_registry", "0005_serving_notify"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
