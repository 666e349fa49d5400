# Portti in a container: built in one stage, run in a small one as a user
# without privileges. Templates, translations and static files are compiled
# into the binary, so the binary is all the runtime image needs of ours.
#
#   docker build -t portti .
#   docker run -p 8080:8080 -v portti-data:/var/lib/portti \
#     -e PORTTI_ISSUER=https://login.example.com portti
#
# The README's "Run it in a container" has the Kubernetes example.

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin portti \
 && install -D -m 0755 target/release/portti /out/portti

FROM debian:bookworm-slim
# libssl3 for the JOSE library, ca-certificates for SMTP, the SMS gateway
# and upstream providers over TLS, curl for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/portti --create-home --shell /usr/sbin/nologin portti
COPY --from=build /out/portti /usr/local/bin/portti
USER 10001:10001
WORKDIR /var/lib/portti
# SQLite and the generated master key live here unless configured otherwise;
# on PostgreSQL set PORTTI_DATABASE_URL and PORTTI_MASTER_KEY (or
# PORTTI_MASTER_KEY_FILE from a mounted secret) instead.
VOLUME ["/var/lib/portti"]
ENV PORTTI_BIND=0.0.0.0:8080 \
    PORTTI_DATABASE_URL=sqlite:///var/lib/portti/portti.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["curl", "--fail", "--silent", "--output", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["portti"]
CMD ["serve"]
