"""The predictor service's settings: the console's, with only the prediction URLs routed.

It authenticates every request by token in its own views, so it needs no session, CSRF or
sign-in redirect middleware.
"""

from console.settings import *  # noqa: F403

ROOT_URLCONF = "console.predictor_urls"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
