"""Deployment keys remember when they were last used (written by the predictor's traffic
writer, at most once a minute per key). The predictor's NOTIFY trigger on the table (0005)
then fires only on the columns the predictor reads, as console's 0002 does for personal
tokens: `last_used_at` would otherwise make every replica re-read its directory once a
minute per key in use."""

from typing import Any

from django.db import migrations, models

TABLE = "models_registry_deploymentkey"
COLUMNS = "deployment_id, key_sha256, rate_limit_per_minute, expires_at, revoked_at"


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {TABLE}")
    schema_editor.execute(
        f"CREATE TRIGGER predictor_notify AFTER INSERT OR UPDATE OF {COLUMNS} OR DELETE OR "
        f"TRUNCATE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION console_predictor_notify()"
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {TABLE}")
    schema_editor.execute(
        f"CREATE TRIGGER predictor_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION console_predictor_notify()"
    )


class Migration(migrations.Migration):
    dependencies = [("models_registry", "0012_predictor_notify_sharing")]

    operations = [
        migrations.AddField(
            model_name="deploymentkey",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(forwards, backwards),
    ]
