# The modelsync operator image. Build: docker build -t modelsync:0.1.0 .
# No container engine on the build machines: hadolint and tests/deploy/test_dockerfile.py
# check this file instead.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Locked dependencies first (this layer survives source changes): every file pip fetches
# must match a sha256 in the lock (deploy/lock-requirements.sh regenerates it).
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --no-deps --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
# No build isolation: the build backend is the locked setuptools, not whatever PyPI serves.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
 && /opt/venv/bin/pip check

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="modelsync" \
      org.opencontainers.image.description="Kubernetes operator that keeps ModelRefs in step with a TrueFoundry model catalog" \
      org.opencontainers.image.licenses="Apache-2.0"
# A passwd entry for the fixed UID: getpass.getuser() (used by Kopf when POD_ID is
# unset) fails without one.
RUN groupadd --gid 65532 modelsync \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin modelsync
COPY --from=build /opt/venv /opt/venv
# Read-only root filesystem: nothing is written outside /tmp (an emptyDir in the pod).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["modelsync", "run"]
