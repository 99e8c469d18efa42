# syntax=docker/dockerfile:1
# One image for every process of the console (web, worker, predictor, migrate); the compose file
# picks the command. Build: docker compose build, or docker build -t automl-console .

# --- Frontend: Vite writes frontend/dist (manifest.json + hashed assets).
FROM node:20-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- Runtime.
FROM python:3.11-slim AS runtime

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    CONSOLE_DATA_DIR=/data \
    KERAS_BACKEND=torch

# torch is pinned in pyproject.toml. On Linux x86_64 the PyPI wheel is the CUDA build, which the
# GPU worker needs. For a smaller CPU-only image:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu .
ARG TORCH_INDEX_URL=

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change keeps this layer cached.
# The project itself is not pip-installed: a non-editable install would move the packages into
# site-packages (settings.BASE_DIR locates frontend/dist from the source tree) and would leave
# the templates behind (no package data is declared). The code runs from /app via PYTHONPATH.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep=chr(10))" > /tmp/requirements.txt \
    && pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app \
    && mkdir -p /data \
    && chown app:app /data

# Code stays root-owned (read-only to the app user); only /data (a volume) and /tmp are written.
COPY manage.py ./
COPY console ./console
COPY jobs ./jobs
COPY models_registry ./models_registry
COPY --from=frontend /src/frontend/dist ./frontend/dist

USER app
EXPOSE 8000 8001

# The web process by default; compose overrides it for worker, predictor and migrate.
CMD ["python", "-m", "uvicorn", "console.asgi:application", "--http", "console.http_protocol:BodySocketProtocol", "--host", "0.0.0.0", "--port", "8000", "--lifespan", "off"]
