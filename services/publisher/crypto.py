"""Channel tokens at rest: Fernet with key rotation (encrypt with the newest key, read with any)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.publisher.connectors.base import Credentials
from shared.settings import PublisherSettings


class TokenVault:
    def __init__(self, settings: PublisherSettings) -> None:
        self._fernet = MultiFernet([Fernet(key.get_secret_value()) for key in settings.token_keys])

    def seal(self, credentials: Credentials) -> bytes:
        return self._fernet.encrypt(credentials.model_dump_json().encode())

    def open(self, ciphertext: bytes) -> Credentials:
        try:
            return Credentials.model_validate_json(self._fernet.decrypt(ciphertext))
        except InvalidToken as error:
            raise TokenKeyError("no configured key can read this token") from error

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt with the newest key (after a new key was put first)."""
        return self._fernet.rotate(ciphertext)


class TokenKeyError(Exception):
    """The token was sealed with a key that is no longer configured."""
