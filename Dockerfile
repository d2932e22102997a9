# paysig server image: small, non-root, with a gRPC health check.
#   docker build -t paysig:0.1.0 .
#   docker run -p 50051:50051 -v $PWD/examples:/etc/paysig:ro paysig:0.1.0
# Ports: 50051 gRPC, 8081 health only (plaintext), 9090 metrics.
FROM python:3.11-slim AS build
# gcc and OpenSSL's headers build the SignOrder fast path (server/paysig/server/_fastsign.c,
# linked with libcrypto, which the runtime image has: Python's ssl module uses it too).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY server ./server
COPY clients/python ./clients/python
# Two wheels: paysig-client (paysig.v1, paysig.client) and the server that depends on it.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ./clients/python .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home paysig
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
EXPOSE 50051 8081 9090
# The health check dials the plaintext health-only listener: it works whatever [auth] and [tls] say.
HEALTHCHECK --interval=10s --timeout=4s --retries=3 CMD ["paysig", "health", "127.0.0.1:8081"]
ENTRYPOINT ["paysig", "serve"]
CMD ["--config", "/etc/paysig/paysig.toml", "--listen", "0.0.0.0:50051", "--metrics-listen", "0.0.0.0:9090", "--health-listen", "0.0.0.0:8081"]
