"""`manage.py broker_config` writes the files Mosquitto runs from."""

from __future__ import annotations

import io

from django.core.management import call_command

from tests.factories import DeviceFactory


def test_the_command_writes_a_closed_config_with_only_live_devices(db, settings, tmp_path):
    # given one paired device with a broker hash and one revoked device
    settings.VAR_DIR = tmp_path
    live = DeviceFactory(secret_hash="$7$1000$QUFBQUFBQUFBQUFB$" + "A" * 86 + "==")
    DeviceFactory(secret_hash=live.secret_hash, revoked_at=live.paired_at)

    # when the command runs
    call_command("broker_config", "--dir", str(tmp_path / "mq"), "--port", "18831", stdout=io.StringIO())

    # then anonymous access is off, and the password file holds the platform and the live device only
    conf = (tmp_path / "mq" / "mosquitto.conf").read_text()
    passwd = (tmp_path / "mq" / "passwd").read_text().splitlines()
    assert "allow_anonymous false" in conf and "listener 18831 127.0.0.1" in conf
    assert [line.split(":")[0] for line in passwd] == ["vw-platform", live.device_id]
    assert "pattern write vw/v1/devices/%u/obs" in (tmp_path / "mq" / "acl").read_text()
