# syntax=docker/dockerfile:1
# One image for every role: `order-support serve orders|wallet`, `order-support worker`, `order-support migrate`.
# The base is pinned to a patch release: the lock is resolved for every Python >= 3.11 (markers kept), and
# `pip check` below fails the build when an installed set is incomplete for this interpreter.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Compilers only here, for any dependency without a wheel; the final stage has none.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential=12.9 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY services ./services
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip check

FROM python:3.11.14-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
# tini is PID 1: it forwards SIGTERM to the server (which stops within 5 s: uvicorn's graceful-shutdown
# timeout) and reaps children. Without it, run the container with `docker run --init` (compose: `init: true`).
# /app is the app user's: with API_KEYS unset, the generated key is kept there (never in the database).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir -p /app/attachments && chown -R 10001 /app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic
USER 10001
EXPOSE 8000 8001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["order-support", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["order-support", "serve", "orders"]
