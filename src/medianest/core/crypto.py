"""Secrets at rest: AES-256-GCM with a key id beside each ciphertext so keys can rotate.

`cryptography` is imported by the first encryption or decryption, not with this module:
a server with no stored secret to open never loads it (memory: docs/performance.md)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = "v1"


class DecryptionError(ValueError):
    """A stored secret cannot be decrypted (unknown key id or tampered data)."""


def generate_key() -> str:
    """A fresh 256-bit key, url-safe base64 encoded (what MEDIANEST_ENCRYPTION_KEY holds)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def generate_vapid_private_key() -> str:
    """A fresh P-256 private key for web push (RFC 8292 VAPID): the raw 32-byte scalar,
    base64url without padding (the form browsers' push libraries exchange)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_key(encoded: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("the encryption key must be url-safe base64") from exc
    if len(raw) != 32:
        raise ValueError("the encryption key must be 32 bytes (256 bits) of base64")
    return raw


def key_id(raw_key: bytes) -> str:
    return hashlib.sha256(b"medianest-key-id" + raw_key).hexdigest()[:8]


class SecretBox:
    """Encrypts with the current key; decrypts with the current or any previous key."""

    def __init__(self, current: str, previous: list[str] | None = None) -> None:
        raw = decode_key(current)
        self._current_id = key_id(raw)
        self._raw_keys: dict[str, bytes] = {self._current_id: raw}
        for old in previous or []:
            old_raw = decode_key(old)
            self._raw_keys.setdefault(key_id(old_raw), old_raw)
        self._keys: dict[str, AESGCM] = {}

    def _aead(self, kid: str) -> AESGCM:
        aead = self._keys.get(kid)
        if aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            aead = self._keys[kid] = AESGCM(self._raw_keys[kid])
        return aead

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        nonce = secrets.token_bytes(12)  # 96-bit random nonce per value
        sealed = self._aead(self._current_id).encrypt(nonce, plaintext.encode(), context.encode())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_FORMAT}:{self._current_id}:{blob}"

    def decrypt(self, stored: str, *, context: str = "") -> str:
        try:
            fmt, kid, blob = stored.split(":", 2)
        except ValueError as exc:
            raise DecryptionError("not an encrypted value") from exc
        if fmt != _FORMAT or kid not in self._raw_keys:
            raise DecryptionError(f"no key with id {kid}")
        aead = self._aead(kid)
        raw = base64.urlsafe_b64decode(blob)
        from cryptography.exceptions import InvalidTag

        try:
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError("the value was tampered with or the key is wrong") from exc

    def needs_rotation(self, stored: str) -> bool:
        return stored.split(":", 2)[1:2] != [self._current_id]
