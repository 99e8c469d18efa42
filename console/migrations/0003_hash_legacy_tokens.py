"""DRF's one-per-user tokens were stored as plain text in `authtoken_token`. Each becomes a
personal token of full scope stored as its SHA-256 (so the same secret keeps working, and a
database leak no longer hands it out), and the table goes: the console no longer installs DRF's
token app.

Raw SQL, not the app's model: that app is not installed any more, so its model cannot be loaded.
A database made after this change never had the table; then there is nothing to do.
"""

import hashlib
from typing import Any

from django.db import migrations

TABLE = "authtoken_token"
NAME = "token from before personal tokens"


def forwards(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if TABLE not in connection.introspection.table_names(cursor):
            return
        cursor.execute(f"SELECT key, user_id, created FROM {TABLE}")
        rows = cursor.fetchall()
    ApiToken = apps.get_model("console", "ApiToken")
    for key, user_id, created in rows:
        digest = hashlib.sha256(key.encode()).hexdigest()
        token, made = ApiToken.objects.get_or_create(
            key_hash=digest,
            defaults={"user_id": user_id, "name": NAME, "prefix": key[:6], "scope": "full"},
        )
        if made:  # auto_now_add set it to now; the list should say when it was really made
            ApiToken.objects.filter(pk=token.pk).update(created_at=created)
    schema_editor.execute(f"DROP TABLE {TABLE}" + (" CASCADE" if connection.vendor == "postgresql" else ""))
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("console", "0002_api_token_predictor_notify")]

    # No way back: the plain-text secrets are not kept anywhere to restore.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
