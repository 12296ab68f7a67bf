"""Device secrets and their hashes, in Mosquitto's own password-file format.

The broker checks a device's password itself, from a password file the platform writes
(see ``devices.broker_auth``). Storing the hash in that exact format means the file is just
``<device_id>:<secret_hash>`` per line and no secret is ever written anywhere.

Format (Mosquitto 2.0 ``sha512-pbkdf2``, as written by ``mosquitto_passwd``):
``$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512 digest>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

HASH_PREFIX = "$7$"
# Device secrets carry 256 bits of randomness, so the iteration count is not what protects
# them; it is kept modest because Mosquitto pays it on every device connect.
HASH_ITERATIONS = 1000
SALT_BYTES = 12


def secret_generate() -> str:
    """A new device secret: 32 random bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str, *, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """Hash ``secret`` as Mosquitto's ``$7$`` PBKDF2-SHA512 password-file entry."""
    if not secret:
        raise ValueError("A device secret cannot be empty.")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"{HASH_PREFIX}{iterations}${_b64(salt)}${_b64(digest)}"


def secret_verify(secret: str, hashed: str) -> bool:
    """True when ``secret`` matches a ``$7$`` hash (ours or one written by ``mosquitto_passwd``)."""
    parsed = _parse(hashed)
    if parsed is None or not secret:
        return False
    iterations, salt, expected = parsed
    actual = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return hmac.compare_digest(actual, expected)


def is_broker_hash(hashed: str) -> bool:
    """Whether ``hashed`` is a well-formed entry Mosquitto can check passwords against."""
    return _parse(hashed) is not None


def _parse(hashed: str) -> tuple[int, bytes, bytes] | None:
    if not hashed or not hashed.startswith(HASH_PREFIX):
        return None
    parts = hashed[len(HASH_PREFIX) :].split("$")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    try:
        salt = base64.b64decode(parts[1], validate=True)
        digest = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        return None
    iterations = int(parts[0])
    if iterations < 1 or not salt or len(digest) != 64:
        return None
    return iterations, salt, digest


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --- Factory keys (claim tokens) --------------------------------------------------------------
# A device's factory key is random (128 bits), so one fast hash is enough to keep it from
# anyone who reads the database; a slow hash would only make the anonymous collect endpoint
# an easy way to burn the server's processor time.
CLAIM_KEY_PREFIX = "sha256$"


def claim_key_generate() -> str:
    """A new factory key: 16 random bytes, URL-safe text (22 characters)."""
    return secrets.token_urlsafe(16)


def claim_key_hash(key: str) -> str:
    if not key or not key.strip():
        raise ValueError("A factory key cannot be empty.")
    return CLAIM_KEY_PREFIX + hashlib.sha256(key.strip().encode()).hexdigest()


# Compared against when a serial is unknown, so a wrong serial costs the same time as a wrong key.
_NO_DEVICE_HASH = CLAIM_KEY_PREFIX + "0" * 64


def claim_key_verify(key: str, hashed: str) -> bool:
    """True when ``key`` matches ``hashed``; constant time in the key, False for no key or no hash."""
    candidate = claim_key_hash(key) if key and key.strip() else ""
    matched = hmac.compare_digest(candidate.encode(), (hashed or _NO_DEVICE_HASH).encode())
    return matched and bool(hashed) and bool(candidate)
