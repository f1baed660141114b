"""Channel tokens at rest, sealed by the kernel's ``Sealer`` (Fernet with key rotation)."""

from __future__ import annotations

from services.publisher.connectors.base import Credentials
from shared.sealing import SealedKeyError, Sealer
from shared.settings import PublisherSettings

# The kernel's error, under the name the publisher's modules know it by.
TokenKeyError = SealedKeyError


class TokenVault:
    def __init__(self, settings: PublisherSettings) -> None:
        self._sealer = Sealer(settings.token_keys)

    def seal(self, credentials: Credentials) -> bytes:
        return self._sealer.seal(credentials.model_dump_json().encode())

    def open(self, ciphertext: bytes) -> Credentials:
        return Credentials.model_validate_json(self._sealer.open(ciphertext))

    def rotate(self, ciphertext: bytes) -> bytes:
        return self._sealer.rotate(ciphertext)
