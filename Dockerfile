# One image for every guardia service; compose.yaml picks the service with `guardia run NAME`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    GUARDIA_LOG_FORMAT=json GUARDIA_DATA_DIR=/data GUARDIA_HTTP_HOST=0.0.0.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY guardia ./guardia
COPY services ./services
COPY shared ./shared
RUN pip install . && useradd --create-home --uid 10001 guardia && mkdir -p /data && chown guardia /data

USER guardia
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["guardia"]
CMD ["up"]
