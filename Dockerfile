# syntax=docker/dockerfile:1
# jetdr-msa: the emulated JetStream DR Management Server Appliance, HTTPS on 443.
#
#   docker build -t jetdr-msa .
#   docker build --build-arg BASE_IMAGE=<a Debian 12 image with python3 and python3-venv> \
#                --secret id=pip-ca,src=<a CA bundle pip must trust> -t jetdr-msa .
#
# The one install works on both: the official Python image (its `python3` in /usr/local) and a
# plain Debian 12 root (Debian's `python3`); the `pip-ca` secret is optional.

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# The dependencies first, in a layer of their own: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && python3 -m venv /opt/venv \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && /opt/venv/bin/pip install -r requirements.txt "hatchling>=1.25"
COPY README.md alembic.ini ./
COPY app ./app
COPY jetdr ./jetdr
COPY migrations ./migrations
COPY deploy/slim-venv.py ./
# Bytecode checked by hash, not by the source's modification time: the copy into the runtime
# stage may change that time, and the server's user cannot write new bytecode, so Python would
# otherwise compile every module again at each start.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
 && /opt/venv/bin/python slim-venv.py /opt/venv \
 && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="jetdr-msa" \
      org.opencontainers.image.description="Emulator of the JetStream DR Management Server Appliance REST API"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    JETDR_HOST=0.0.0.0 \
    JETDR_PORT=443 \
    JETDR_DATA_DIR=/var/lib/jetdr
COPY --from=build /opt/venv /opt/venv
COPY deploy/entrypoint /usr/local/bin/jetdr-entrypoint
COPY deploy/healthcheck.py /usr/local/bin/jetdr-healthcheck
COPY deploy/bind-low-ports.py /tmp/bind-low-ports.py
# The user, the data volume, and port 443 without root: the interpreter gets the one
# capability the server needs (written as the file capability `setcap` would write, so no
# package has to be installed for it).
RUN groupadd --system --gid 10001 jetdr \
 && useradd --system --uid 10001 --gid jetdr --home-dir /var/lib/jetdr --shell /usr/sbin/nologin jetdr \
 && mkdir -p /var/lib/jetdr && chown jetdr:jetdr /var/lib/jetdr && chmod 0700 /var/lib/jetdr \
 && python3 /tmp/bind-low-ports.py "$(readlink -f /opt/venv/bin/python)" \
 && rm /tmp/bind-low-ports.py
USER jetdr
VOLUME ["/var/lib/jetdr"]
EXPOSE 443
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "/usr/local/bin/jetdr-healthcheck"]
ENTRYPOINT ["/usr/local/bin/jetdr-entrypoint"]
