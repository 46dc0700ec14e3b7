# mypy: disable-error-code="import-untyped, import-not-found"
# (fsspec and its implementations are optional extras without type information.)
"""Where a checkpoint's files live: a local (or mounted) directory, or an object
store through fsspec (``s3://`` with s3fs, ``gs://`` with gcsfs, ``az://`` and
``abfs[s]://`` with adlfs, and any other fsspec protocol).

A journal needs three things of its storage: make a directory, read a whole file
(or learn it is not there), and write a whole file atomically (readers see all of
it or nothing). Locally that is a temporary name and a rename; on an object store
a single PUT already is atomic, so the bytes are written in one ``pipe_file``.
Credentials are the implementation's own chains (environment, profiles, instance
roles; botocore honours ``AWS_ENDPOINT_URL``): nothing of them is kept here, so
nothing of them travels to workers or shows in a plan.
"""

from __future__ import annotations

import copy
import os
import uuid
from typing import Any, Optional, Tuple

from .errors import ConfigurationError

#: The extra that installs each common protocol's implementation.
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure",
           "adl": "azure"}


def is_url(location: str) -> bool:
    return "://" in location


def check(location: str) -> None:
    """Refuses, before anything is sent, a URL whose filesystem cannot be had."""
    if is_url(location):
        _filesystem(location)


def _filesystem(location: str) -> Tuple[Any, str]:
    protocol = location.split("://", 1)[0].lower()
    extra = _EXTRAS.get(protocol)
    hint = f'pip install "glair-vision[{extra}]"' if extra else "install the fsspec implementation for it"
    try:
        import fsspec
        import fsspec.core
    except ImportError:
        raise ConfigurationError(f"a checkpoint on {protocol}:// needs fsspec: {hint}") from None
    try:
        fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise ConfigurationError(f"checkpoint: {protocol}:// is not a filesystem fsspec knows") from None
    except ImportError as e:
        raise ConfigurationError(f"a checkpoint on {protocol}:// needs its fsspec implementation: {hint} ({e})") from None
    fs, path = fsspec.core.url_to_fs(location)
    return fs, path


class Directory:
    """One directory of a checkpoint, local or remote."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._fs: Optional[Any] = None
        self._path = location
        if is_url(location):
            self._fs, self._path = _filesystem(location)

    def _join(self, base: str, name: str) -> str:
        return os.path.join(base, name) if self._fs is None else f"{base.rstrip('/')}/{name}"

    def child(self, name: str) -> "Directory":
        d = copy.copy(self)  # the same filesystem object: no second credential lookup
        d.location, d._path = self._join(self.location, name), self._join(self._path, name)
        return d

    def file(self, name: str) -> str:
        """A file's location, for messages and the test seam."""
        return self._join(self.location, name)

    def make(self) -> None:
        if self._fs is None:
            os.makedirs(self._path, exist_ok=True)
        else:
            # Object stores have no directories; a filesystem that has them gets one.
            self._fs.makedirs(self._path, exist_ok=True)

    def read(self, name: str) -> Optional[bytes]:
        """A file's bytes, or None when it is not there."""
        path = self._join(self._path, name)
        if self._fs is None:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None
        # Another process (a worker, an earlier run) may have written it since this
        # filesystem listed the directory: s3fs and gcsfs answer from that listing.
        self._fs.invalidate_cache(path)
        try:
            data: bytes = self._fs.cat_file(path)
            return data
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes) -> None:
        """Writes the whole file so that no reader ever sees part of it."""
        if self._fs is not None:
            self._fs.pipe_file(self._join(self._path, name), data)
            return
        temporary = os.path.join(self._path, f".{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as f:
                f.write(data)
            os.replace(temporary, self._join(self._path, name))
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
