# Portcullis in a container: built in a Rust image, run from distroless as a non-root user.
#   docker build -t portcullis .
#   docker run -p 3567:3567 -e POSTGRESQL_CONNECTION_URI=postgresql://user:pass@db:5432/supertokens portcullis
# Without PostgreSQL settings it keeps its data in SQLite in /data (mount a volume there).
# Config file: /etc/portcullis/config.yaml, or the SuperTokens image's /usr/lib/supertokens/config.yaml
# (mount either; it must be readable by UID 65532). Environment variables override it.

FROM rust:1-bookworm AS build
WORKDIR /src

# The dependencies first, in a layer of their own: built from the manifests alone with empty
# crates, so that changing Portcullis's sources rebuilds only Portcullis. Every workspace member's
# Cargo.toml is listed here (tests/deploy/dockerfile.sh checks it).
COPY Cargo.toml Cargo.lock ./
COPY crates/core/Cargo.toml crates/core/
COPY crates/store-sqlite/Cargo.toml crates/store-sqlite/
COPY crates/store-postgres/Cargo.toml crates/store-postgres/
COPY crates/server/Cargo.toml crates/server/
COPY crates/bench/Cargo.toml crates/bench/
RUN for manifest in crates/*/Cargo.toml; do \
      dir="${manifest%/Cargo.toml}"; mkdir -p "$dir/src"; : > "$dir/src/lib.rs"; \
      if grep -q '^\[\[bin\]\]' "$manifest"; then echo 'fn main() {}' > "$dir/src/main.rs"; fi; \
    done \
 && cargo build --release --locked -p portcullis \
 && rm -rf crates

# Then Portcullis itself. The sources are touched: COPY keeps their times, older than the empty
# crates just built, which cargo would take for up to date.
COPY crates ./crates
RUN find crates -type f -exec touch {} + \
 && cargo build --release --locked -p portcullis \
 && install -D -m 0755 target/release/portcullis /out/portcullis \
 && install -d -m 0755 -o 65532 -g 65532 /out/data

# glibc, libgcc and CA certificates only; no shell, no package manager. UID 65532 = nonroot.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/portcullis /usr/local/bin/portcullis
COPY --from=build --chown=65532:65532 /out/data /data
# A relative sqlite_path (the default, portcullis.db) lands in the working directory.
WORKDIR /data
USER 65532:65532
EXPOSE 3567
# `portcullis health` asks /health on the port and base_path of the same configuration (no curl here).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/portcullis", "health", "--timeout-ms", "4000"]
# Listen on every interface inside the container (the default host is localhost).
ENTRYPOINT ["/usr/local/bin/portcullis", "start", "--host", "0.0.0.0"]
