# Portcullis in a container: built in a Rust image, run from distroless as a non-root user.
#   docker build -t portcullis .
#   docker run -p 3567:3567 -e POSTGRESQL_CONNECTION_URI=postgresql://user:pass@db:5432/supertokens portcullis
# Without POSTGRESQL_* variables it uses SQLite in /data (mount a volume there to keep it).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p portcullis \
 && install -D -m 0755 target/release/portcullis /out/portcullis \
 && install -d -m 0755 -o 65532 -g 65532 /out/data

# glibc, libgcc and CA certificates only; no shell, no package manager. UID 65532 = nonroot.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/portcullis /usr/local/bin/portcullis
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
ENV PORTCULLIS_SQLITE_PATH=/data/portcullis.db
EXPOSE 3567
# Listen on every interface inside the container (the default host is localhost).
ENTRYPOINT ["/usr/local/bin/portcullis", "start", "--host", "0.0.0.0"]
