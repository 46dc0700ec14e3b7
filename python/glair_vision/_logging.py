"""The core's log records in the standard ``logging`` module.

Records go to ``logging.getLogger("glair_vision")``. The core only produces the
records that logger would keep: its level follows the logger's effective level,
read when a client is made, at each call, and by :func:`refresh_logging`. With the
logger at WARNING (Python's default) debug records cost nothing; a NullHandler
keeps the package silent until the application configures logging.

Records are redacted at the source, as on stderr (``GLAIR_LOG``): NIKs masked,
never a name or a credential.
"""

from __future__ import annotations

import logging
from typing import Dict, List, Optional, Tuple

from . import _native

__all__ = ["LOGGER_NAME", "logger", "refresh_logging"]

LOGGER_NAME = "glair_vision"
logger = logging.getLogger(LOGGER_NAME)
logger.addHandler(logging.NullHandler())

# Attribute names a LogRecord already has: fields of the same name are renamed
# (``logging`` refuses to overwrite them).
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

# The level last handed to the core (-1: none yet; None: off).
_current: Optional[int] = -1


def _wanted() -> Optional[int]:
    """The lowest level the logger keeps now, or None when it keeps nothing."""
    if logger.disabled:
        return None
    level = max(logger.getEffectiveLevel(), logging.root.manager.disable + 1)
    return None if level > logging.CRITICAL else level


def refresh_logging() -> None:
    """Makes the core follow the current level of the ``glair_vision`` logger.

    Clients do this when they are made and at each call; call it after changing
    the logger's level while a long batch runs (a batch reads it when it starts).
    """
    global _current
    level = _wanted()
    if level != _current:
        _native._set_log_level(level)
        _current = level


def _sync() -> None:
    """``refresh_logging``, cheap when nothing changed (a call's fast path)."""
    if _wanted() != _current:
        refresh_logging()


def _emit(level: int, target: str, message: str, fields: List[Tuple[str, str]]) -> None:
    """Called by the core (from its threads) for each record."""
    if not logger.isEnabledFor(level):
        return
    extra: Dict[str, object] = {"glair_target": target, "glair_fields": dict(fields)}
    for key, value in fields:
        extra[f"glair_{key}" if key in _RESERVED or key in extra else key] = value
    text = message + "".join(f" {key}={value}" for key, value in fields)
    logger.log(level, text, extra=extra)
