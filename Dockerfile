# syntax=docker/dockerfile:1
# jetdr-msa: the emulated JetStream DR Management Server Appliance, HTTPS on 443.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY jetdr ./jetdr
COPY migrations ./migrations
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install .

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="jetdr-msa" \
      org.opencontainers.image.description="Emulator of the JetStream DR Management Server Appliance REST API"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    JETDR_HOST=0.0.0.0 \
    JETDR_PORT=443 \
    JETDR_DATA_DIR=/var/lib/jetdr
RUN groupadd --system --gid 10001 jetdr \
 && useradd --system --uid 10001 --gid jetdr --home-dir /var/lib/jetdr --shell /usr/sbin/nologin jetdr \
 && mkdir -p /var/lib/jetdr && chown jetdr:jetdr /var/lib/jetdr
COPY --from=build /opt/venv /opt/venv
COPY deploy/entrypoint /usr/local/bin/jetdr-entrypoint
COPY deploy/healthcheck.py /usr/local/bin/jetdr-healthcheck
# Port 443 without root: the only capability the server needs.
RUN apt-get update && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap 'cap_net_bind_service=+ep' "$(readlink -f /opt/venv/bin/python)" \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
USER jetdr
VOLUME ["/var/lib/jetdr"]
EXPOSE 443
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "/usr/local/bin/jetdr-healthcheck"]
ENTRYPOINT ["/usr/local/bin/jetdr-entrypoint"]
