from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.csrf import ensure_csrf_cookie

from console.vite import entry_assets

# The single-page app loads only its own bundle and talks only to its own origin (REST and the
# websockets), so an injected script or a style from elsewhere is refused by the browser even if
# a name slipped past escaping. Image previews of a file being uploaded are blob: or data: URLs.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self' ws://{host} wss://{host}; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@login_required
@ensure_csrf_cookie
def app_shell(request: HttpRequest) -> HttpResponse:
    assets = entry_assets()
    status = 200 if assets else 503
    response = render(request, "console/app.html", {"assets": assets}, status=status)
    response["Content-Security-Policy"] = APP_CSP.format(host=request.get_host())
    return response


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico by habit (pages name the SVG); send them to it."""
    return HttpResponsePermanentRedirect(static("console/favicon.svg"))


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# Errors raised outside a DRF view (no URL matched, an unhandled exception): the API's paths
# answer in the API's one error format, everything else with Django's pages.


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "detail": "No such API path.", "fields": {}}, status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {"code": "error", "detail": "The server failed; it has been logged.", "fields": {}}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
