# aiops serve as a container: `docker build -t aiops .` then see deploy/kubernetes.
# (No container engine runs on the project's machines: this file is not built by the test command.)
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin aiops \
 && install -D target/release/aiops /out/aiops \
 && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/aiops /usr/local/bin/aiops
COPY --from=build --chown=65532:65532 /out/data /var/lib/aiops
USER 65532:65532
EXPOSE 8080
ENV AIOPS_LISTEN=0.0.0.0:8080 \
    AIOPS_STORE=sqlite:/var/lib/aiops/aiops.db
# Without AIOPS_API_TOKEN the server binds loopback only (unreachable from outside the pod).
ENTRYPOINT ["/usr/local/bin/aiops"]
CMD ["serve"]
