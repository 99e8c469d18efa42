from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create a first sign-in (a superuser) when there is no user yet, and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--credentials-file", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.exists():
            self.stdout.write("Users exist already; no sign-in created.")
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(options["username"], "", password)
        line = f"Sign in as {options['username']} / {password}"
        if options["credentials_file"]:
            # Readable by its owner only, whatever the umask; an older file loses its mode too.
            fd = os.open(options["credentials_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{options['username']}\n{password}\n")
        self.stdout.write(self.style.SUCCESS(line))
