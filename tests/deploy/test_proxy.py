"""The reverse proxy in docker-compose.yml: every path the code serves reaches the process
that serves it."""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, URLResolver

from console import urls
from jobs import routing
from tests.deploy.compose_file import (
    ROOT,
    command_argv,
    service_env,
)


def _proxy_config(compose: dict[str, Any]) -> str:
    return str(compose["configs"]["proxy"]["content"]).replace("$$", "$")


def _locations(config: str) -> dict[str, tuple[bool, str]]:
    """Location path -> (exact match?, its body)."""
    found = re.findall(r"location\s+(=\s+)?(\S+)\s*\{(.*?)\n\s*\}", config, flags=re.DOTALL)
    return {path: (bool(exact), body) for exact, path, body in found}


def _route(config: str, path: str) -> tuple[str, str]:
    """(upstream URL, location body) nginx picks for `path`: exact match, else longest prefix."""
    locations = _locations(config)
    upstreams = dict(re.findall(r"set\s+\$(\w+)\s+(\S+);", config))
    exact = [p for p, (is_exact, _) in locations.items() if is_exact and p == path]
    prefixes = [p for p, (is_exact, _) in locations.items() if not is_exact and path.startswith(p)]
    chosen = exact[0] if exact else max(prefixes, key=len)
    body = locations[chosen][1]
    target = re.search(r"proxy_pass\s+\$(\w+);", body)
    assert target, f"{chosen} proxies nothing"
    return upstreams[target.group(1)], body


def _sample(pattern: str) -> str:
    return "/" + re.sub(r"<[^>]+>", "1", pattern)


def _port(service: dict[str, Any]) -> str:
    argv = command_argv(service["command"])
    if "--port" in argv:
        return argv[argv.index("--port") + 1]
    return next(a.split("=", 1)[1] for a in argv if a.startswith("--port="))


def test_proxy_sends_every_console_path_to_the_web(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    web = f"http://web:{_port(services['web'])}"
    paths = [
        _sample(str(p.pattern)) for p in urls.urlpatterns if isinstance(p, URLPattern | URLResolver)
    ]
    assert len(paths) == len(urls.urlpatterns)
    assert "/api/v1/" in paths
    assert "/login/" in paths
    for path in [*paths, "/static/frontend/app.js", "/api/v1/jobs/1/"]:
        upstream, body = _route(config, path)
        assert upstream == web, f"{path} goes to {upstream}"
        assert "proxy_set_header Host $http_host;" in body, path
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in body, path
    # Uploads stream through to the web, which holds them to its own limits.
    _, body = _route(config, "/api/v1/uploads/1/")
    assert "proxy_request_buffering off;" in body
    assert "client_max_body_size 0;" in body


def test_proxy_upgrades_websockets_to_the_web(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    assert "map $http_upgrade $connection_upgrade" in config
    for pattern in routing.websocket_urlpatterns:
        upstream, body = _route(config, _sample(str(pattern.pattern)))
        assert upstream == f"http://web:{_port(services['web'])}"
        assert "proxy_set_header Upgrade $http_upgrade;" in body
        assert "proxy_set_header Connection $connection_upgrade;" in body
        assert "proxy_set_header Host $http_host;" in body


# The predictor's public routes, as models_registry/predictor/app.py lists them.
PREDICTOR_PATHS = (
    "/v1/deployments/churn/predict", "/v1/deployments/churn", "/v1/deployments/churn/metrics",
    "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/churn",
    "/v2/models/churn/versions/1/ready", "/v2/models/churn/infer",
    "/v2/models/churn/versions/1/infer",
)  # fmt: skip


def test_proxy_sends_deployment_endpoints_to_the_predictors(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    documented = (ROOT / "models_registry" / "predictor" / "app.py").read_text()
    assert "`POST /v1/deployments/<name>/predict`" in documented
    assert "`POST /v2/models/<name>[/versions/<v>]/infer`" in documented
    for path in PREDICTOR_PATHS:
        upstream, body = _route(config, path)
        assert upstream == f"http://predictor:{_port(services['predictor'])}", path
        assert "proxy_set_header Host $http_host;" in body, path
    # Deployments' endpoints are published on the proxy's origin.
    env = service_env(services["web"])
    assert env["PREDICTOR_PUBLIC_URL"] == "${PUBLIC_URL:-http://localhost:8000}"
    assert services["proxy"]["ports"] == ["${HTTP_PORT:-8000}:80"]
    assert "listen 80;" in config
    for name in ("web", "predictor", "flower"):
        assert not services[name].get("ports"), f"{name} is published past the proxy"


def test_proxy_sends_flower_to_flower(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    upstream, body = _route(config, "/flower/dashboard")
    assert upstream == f"http://flower:{_port(services['flower'])}"
    assert "proxy_set_header Upgrade $http_upgrade;" in body
    health = services["proxy"]["healthcheck"]["test"]
    assert "http://127.0.0.1/proxy-health" in health
    assert _locations(config)["/proxy-health"][0]
