"""PostgreSQL tells the predictor replicas when what they serve or whom they let in changes.

A statement trigger on each table the predictor caches sends `NOTIFY predictor`; every replica
LISTENs and refreshes within a second, whichever process or query made the change (a
queryset update, the admin, a shell). On SQLite (the embedded mode) the predictor polls.
"""

from typing import Any

from django.db import migrations

# DRF's token table was here too, until its tokens moved to console_apitoken as hashes
# (console's migration 0003, which drops that table and its trigger with it).
TABLES = ("models_registry_deployment", "models_registry_deploymentkey", "auth_user")

FUNCTION = """
CREATE OR REPLACE FUNCTION console_predictor_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('predictor', TG_TABLE_NAME);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER predictor_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION console_predictor_notify()"
        )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS console_predictor_notify()")


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0004_serving_keys_and_loading"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
