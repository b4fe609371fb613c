# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every DocStore service, built from the workspace root:
#
#   docker build --build-arg SERVICE=upload -t docstore-upload .
#   docker build --build-arg SERVICE=indexer --target indexer -t docstore-indexer .
#
# Stages: `uv` (the uv binary) -> `build` (uv sync of one workspace package into
# /app/.venv, non-editable, no dev group; for the gateway also the web app in /app/web) ->
# `runtime` (Python and tini only, non-root) -> `service` (every service; the default,
# last stage) or `indexer` (adds tesseract-ocr and poppler-utils for OCR and PDF
# rasterising, ffmpeg and LibreOffice for previews). No compiler or uv in the final images.
#
# Layer caching: the first `uv sync` sees only pyproject.toml and uv.lock (uv's documented
# pattern for workspaces, `--no-install-workspace` with `--frozen`), so the third-party
# dependency layer is rebuilt only when the lock changes, never on a source change.
#
# PID 1 is tini: it forwards SIGTERM to uvicorn and reaps orphans, such as the children of
# an OCR worker that was killed (otherwise zombies pile up in the indexer).
#
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11.14-slim-bookworm AS build
ARG SERVICE
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Third-party dependencies first: a layer keyed on uv.lock and the root pyproject.toml only.
# uv reads the workspace members' dependencies from the lock (hence --frozen, not --locked),
# and an unknown SERVICE fails here ("Could not find root package").
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    test -n "${SERVICE}" \
    && uv sync --frozen --no-dev --no-install-workspace --package "docstore-${SERVICE}"
# ...then the workspace packages themselves, installed as wheels (not editable),
# so the final stage needs /app/.venv and nothing of /src.
COPY . /src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "docstore-${SERVICE}"
# The gateway serves the web app: its `find_web_dir` walks up from
# /app/.venv/lib/python3.11/site-packages/docstore_gateway/ and finds /app/web/index.html.
# Other images get an empty folder (nothing is copied).
RUN mkdir -p /app/extra \
    && if [ "${SERVICE}" = "gateway" ]; then cp -R web /app/extra/web && test -f /app/extra/web/index.html \
        && mkdir -p /app/extra/docs && cp docs/standard-clients.md /app/extra/docs/; fi

FROM python:3.11.14-slim-bookworm AS runtime
# Debian bookworm's tini 0.19; its version floats with bookworm's updates (and differs in
# the binNMU suffix per architecture), so it is not pinned. Installed before ARG SERVICE,
# so every service's image shares this layer.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
ARG SERVICE
ENV DOCSTORE_SERVICE=${SERVICE} \
    PORT=8080 \
    HOST=0.0.0.0 \
    LOG_FORMAT=json \
    PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 docstore \
    && useradd --system --uid 10001 --gid docstore --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin docstore
WORKDIR /app
EXPOSE 8080
# `command:` in a pod spec replaces this (the init Job does, and needs no reaper); `args:`
# and compose's `command:` keep it.
ENTRYPOINT ["/usr/bin/tini", "--"]

FROM runtime AS indexer
# Debian bookworm's tesseract-ocr 5.3 and poppler-utils 22.12; versions float with
# bookworm's security updates, so they are not pinned. ffmpeg (a video's preview frame) and
# LibreOffice without its GUI (an Office document's first page; ~295 MB installed) for previews.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr poppler-utils ffmpeg \
        libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build --chown=root:root /app/.venv /app/.venv
COPY --from=build --chown=root:root /app/extra/ /app/
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=2)"]
CMD ["sh", "-c", "exec uvicorn \"docstore_${DOCSTORE_SERVICE}.main:app\" --factory --host \"${HOST}\" --port \"${PORT}\" --no-proxy-headers --timeout-graceful-shutdown 20"]

FROM runtime AS service
COPY --from=build --chown=root:root /app/.venv /app/.venv
COPY --from=build --chown=root:root /app/extra/ /app/
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=2)"]
CMD ["sh", "-c", "exec uvicorn \"docstore_${DOCSTORE_SERVICE}.main:app\" --factory --host \"${HOST}\" --port \"${PORT}\" --no-proxy-headers --timeout-graceful-shutdown 20"]
