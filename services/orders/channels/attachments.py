"""Attachment bytes outside the database (ATTACHMENTS_DIR, content-addressed), their type sniffed from content."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import filetype

# What a customer may upload to a ticket: screenshots, short videos, PDFs, plain-text logs.
UPLOAD_TYPES = ("image/", "video/", "application/pdf", "text/plain")


def sniff(data: bytes) -> str:
    """The type the bytes are (magic numbers), never the type the name or the sender claims."""
    kind = filetype.guess(data)
    if kind is not None:
        return str(kind.mime)
    if b"\x00" not in data[:4096]:
        try:
            data[:4096].decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            pass
    return "application/octet-stream"


def upload_allowed(content_type: str) -> bool:
    return content_type.startswith(UPLOAD_TYPES)


def store(root: Path, data: bytes) -> tuple[str, str]:
    """Write once under root/<2 hex>/<sha256> (atomic rename); returns (storage key, sha256)."""
    digest = hashlib.sha256(data).hexdigest()
    key = f"{digest[:2]}/{digest}"
    path = root / key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return key, digest


def read(root: Path, key: str) -> bytes:
    return (root / key).read_bytes()
