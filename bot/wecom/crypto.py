"""Callback signatures and AES, as WeChat Work does them (wechatpy's enterprise PrpCrypto).

wechatpy compares signatures with ``!=``; we check them ourselves in constant time and use
wechatpy only for the AES part.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from wechatpy.enterprise.crypto import PrpCrypto

MAX_CLOCK_SKEW = 300  # seconds a callback's timestamp may be off


class SignatureError(Exception):
    """The request was not signed with our token (or is too old): answer 403."""


class DecryptError(Exception):
    """Signed correctly but not decryptable with our key for our corp: answer 400."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class CallbackCrypto:
    def __init__(self, *, token: str, aes_key: str, corp_id: str):
        self._token, self._corp_id = token, corp_id
        # Built once, not per callback: with the cryptography backend (our dependency) each decrypt
        # makes its own decryptor, so one PrpCrypto serves every request.
        self._prp = PrpCrypto(base64.b64decode(aes_key + "="))

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str, *, now: float | None = None) -> None:
        expected = signature(self._token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), msg_signature.encode()):
            raise SignatureError("bad signature")
        try:
            skew = abs((time.time() if now is None else now) - int(timestamp))
        except ValueError:
            raise SignatureError("bad timestamp") from None
        if skew > MAX_CLOCK_SKEW:
            raise SignatureError("stale timestamp")

    def decrypt(self, encrypted: str) -> str:
        try:
            return self._prp.decrypt(encrypted, self._corp_id)
        except Exception as exc:  # noqa: BLE001 - any failure of untrusted ciphertext is the same 400
            raise DecryptError(type(exc).__name__) from None
