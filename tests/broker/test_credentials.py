"""Device secret hashes in Mosquitto's own $7$ format, checked against mosquitto_passwd."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from devices.credentials import is_broker_hash, secret_generate, secret_hash, secret_verify


def test_a_secret_verifies_against_its_own_hash_and_nothing_else():
    # given a fresh secret and its hash
    secret = secret_generate()
    hashed = secret_hash(secret)

    # when it is checked, then only the same secret matches
    assert hashed.startswith("$7$1000$")
    assert secret_verify(secret, hashed)
    assert not secret_verify(secret + "x", hashed)
    assert not secret_verify("", hashed)


def test_the_same_secret_hashes_differently_each_time():
    # given one secret hashed twice, then the salts differ (no two devices share a hash)
    assert secret_hash("same-secret") != secret_hash("same-secret")


@pytest.mark.parametrize("bad", ["", "plain", "$6$abc$def", "$7$x$AAAA$BBBB", "$7$101$!!!$BBBB", "$7$101$QUFB$QUFB"])
def test_a_malformed_hash_is_never_accepted(bad):
    # given a malformed hash, then it is not a broker hash and verifies nothing
    assert not is_broker_hash(bad)
    assert not secret_verify("anything", bad)


def test_an_empty_secret_cannot_be_hashed():
    with pytest.raises(ValueError, match="empty"):
        secret_hash("")


def test_a_hash_written_by_mosquitto_passwd_verifies(tmp_path):
    # given a password file written by Mosquitto's own tool
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires mosquitto_passwd")
        pytest.skip("mosquitto_passwd is not installed")
    passwd = tmp_path / "passwd"
    subprocess.run([tool, "-c", "-b", str(passwd), "dev-abc", "s3cret-value"], check=True)

    # when its hash is read back
    username, hashed = passwd.read_text().strip().split(":", 1)

    # then the platform's verifier accepts the right secret and refuses a wrong one
    assert username == "dev-abc" and is_broker_hash(hashed)
    assert secret_verify("s3cret-value", hashed)
    assert not secret_verify("s3cret-valuf", hashed)
