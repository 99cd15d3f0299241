# syntax=docker/dockerfile:1
# MediaNest image: `docker compose up` (see docker-compose.yml and docs/admin-guide.md).

# --- build: the locked runtime dependencies into a virtualenv, with the same command the
# README and the tests use (scripts/install: hash-checked pins from requirements/run.txt,
# then the package itself, editable, from /src) ---------------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MN_VENV=/opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY scripts/install ./scripts/install
COPY src ./src
RUN ./scripts/install run

# --- runtime: slim Python, ffmpeg for yt-dlp, pg_dump for backups, no compilers ------
FROM python:3.11-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg postgresql-client tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 medianest \
    && useradd --uid 1000 --gid 1000 --home-dir /app --create-home --shell /usr/sbin/nologin medianest \
    && mkdir -p /data \
    && chown 1000:1000 /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /src
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/medianest-entrypoint
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MEDIANEST_ENVIRONMENT=production \
    MEDIANEST_DATA_DIR=/data
USER 1000:1000
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health/app', timeout=4).status != 200)"]
ENTRYPOINT ["tini", "--", "medianest-entrypoint"]
CMD ["serve", "--host", "0.0.0.0"]
