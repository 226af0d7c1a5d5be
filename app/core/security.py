"""Passwords, session tokens and encryption of secrets at rest."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    salt_b64 = base64.b64encode(salt).decode()
    digest_b64 = base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt_b64}${digest_b64}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt_b64),
        n=int(n),
        r=int(r),
        p=int(p),
    )
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


# Password hashing runs on its own two threads: a flood of logins queues here instead of
# taking the threads (and the cores) that the API's other work needs.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-hash")


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, hash_password, password)


async def verify_password_off_loop(password: str, encoded: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, verify_password, password, encoded)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Sessions are stored by digest, so a copy of the database opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def write_private_file(path: Path, content: str) -> None:
    """Create `path` with mode 0600 (never widened by the umask) and write `content`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_bytes(path, content.encode())


def ensure_private_dir(path: Path) -> None:
    """A directory only this user can enter (0700): made so, or an existing one tightened."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def write_private_bytes(path: Path, content: bytes) -> None:
    """Write `content` to `path`, created 0600 (never widened by the umask)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    path.chmod(0o600)


SECRET_KEY_FILE = "secret.key"  # noqa: S105 - a file name, not a secret


class SecretBox:
    """Encrypts credentials stored in SQL. The key lives in the data directory (mode 0600)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> SecretBox:
        key_path = data_dir / SECRET_KEY_FILE
        if not key_path.exists():
            write_private_file(key_path, Fernet.generate_key().decode())
        return cls(key_path.read_text().strip().encode())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise ValueError("secret cannot be decrypted with this appliance's key") from error
