"""Secrets at rest (channel tokens, sources' tokens, webhook secrets): Fernet with key rotation,
sealed with the newest key and opened with any configured one."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SealedKeyError(Exception):
    """The secret was sealed with a key that is no longer configured."""


class Sealer:
    def __init__(self, keys: Sequence[SecretStr]) -> None:
        self._fernet = MultiFernet([Fernet(key.get_secret_value()) for key in keys])

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken as error:
            raise SealedKeyError("no configured key can open this secret") from error

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt with the newest key (after a new key was put first)."""
        return self._fernet.rotate(ciphertext)
