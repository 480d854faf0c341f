# One image for the API and the worker (and, later, Dagster code). Build: docker build -t autonomous-crm .
FROM python:3.11-slim AS base

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH="/app/.venv/bin:$PATH"

RUN pip install --no-cache-dir uv==0.13.9 \
 && apt-get update && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev

RUN useradd --system --uid 10001 crm && chown -R crm /app
USER crm

EXPOSE 8000
# DATABASE_URL must point at the compose PostgreSQL; migrations run before the API starts.
# /metrics adds up the workers' webhook counters through prometheus_client's multiprocess folder (fresh at start).
CMD ["sh", "-c", "alembic upgrade head && rm -rf /tmp/prometheus && mkdir -p /tmp/prometheus && PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus uvicorn serving.main:app --host 0.0.0.0 --port 8000 --workers ${API_WORKERS:-2} --no-access-log"]
