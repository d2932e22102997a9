# paysig server image: small, non-root, with a gRPC health check.
#   docker build -t paysig:0.1.0 .
#   docker run -p 50051:50051 -v $PWD/examples:/etc/paysig:ro paysig:0.1.0
FROM python:3.11-slim AS build
# gcc builds the SignOrder fast path (server/paysig/server/_fastsign.c).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
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
EXPOSE 50051 9090
HEALTHCHECK --interval=10s --timeout=4s --retries=3 CMD ["paysig", "health", "127.0.0.1:50051"]
ENTRYPOINT ["paysig", "serve"]
CMD ["--config", "/etc/paysig/paysig.toml", "--listen", "0.0.0.0:50051", "--metrics-listen", "0.0.0.0:9090"]
