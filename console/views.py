from __future__ import annotations

import secrets

from django.conf import settings
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
# The one inline style allowed carries this response's nonce: React Aria's widgets add a small
# <style> element (touch behaviour of pressable elements), reading the nonce from the page's
# `csp-nonce` meta tag. Style attributes stay refused; the app styles through classes and CSSOM.
APP_CSP = (
    "default-src 'self'; script-src 'self'{dev}; style-src 'self' {styles}; "
    "img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self' ws://{host} wss://{host}{dev_connect}; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _app_csp(host: str, nonce: str) -> str:
    dev = settings.VITE_DEV_SERVER
    # The dev server (DEBUG only) adds its origin for scripts and its reload socket, and the
    # <style> elements it injects for the stylesheets carry no nonce (with a nonce in the
    # policy, browsers would ignore 'unsafe-inline').
    socket = dev.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return APP_CSP.format(
        host=host,
        styles="'unsafe-inline'" if dev else f"'nonce-{nonce}'",
        dev=f" {dev}" if dev else "",
        dev_connect=f" {dev} {socket}" if dev else "",
    )


@login_required
@ensure_csrf_cookie
def app_shell(request: HttpRequest) -> HttpResponse:
    assets = entry_assets()
    status = 200 if assets else 503
    nonce = secrets.token_urlsafe(18)
    context = {"assets": assets, "csp_nonce": nonce}
    response = render(request, "console/app.html", context, status=status)
    response["Content-Security-Policy"] = _app_csp(request.get_host(), nonce)
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
