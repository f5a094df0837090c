# cloudrun's budget guard as a container: `cloudrun watch` with JSON-lines logs and /healthz (docs/team.md).
#   docker build -t cloudrun .
#   docker run -e CLOUDRUN_DATABASE_URL=postgresql://cloudrun@db:5432/cloudrun -e AWS_PROFILE=... -p 8080:8080 cloudrun
# The state lives in the team's database (CLOUDRUN_DATABASE_URL); cloud credentials come from the environment or
# the platform's workload identity, never from the image. Base: the Docker Official Image for Python
# (https://hub.docker.com/_/python), slim variant.
FROM python:3.12-slim

WORKDIR /src
COPY . .
# every cloud, the metrics exporter and the PostgreSQL driver; not the sandbox or the test tools
RUN pip install --no-cache-dir '.[all,postgres]' && rm -rf /src

# no root at run time; CLOUDRUN_HOME holds only the price cache when the state is in PostgreSQL
RUN useradd --create-home --uid 10001 cloudrun
USER cloudrun
ENV CLOUDRUN_HOME=/home/cloudrun/.cloudrun
WORKDIR /home/cloudrun

EXPOSE 8080
HEALTHCHECK --interval=60s --timeout=10s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=5)"
# SIGTERM (docker stop, a pod's termination) finishes the check under way and hands the lease to another watcher.
ENTRYPOINT ["cloudrun"]
CMD ["watch", "--interval", "5m", "--log-format", "json", "--health-port", "8080", "--health-address", "0.0.0.0"]
