# syntax=docker/dockerfile:1
# One image for every role: `order-support serve orders|wallet`, `order-support worker`, `order-support migrate`.

FROM python:3.11-slim-bookworm AS build
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
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
# /app is the app user's: with API_KEYS unset, the generated key is kept there (never in the database).
RUN useradd --system --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir /app && chown 10001 /app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic
USER 10001
EXPOSE 8000 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["order-support", "healthcheck"]
CMD ["order-support", "serve", "orders"]
