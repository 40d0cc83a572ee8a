# The reference services and the harness as images, one target each:
#
#   docker build --target auth-api    -t conformance/auth-api .
#   docker build --target chat-api    -t conformance/chat-api .
#   docker build --target conformance -t conformance/conformance .
#
# docker-compose.yml builds all three. Where no registry is reachable (no
# rust or debian image to pull), scripts/build-local-images --services makes
# the same images from Debian packages and binaries built on the host; keep
# the two in step (user, ports, environment, entry points).

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p auth-api -p chat-api -p conformance --bins \
 && mkdir /out && cp target/release/auth-api target/release/chat-api target/release/conformance /out/

FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home app

# The services run as an unprivileged user. The harness does not: it is a
# one-shot client that writes its reports into a folder of the caller's
# (a bind mount, a CI job's checkout) which that user could not write.
FROM runtime AS auth-api
COPY --from=build /out/auth-api /usr/local/bin/auth-api
USER 10001
ENV AUTH_API_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/auth-api"]

FROM runtime AS chat-api
COPY --from=build /out/chat-api /usr/local/bin/chat-api
USER 10001
ENV CHAT_API_LISTEN=0.0.0.0:8081
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/chat-api"]

FROM runtime AS conformance
COPY --from=build /out/conformance /usr/local/bin/conformance
WORKDIR /reports
ENTRYPOINT ["/usr/local/bin/conformance"]
CMD ["--help"]
