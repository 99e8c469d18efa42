"""The predictor lets a workspace's members predict on their teammates' deployments
(models_registry.predictor.directory.Snapshot.shared), so it must hear when who shares what
changes: a membership, or a model's workspace or owner. The same statement trigger as 0005
(`NOTIFY predictor`), on those tables; on SQLite the predictor polls.
"""

from typing import Any

from django.db import migrations

TRIGGERS = {
    "models_registry_membership": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    # Not on every update: models are edited (description, tags) far more than shared.
    "models_registry_registeredmodel": "UPDATE OF workspace_id, owner_id OR DELETE OR TRUNCATE",
}


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, events in TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER predictor_notify AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION console_predictor_notify()"
        )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS predictor_notify ON {table}")


class Migration(migrations.Migration):
    dependencies = [("models_registry", "0011_deployment_unloaded")]

    operations = [migrations.RunPython(forwards, backwards)]
