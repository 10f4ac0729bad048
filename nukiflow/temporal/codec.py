"""Payload encryption for everything nukiflow puts into Temporal: AES-256-GCM with key ids.

Keypad codes travel in workflow inputs, update arguments, results and activity payloads, and
Temporal stores all of them in history and shows them in its UI. :class:`EncryptionCodec`
encrypts every payload before it leaves a nukiflow client or worker; only processes holding
the key (workers, clients, the codec server) can read them.

Format of an encrypted payload (the one of Temporal's encryption samples, so their tooling can
read it given the key)::

    metadata  encoding = "binary/encrypted", encryption-key-id = <key id>
    data      12-byte random nonce || AES-256-GCM(serialized original Payload) with its tag

The whole original payload (its metadata and its data) is encrypted, so nothing about the
value, not even its encoding, is visible. AES-GCM also authenticates: a payload that decrypts
was written by a holder of the key. So workers and clients refuse payloads that are not
encrypted (:class:`UnencryptedPayloadError`): a plain-text input, say a workflow started from
the Temporal UI or CLI without the codec server, must not drive a lock. The codec server, which
only shows payloads, passes them through (``allow_plaintext=True``).

Keys and rotation: a :class:`Keyring` holds one or more keys, each with an id. The first key is
*current*: every new payload is encrypted with it. Every key decrypts, so to rotate, put a new
key first and keep the old ones after it until no history that needs them is kept any more.
A process that meets a payload of a key it does not have fails with :class:`UnknownKeyError`,
naming the key it misses and the keys it has (never key material).

This module imports ``cryptography``, a native extension the workflow sandbox cannot load:
import it from clients, workers and the codec server only, never from workflow modules.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
# Key ids end up in payload metadata (plain text) and in error messages: keep them boring,
# and shorter than a base64 key (43+ characters), so a key written where its id belongs is
# refused as an id and never echoed.
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")

DEV_KEY_FILE = "codec-keys"
KEY_FILE_HEADER = (
    "# nukiflow payload encryption keys, one `id:base64-key` (32 bytes) a line.\n"
    "# The first key encrypts new payloads; every key decrypts. Keep this file secret.\n"
)


class CodecError(RuntimeError):
    """Base of the codec's errors. Messages name key ids, never key material or payloads."""


class CodecConfigError(CodecError):
    """The keys are missing or malformed."""


class UnknownKeyError(CodecError):
    """A payload was encrypted with a key this process does not have."""


class DecryptionError(CodecError):
    """A payload claims a key this process has, but does not decrypt with it."""


class UnencryptedPayloadError(CodecError):
    """A payload that should be encrypted is not (written without nukiflow's converter)."""


def new_key_id(prefix: str = "k") -> str:
    """A fresh key id such as ``k20260131-3fa2``: sortable by date, unique enough."""
    return f"{prefix}{datetime.now(UTC):%Y%m%d}-{os.urandom(2).hex()}"


@dataclass(frozen=True, repr=False)
class CodecKey:
    """One AES-256 key with its id. ``repr`` shows the id only."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            # Not echoed: a key written the wrong way round would put its secret here.
            raise CodecConfigError(
                "invalid key id: use 1-40 characters A-Z a-z 0-9 . _ -, starting with a letter "
                "or digit, then `:` and the base64 key"
            )
        if len(self.secret) != KEY_BYTES:
            raise CodecConfigError(
                f"key {self.key_id!r} has {len(self.secret)} bytes; AES-256 needs {KEY_BYTES}"
            )

    @classmethod
    def generate(cls, key_id: str | None = None) -> CodecKey:
        return cls(key_id or new_key_id(), AESGCM.generate_key(bit_length=KEY_BYTES * 8))

    @classmethod
    def parse(cls, text: str) -> CodecKey:
        """One key written as ``id:base64`` (standard or URL-safe base64, padding optional)."""
        key_id, sep, encoded = text.strip().partition(":")
        key_id, encoded = key_id.strip(), encoded.strip()
        if not sep or not key_id or not encoded:
            raise CodecConfigError(
                "a key is written `id:base64-key` (32 random bytes in base64); "
                "generate one with `python -m nukiflow.temporal.codec`"
            )
        if not _KEY_ID.fullmatch(key_id):
            cls(key_id, bytes(KEY_BYTES))  # raises the invalid-id error
        padded = encoded.replace("-", "+").replace("_", "/") + "=" * (-len(encoded) % 4)
        try:
            secret = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            raise CodecConfigError(f"key {key_id!r} is not valid base64") from None
        return cls(key_id, secret)

    def to_text(self) -> str:
        return f"{self.key_id}:{base64.b64encode(self.secret).decode('ascii')}"

    def __repr__(self) -> str:
        return f"CodecKey({self.key_id!r})"


class Keyring:
    """Keys by id; the first one is current (encrypts), every one decrypts."""

    def __init__(self, keys: Iterable[CodecKey]) -> None:
        self._keys: tuple[CodecKey, ...] = tuple(keys)
        if not self._keys:
            raise CodecConfigError("a keyring needs at least one key")
        by_id: dict[str, CodecKey] = {}
        for key in self._keys:
            if key.key_id in by_id:
                raise CodecConfigError(f"key id {key.key_id!r} is given twice")
            by_id[key.key_id] = key
        self._by_id = by_id

    @classmethod
    def generate(cls, key_id: str | None = None) -> Keyring:
        return cls([CodecKey.generate(key_id)])

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Keys separated by commas, spaces or new lines; ``#`` starts a comment line."""
        entries: list[str] = []
        for line in text.splitlines():
            if line.strip().startswith("#"):
                continue
            entries += [e for e in re.split(r"[,\s]+", line) if e]
        if not entries:
            raise CodecConfigError("no key given (expected `id:base64-key`, comma separated)")
        return cls(CodecKey.parse(entry) for entry in entries)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CodecConfigError(f"cannot read the key file {path}: {exc.strerror}") from None
        try:
            return cls.parse(text)
        except CodecConfigError as exc:
            raise CodecConfigError(f"key file {path}: {exc}") from None

    @property
    def current(self) -> CodecKey:
        return self._keys[0]

    @property
    def key_ids(self) -> list[str]:
        return [key.key_id for key in self._keys]

    def get(self, key_id: str) -> CodecKey | None:
        return self._by_id.get(key_id)

    def rotated(self, new: CodecKey | None = None) -> Keyring:
        """This keyring with ``new`` (default: a fresh key) as current; old keys still decrypt."""
        new = new or CodecKey.generate()
        return Keyring([new, *(key for key in self._keys if key.key_id != new.key_id)])

    def to_text(self) -> str:
        """The key file format (secret!)."""
        return KEY_FILE_HEADER + "".join(f"{key.to_text()}\n" for key in self._keys)

    def __iter__(self) -> Iterator[CodecKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.key_id!r}, keys={self.key_ids!r})"


def as_keyring(keys: Keyring | CodecKey | Iterable[CodecKey]) -> Keyring:
    if isinstance(keys, Keyring):
        return keys
    if isinstance(keys, CodecKey):
        return Keyring([keys])
    return Keyring(keys)


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec; see the module docstring for the format and rotation.

    ``allow_plaintext`` lets unencrypted payloads through ``decode`` unchanged (for tools that
    only display payloads); workers and clients keep the default and refuse them.
    """

    def __init__(
        self, keys: Keyring | CodecKey | Iterable[CodecKey], *, allow_plaintext: bool = False
    ) -> None:
        self.keyring = as_keyring(keys)
        self.allow_plaintext = allow_plaintext
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in self.keyring}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encrypt(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decrypt(payloads)

    def encrypt(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self.keyring.current.key_id
        cipher = self._ciphers[key_id]
        encrypted = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), None)
            encrypted.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode("ascii")},
                    data=nonce + sealed,
                )
            )
        return encrypted

    def decrypt(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt_one(payload) for payload in payloads]

    def _decrypt_one(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding")
        if encoding != ENCODING:
            if self.allow_plaintext:
                return payload
            shown = (encoding or b"none").decode("utf-8", "replace")[:40]
            raise UnencryptedPayloadError(
                f"refusing an unencrypted payload (encoding {shown!r}): nukiflow encrypts every "
                "payload, so this one was written without its data converter (e.g. from the "
                "Temporal UI or CLI without the codec server) and is not trusted"
            )
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(
                f"a payload is encrypted with key {key_id[:40]!r}, which this process does not "
                f"have (it has {', '.join(self.keyring.key_ids)}): add that key to "
                "NUKIFLOW_CODEC_KEYS or NUKIFLOW_CODEC_KEY_FILE (after the current key)"
            )
        data = payload.data
        if len(data) <= NONCE_BYTES:
            raise DecryptionError(f"a payload encrypted with key {key_id!r} is truncated")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag:
            raise DecryptionError(
                f"a payload does not decrypt with key {key_id!r}: the key configured under that "
                "id is not the one that encrypted it, or the payload was altered"
            ) from None
        decrypted = Payload()
        decrypted.ParseFromString(plain)
        return decrypted


def encrypted_key_id(payload: Payload) -> str | None:
    """The id of the key that encrypted ``payload``; ``None`` if it is not encrypted."""
    if payload.metadata.get("encoding") != ENCODING:
        return None
    return payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")


# -- key files --------------------------------------------------------------------------


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Write ``keyring`` to a new file readable by its owner only (never overwrites)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(keyring.to_text())


def key_file_is_private(path: Path) -> bool:
    """Whether only the owner may read the key file (always true where modes do not apply)."""
    if os.name != "posix":
        return True
    return not path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def dev_key_file(state_dir: Path) -> Path:
    """Where ``nukiflow dev`` keeps its generated key."""
    return state_dir / DEV_KEY_FILE


def ensure_dev_keyring(state_dir: Path) -> Keyring:
    """The dev key of ``state_dir``, generated (and written, mode 0600) on first use.

    The same file is found again by :meth:`nukiflow.settings.Settings.keyring` for processes
    that run against the fake Nuki cloud (no ``NUKIFLOW_NUKI_URL``) with the same state dir, so
    a second terminal's client reads what the dev worker wrote.
    """
    path = dev_key_file(state_dir)
    if not path.exists():
        # Another process may create it meanwhile: then use theirs.
        with contextlib.suppress(FileExistsError):
            write_key_file(path, Keyring.generate(new_key_id("dev")))
    return Keyring.from_file(path)


def main() -> None:
    """``python -m nukiflow.temporal.codec``: print a new ``id:base64`` key for
    NUKIFLOW_CODEC_KEYS."""
    import sys

    key_id = sys.argv[1] if len(sys.argv) > 1 else None
    print(CodecKey.generate(key_id).to_text())


if __name__ == "__main__":
    main()
