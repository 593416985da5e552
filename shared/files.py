"""A file store for uploaded documents: put, get and delete by key; local disk under FILE_STORE_DIR.

The database keeps a file's key, size and SHA-256; the store keeps its bytes. A file is written to a temporary
name and renamed into place, so a reader never sees half a file and a crash leaves no partial one behind.
Uploads are checked before they are stored: at most FILE_MAX_BYTES, and of a type in FILE_ALLOWED_TYPES that
the content's first bytes confirm, because a declared type costs nothing to fake.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import event
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.problems import Problem

# The leading bytes each known type starts with (and, for containers, a second marker further in).
SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "application/pdf": ((0, b"%PDF-"),),
    "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "image/jpeg": ((0, b"\xff\xd8\xff"),),
    "image/gif": ((0, b"GIF8"),),
    "image/webp": ((0, b"RIFF"), (8, b"WEBP")),
    "image/tiff": ((0, b"II*\x00"),),
}
_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
_UNCOMMITTED = "psp.files.uncommitted"


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


def sniff(content: bytes) -> str | None:
    """The known type the content's first bytes show, if any."""
    for media_type, marks in SIGNATURES.items():
        if all(content[at:at + len(mark)] == mark for at, mark in marks):
            return media_type
    return None


class FileStore:
    def __init__(self, root: Path, max_bytes: int, allowed_types: tuple[str, ...]):
        self.root = root
        self.max_bytes = max_bytes
        self.allowed_types = allowed_types

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStore:
        return cls(settings.files_dir, settings.file_max_bytes, settings.file_allowed_types)

    def read_upload(self, stream: BinaryIO, declared_type: str, *, field: str) -> bytes:
        """The upload's bytes, if it is small enough and of an allowed type its content confirms; otherwise
        413 or 422 naming the field. Reads at most one byte past the limit."""
        content = stream.read(self.max_bytes + 1)
        if len(content) > self.max_bytes:
            raise Problem(413, "Content Too Large", f"The file is larger than {self.max_bytes} bytes.", field=field)
        if not content:
            raise Problem(422, "Unprocessable Content", "The file is empty.", field=field)
        declared = declared_type.split(";")[0].strip().lower()
        if declared not in self.allowed_types:
            raise Problem(422, "Unprocessable Content",
                          f"Type {declared or 'unknown'!r} is not allowed; allowed: {', '.join(self.allowed_types)}.",
                          field=field)
        if sniff(content) != declared:
            raise Problem(422, "Unprocessable Content", f"The file's content is not {declared}.", field=field)
        return content

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a file key: {key!r}")
        return self.root / key

    def put(self, key: str, content: bytes) -> Stored:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Stored(key, len(content), hashlib.sha256(content).hexdigest())

    def put_with(self, session: Session, key: str, content: bytes) -> Stored:
        """`put`, tied to the session's transaction: if it rolls back, the file is deleted again, so no file
        outlives the row that names it."""
        stored = self.put(key, content)
        session.info.setdefault(_UNCOMMITTED, []).append((self, key))
        return stored

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop(_UNCOMMITTED, None)


@event.listens_for(Session, "after_rollback")
def _dropped(session: Session) -> None:
    for store, key in session.info.pop(_UNCOMMITTED, ()):
        store.delete(key)
