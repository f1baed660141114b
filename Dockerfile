# syntax=docker/dockerfile:1
# One image runs every Atlantide Engage process; the Kubernetes manifests choose which one
# (`engage serve <service>`, `engage worker <name>`, `engage migrate`).
#
#   docker build -t atlantide-engage:latest .

# Both stages must use the same interpreter: the virtualenv links to it.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app

# Dependencies only: this layer is rebuilt when the lock changes, not when the code does.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# The project itself, installed as a wheel (not editable) so the runtime stage needs only the
# virtualenv; each service's Alembic migrations ship inside the wheel.
COPY README.md ./
COPY shared ./shared
COPY services ./services
COPY workflows ./workflows
COPY engage ./engage
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime

# The Map Track's PNG maps write Italian names (accents) in DejaVu Sans (Bitstream Vera and
# public-domain licence; docs/data.md).
RUN apt-get update \
    && apt-get install --no-install-recommends -y fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 engage \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin engage \
    && mkdir -p /var/lib/engage \
    && chown 10001:10001 /var/lib/engage

COPY --from=builder /app/.venv /app/.venv

# The root filesystem is read-only in Kubernetes: bytecode was compiled at build time and
# local state goes to ENGAGE_DATA_DIR (an emptyDir there). A container must listen on every
# interface to be reachable, so ENGAGE_HOST defaults to 0.0.0.0 here.
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENGAGE_HOST=0.0.0.0 \
    ENGAGE_DATA_DIR=/var/lib/engage

WORKDIR /app
USER 10001:10001

EXPOSE 8000 8001 8002 8003 8004 8005

CMD ["engage", "--help"]
