"""Sealing: what could link a voter to a choice is stored only under keys that are destroyed.

A vote is stored three ways before its poll closes: the callback that carried it (inbound_update,
until it is handled), the ballot, and the comment. PostgreSQL stamps the ballot with the transaction
id of the voter's participation row and keeps old row versions and its WAL; SQLite keeps old pages
in its -wal file; backups keep everything. None of that can be cleaned from inside the application
with certainty, so the content is sealed instead (AES-256-GCM) and the keys live outside the
database, in the key directory (XIANFENG_KEY_DIR), each wrapped under a master key from the
configuration (XIANFENG_SEAL_KEY, else derived from WECOM_AES_KEY):

- one key per poll, for its ballots and comments, destroyed when the poll closes (after the close
  has committed its counts); what any copy of the database holds of those ballots is then noise;
- one key for the inbox of the moment, for every callback waiting to be handled; each close puts a
  new one in its place, and the old one is destroyed as soon as no waiting callback needs it.

So: the database alone (its files, WAL, backups) never links a voter to a choice; the database with
the configuration and the key directory does so only while a poll is open; after it closes nothing
does. A token is ``<key name>.<base64url(nonce | ciphertext)>``; the key name is bound into it.
"""
from __future__ import annotations

import base64
import fcntl
import logging
import os
import re
import secrets
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)
NAME = re.compile(r"^(poll|inbox)-[0-9a-f]{12}-[0-9a-f]{32}$")  # kind, installation, random
INBOX_NAME_LENGTH = len("inbox-") + 12 + 1 + 32
PLAIN = "plain"  # ballots and comments of a poll open when 0021 ran, stored before sealing existed
# Padded sizes (bytes) per kind of sealed thing: every real one fits, so tokens of a kind look alike.
BALLOT_SIZE = 256  # {"choice": up to 32 characters, "group": "member"|"masses"|null}
COMMENT_SIZE = 1024  # up to 200 characters (bot.handlers.vote.COMMENT_LIMIT), 4 bytes each at most
CALLBACK_SIZE = 4096  # a callback's XML: a text message holds at most 2,048 bytes of content
CARD_SIZE = 512  # a card update's call: userid, response_code, the button's words
_NONCE = 12


class KeyGone(Exception):
    """The key a token was sealed under is destroyed, or this configuration cannot unwrap it."""


class Keystore:
    """Data keys as files in one directory, wrapped under the master key; cached once unwrapped."""

    def __init__(self, directory: str | Path, secret: str | bytes):
        self.directory = Path(directory)
        raw = secret.encode() if isinstance(secret, str) else secret
        self._master = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=b"xianfeng-seal",
                                   info=b"master v1").derive(raw))
        self._keys: dict[str, AESGCM] = {}
        self._lock = threading.Lock()

    def new_key(self, kind: str, installation: str) -> str:
        """A fresh key written (atomically, fsynced) before anything is sealed under it; its name. The
        installation (storage.bot_state) scopes it: several databases may share a key directory."""
        name = f"{kind}-{installation}-{secrets.token_hex(16)}"
        key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(_NONCE)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".new-")
        with os.fdopen(handle, "wb") as out:
            out.write(nonce + self._master.encrypt(nonce, key, name.encode()))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self._path(name))
        _sync_directory(self.directory)
        with self._lock:
            self._keys[name] = AESGCM(key)
        return name

    def seal(self, name: str, plaintext: bytes, size: int) -> str:
        """Sealed, and padded to a multiple of ``size`` bytes: a ciphertext is as long as its plaintext,
        and "满意" is shorter than "基本满意", a card tap than a typed comment. Give each kind of thing one
        size that holds every real one, so all tokens of a kind are equally long."""
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._key(name).encrypt(nonce, _padded(plaintext, size), name.encode())
        return f"{name}.{base64.urlsafe_b64encode(sealed).decode()}"

    def open(self, token: str) -> bytes:
        """The plaintext; KeyGone when its key is destroyed, not this configuration's, or the token is
        not one (a made-up name never becomes a path)."""
        return next(self.open_many([token]))

    def open_many(self, tokens: Iterable[str]) -> Iterator[bytes]:
        """open() for each, with each key looked up once (a close opens 100,000 ballots)."""
        keys: dict[str, tuple[AESGCM, bytes]] = {}
        decode = base64.urlsafe_b64decode
        for token in tokens:
            name, _, body = token.partition(".")
            try:
                if name == PLAIN:
                    yield decode(body)
                    continue
                if name not in keys:
                    keys[name] = (self._key(name), name.encode())
                key, bound = keys[name]
                raw = decode(body)
                yield _unpadded(key.decrypt(raw[:_NONCE], raw[_NONCE:], bound))
            except (InvalidTag, ValueError):  # binascii.Error is a ValueError
                raise KeyGone(name) from None

    def destroy(self, name: str) -> bool:
        """Overwrite the key's file, then remove it; True if it was there. (Overwriting is what a
        file system allows: a copy-on-write one or a snapshot may keep the old blocks; README says so.)"""
        with self._lock:
            self._keys.pop(name, None)
        path = self._path(name)
        try:
            with open(path, "r+b") as out:
                out.write(b"\0" * os.fstat(out.fileno()).st_size)
                out.flush()
                os.fsync(out.fileno())
            path.unlink()
        except FileNotFoundError:
            return False
        _sync_directory(self.directory)
        return True

    def names(self, kind: str, installation: str) -> list[tuple[str, float]]:
        """This installation's keys of a kind, with the time each was written."""
        found = []
        try:
            for path in self.directory.glob(f"{kind}-{installation}-*.key"):
                try:
                    found.append((path.name[:-4], path.stat().st_mtime))
                except FileNotFoundError:
                    continue
        except FileNotFoundError:
            return []
        return sorted(item for item in found if NAME.match(item[0]))

    def usable(self, name: str) -> bool:
        """The key is there and opens under this master key (what `xianfeng doctor` checks)."""
        try:
            self._key(name)
        except KeyGone:
            return False
        return True

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    @contextmanager
    def rotating(self) -> Iterator[None]:
        """One rotation of the inbox key at a time on this machine (the processes of one `serve`)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.directory / ".rotate.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _key(self, name: str) -> AESGCM:
        with self._lock:
            key = self._keys.get(name)
        if key is not None:
            return key
        if not NAME.match(name):
            raise KeyGone(name)
        try:
            raw = self._path(name).read_bytes()
            key = AESGCM(self._master.decrypt(raw[:_NONCE], raw[_NONCE:], name.encode()))
        except (FileNotFoundError, InvalidTag, ValueError):
            raise KeyGone(name) from None
        with self._lock:
            self._keys[name] = key
        return key

    def _path(self, name: str) -> Path:
        if not NAME.match(name):
            raise KeyGone(name)
        return self.directory / f"{name}.key"


def _padded(plaintext: bytes, size: int) -> bytes:
    framed = len(plaintext).to_bytes(4, "big") + plaintext
    return framed + bytes(-len(framed) % size)


def _unpadded(framed: bytes) -> bytes:
    length = int.from_bytes(framed[:4], "big")
    if length > len(framed) - 4:
        raise ValueError("not a padded plaintext")
    return framed[4:4 + length]


def plain_token(plaintext: bytes) -> str:
    """What 0021 stored for a poll open at the upgrade: readable, as it was before sealing existed."""
    return f"{PLAIN}.{base64.urlsafe_b64encode(plaintext).decode()}"


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_configured: Keystore | None = None


def configure(directory: str | Path, secret: str) -> Keystore:
    """This process's keystore (serve, each handler process, the CLI), from the settings."""
    global _configured
    _configured = Keystore(directory, secret)
    return _configured


def keystore() -> Keystore:
    """The configured keystore; a process that configured none (an offline rehearsal, a unit test)
    gets one of its own in a temporary directory, with a random master key that dies with it."""
    global _configured
    if _configured is None:
        _configured = Keystore(tempfile.mkdtemp(prefix="xianfeng-keys-"), secrets.token_bytes(32))
        log.info("no key directory configured: sealing under a key of this process only")
    return _configured
