# One image for every platform process: web (daphne), MQTT ingest, Celery worker and beat, and
# the broker runner (Mosquitto kept in step with the device registry). See docker-compose.yml.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=virtualward.settings \
    VW_VAR_DIR=/var/lib/virtualward \
    VW_MANIFEST_STATIC=true

# Mosquitto is only run by the broker service; curl-free healthchecks use Python instead.
RUN apt-get update \
    && apt-get install -y --no-install-recommends mosquitto \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/virtualward --uid 10001 virtualward

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected into the image (hashed names, compressed) and served by WhiteNoise.
RUN python manage.py collectstatic --noinput \
    && mkdir -p /var/lib/virtualward /var/lib/mosquitto-vw \
    && chown -R virtualward:virtualward /var/lib/virtualward /var/lib/mosquitto-vw

USER virtualward
EXPOSE 8000 8883 8884
# No --proxy-headers: daphne would take the client's address from the left of X-Forwarded-For,
# which the client writes. The platform reads it itself, from VW_TRUSTED_PROXIES only.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "virtualward.asgi:application"]
