# syntax=docker/dockerfile:1
#
# The reconciler as a container: `docker run --rm IMAGE` runs the controller (`reconciler run`);
# `docker run --rm IMAGE validate ...` any other command.
# Two stages: the build stage installs the project into a virtual environment; the runtime
# stage copies only that environment, so pip, build backends and caches stay out of the image.

# One base for both stages, so the venv's interpreter link (/usr/local/bin/python3.11) resolves
# in the runtime stage. Pin a digest here (python:3.11-slim@sha256:...) for reproducible builds.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The context is a whitelist (.dockerignore): pyproject.toml, constraints.txt, README.md, reconciler/.
COPY . .

# constraints.txt pins every dependency. Any editable line in it (`-e <path>`, as `pip freeze`
# writes for a project installed with -e) is not a valid constraint and pip refuses the whole
# file, so such lines are dropped. pip and setuptools are not needed at run time.
RUN python -m venv /opt/venv \
 && sed '/^-e[[:space:]]/d' constraints.txt > /tmp/constraints.txt \
 && /opt/venv/bin/pip install -c /tmp/constraints.txt . \
 && /opt/venv/bin/pip uninstall --yes pip setuptools


FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="identity-center-reconciler" \
      org.opencontainers.image.description="GitOps reconciler for AWS IAM Identity Center" \
      org.opencontainers.image.licenses="Apache-2.0"

# git: GitPython runs it for every fetch. openssh-client: ssh:// and git@host: repositories,
# and SSH commit signatures. gnupg: OpenPGP commit signatures (signed revisions).
# ca-certificates: https:// repositories and the AWS endpoints.
# safe.directory: a repository mounted from the host (`-v "$PWD":/repo`) belongs to another uid,
# and git refuses to read it ("dubious ownership"); the container runs nothing but the reconciler.
# DL3008 (pin apt versions) is ignored: Debian's security updates replace pinned versions, so
# pins break rebuilds; the base image (pin its digest) fixes the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install --yes --no-install-recommends git openssh-client gnupg ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'

RUN groupadd --gid 10001 reconciler \
 && useradd --uid 10001 --gid 10001 --no-log-init --create-home --home-dir /home/reconciler \
            --shell /usr/sbin/nologin reconciler

# Everything the controller writes (the state file, the Git cache, temporary files such as the
# keyrings of signature checks) goes under one folder, through the variables below, so that the
# root file system can be read-only (docs/deploy.md). VOLUME: `docker run --read-only` gets a
# writable volume there, and ECS on Fargate copies the folders (and their owner) into the bind
# mount of the same path; Kubernetes mounts an emptyDir there and one on /tmp (TMPDIR=/tmp).
RUN install --directory --owner 10001 --group 10001 --mode 0750 \
        /var/lib/identity-center-reconciler \
        /var/lib/identity-center-reconciler/state \
        /var/lib/identity-center-reconciler/cache \
 && install --directory --owner 10001 --group 10001 --mode 0700 \
        /var/lib/identity-center-reconciler/tmp

COPY --from=build /opt/venv /opt/venv

# HOME: git and ssh read their configuration there (nothing is written to it).
# PYTHONUNBUFFERED: JSON documents (stdout) and logs (stderr) leave at once.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/reconciler \
    XDG_STATE_HOME=/var/lib/identity-center-reconciler/state \
    XDG_CACHE_HOME=/var/lib/identity-center-reconciler/cache \
    TMPDIR=/var/lib/identity-center-reconciler/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# The operations endpoint (/healthz, /readyz, /metrics) once RECONCILER_LISTEN=0.0.0.0:8080:
# the default listens on the loopback only.
EXPOSE 8080

VOLUME ["/var/lib/identity-center-reconciler"]

# A numeric user, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/reconciler

ENTRYPOINT ["reconciler"]
CMD ["run"]
