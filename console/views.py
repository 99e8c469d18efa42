from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from console.vite import entry_assets


@login_required
@ensure_csrf_cookie
def app_shell(request: HttpRequest) -> HttpResponse:
    assets = entry_assets()
    status = 200 if assets else 503
    return render(request, "console/app.html", {"assets": assets}, status=status)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
