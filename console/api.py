"""Sign-in for scripts (a personal token) and who am I."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from console.parsers import JSONParser


class TokenThrottle(AnonRateThrottle):
    rate = "30/min"


class ObtainToken(ObtainAuthToken):
    throttle_classes = [TokenThrottle]
    # DRF's view names its own parsers; ours answers a too-deep body with a 400.
    parser_classes = [FormParser, MultiPartParser, JSONParser]


@api_view(["GET"])
def me(request: Request) -> Response:
    return Response({"id": request.user.pk, "username": request.user.get_username()})
