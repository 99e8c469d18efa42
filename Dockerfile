# syntax=docker/dockerfile:1
# One image for every process of the console (web, workers, predictor, flower, migrate); the
# compose file picks the command. Two builds of it, chosen by TORCH_VARIANT:
#   cpu  (default): torch's CPU-only wheel, a few GB smaller; web, predictor, CPU and short
#                   workers, flower, migrate. docker build -t automl-console .
#   cuda: torch's default Linux x86_64 wheel, which carries the CUDA runtime libraries itself;
#         only the host's NVIDIA driver (through the NVIDIA Container Toolkit) is needed, so the
#         base image stays python:3.11-slim. For GPU workers:
#         docker build --build-arg TORCH_VARIANT=cuda -t automl-console-cuda .
ARG TORCH_VARIANT=cpu

# --- Frontend: Vite writes frontend/dist (manifest.json + hashed assets).
FROM node:20-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- Python and the dependencies, once per torch build.
FROM python:3.11-slim AS python-base

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    CONSOLE_DATA_DIR=/data \
    KERAS_BACKEND=torch

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change keeps this layer cached.
# The project itself is not pip-installed: a non-editable install would move the packages into
# site-packages (settings.BASE_DIR locates frontend/dist from the source tree) and would leave
# the templates behind (no package data is declared). The code runs from /app via PYTHONPATH.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep=chr(10))" > /tmp/requirements.txt

FROM python-base AS deps-cpu
# torch (its pin from pyproject.toml) from the CPU-only index alone, first: the install of the
# rest then finds the pin satisfied and does not fetch the CUDA wheel beside it.
ARG TORCH_CPU_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_CPU_INDEX_URL" "$(grep '^torch==' /tmp/requirements.txt)" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

FROM python-base AS deps-cuda
RUN pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# --- Runtime: the dependencies of the chosen build, then the code.
FROM deps-${TORCH_VARIANT} AS runtime

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

# The web process by default; compose overrides it for the other services.
CMD ["python", "-m", "console.webserver", "console.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
