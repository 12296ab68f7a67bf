"""Write Mosquitto's config, password and ACL files from the device registry, and reload it.

    manage.py broker_config                      # write into MQTT_BROKER_DIR, SIGHUP a running broker
    manage.py broker_config --host 0.0.0.0 --port 1883 --dir /mosquitto/config
    manage.py broker_config --run                # run mosquitto with it, resyncing every few seconds

``--run`` is for deployments where the broker is not on the same host or process namespace as
the web and worker processes (docker-compose): the broker's own container runs this command, so
a revocation committed anywhere reaches the broker within ``--sync-seconds``.
"""

from __future__ import annotations

import subprocess
import time

from django.core.management.base import BaseCommand, CommandError

from devices import broker_auth, broker_tls


class Command(BaseCommand):
    help = "Write Mosquitto's config, passwd and acl from the device registry and reload the broker."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--dir", default=None, help="Directory for the files (default: MQTT_BROKER_DIR).")
        parser.add_argument("--host", default=None, help="Listener address (default: MQTT_URL's host).")
        parser.add_argument("--port", type=int, default=None, help="Listener port (default: MQTT_URL's port).")
        parser.add_argument(
            "--device-port", type=int, default=None,
            help="A listener for devices only, client id = username (default: VW_MQTT_DEVICE_PORT).",
        )  # fmt: skip
        parser.add_argument("--run", action="store_true", help="Run mosquitto in the foreground and keep it in sync.")
        parser.add_argument("--sync-seconds", type=float, default=2.0)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        conf = broker_auth.broker_config_write(
            options["dir"], host=options["host"], port=options["port"], device_port=options["device_port"]
        )
        self.stdout.write(f"wrote {conf} (+ passwd, acl)")
        if not options["run"]:
            if broker_auth.broker_reload(conf.parent):
                self.stdout.write("broker reloaded")
            return
        self._run(conf, options["sync_seconds"])

    def _run(self, conf, sync_seconds: float) -> None:  # type: ignore[no-untyped-def]
        binary = broker_auth.mosquitto_binary()
        if binary is None:
            raise CommandError("mosquitto is not installed")
        process = subprocess.Popen([binary, "-c", str(conf)])  # noqa: S603
        try:
            while process.poll() is None:
                time.sleep(sync_seconds)
                changed = broker_auth.broker_credentials_write(conf.parent)
                if broker_tls.broker_crl_refresh(conf.parent) or changed:
                    broker_auth.broker_reload(conf.parent)
        except KeyboardInterrupt:
            pass
        finally:
            process.terminate()
            process.wait(timeout=10)
        if process.returncode not in (0, -15):
            raise CommandError(f"mosquitto exited with {process.returncode}")
