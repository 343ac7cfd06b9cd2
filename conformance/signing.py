"""Who made a certification bundle: an Ed25519 signature over its SHA256SUMS.

`certify --sign KEY` signs the bytes of SHA256SUMS (which names the SHA-256 of every other file)
with a private key in PEM (`openssl genpkey -algorithm ed25519 -out key.pem`) and writes
SHA256SUMS.sig: the algorithm, the public key, its fingerprint and the signature, as JSON.
`verify --key PUB` (the public key, PEM) or `verify --fingerprint SHA256:…` pins who must have
signed it; without a pin, verify can only say which key did. A signature proves the sums are the
signer's; the sums prove every file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "SIGNATURE",
    "Signature",
    "SigningError",
    "fingerprint",
    "load_private_key",
    "load_public_key",
    "read_signature",
    "sign_file",
]

SIGNATURE = "SHA256SUMS.sig"
_FORMAT = "spt-conformance-signature/1"


class SigningError(Exception):
    """A key or a signature file that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Signature:
    public_key: Ed25519PublicKey
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def holds_for(self, data: bytes) -> bool:
        try:
            self.public_key.verify(self.signature, data)
        except InvalidSignature:
            return False
        return True


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """`SHA256:<hex>` of the raw 32-byte public key: short enough to pin in a CI file."""
    return "SHA256:" + hashlib.sha256(_raw(key)).hexdigest()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise SigningError(f"cannot read the signing key {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"{path} is not an unencrypted PEM private key ({exc}); make one with "
            "`openssl genpkey -algorithm ed25519 -out key.pem`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path} holds a {type(key).__name__}, not an Ed25519 key; bundles are signed with Ed25519")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read the public key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:  # the private key given where the public one was expected: its public half is meant
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise SigningError(
                f"{path} is not a PEM public key ({exc}); export one with `openssl pkey -in key.pem -pubout`"
            ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def sign_file(path: Path, key: Ed25519PrivateKey) -> Path:
    """Sign the bytes of `path`; write the signature file next to it."""
    public = key.public_key()
    body = {
        "format": _FORMAT,
        "algorithm": "ed25519",
        "signed_file": path.name,
        "public_key": base64.b64encode(_raw(public)).decode(),
        "fingerprint": fingerprint(public),
        "signature": base64.b64encode(key.sign(path.read_bytes())).decode(),
    }
    out = path.with_name(SIGNATURE)
    out.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return out


def read_signature(path: Path) -> Signature:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != _FORMAT or body.get("algorithm") != "ed25519":
            raise SigningError(f"{path.name} is not an {_FORMAT} Ed25519 signature")
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"], validate=True))
        return Signature(public, base64.b64decode(body["signature"], validate=True))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise SigningError(f"{path.name} cannot be read as a signature ({exc.__class__.__name__})") from None
