"""glair-vision: GLAIR Vision KTP Basic Verification for Python.

    from glair_vision import Vision

    vision = Vision()  # GLAIR_API_KEY, GLAIR_USERNAME, GLAIR_PASSWORD
    result = vision.identity.verification(nik="3171014508900001", name="SITI RAHAYU")
    print(result.verification_status, result.reason, result.result.name)

The logic (validation, HTTP, retries, batching) is the glair-vision Rust core.
"""

import atexit

from . import _native, errors
from ._client import FIELDS, AsyncIdentity, AsyncVision, Identity, Outcome, RateLimit, Vision
from ._logging import refresh_logging
from ._native import DEFAULT_BASE_URL, FieldResults, PacingState, Verification, __version__, mask_nik
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DecodeError,
    GlairVisionError,
    IncompleteResponseError,
    InternalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestCancelledError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)
from .sandbox import Sandbox

__all__ = [
    "Vision",
    "AsyncVision",
    "Identity",
    "AsyncIdentity",
    "Sandbox",
    "Verification",
    "FieldResults",
    "Outcome",
    "PacingState",
    "RateLimit",
    "FIELDS",
    "DEFAULT_BASE_URL",
    "mask_nik",
    "refresh_logging",
    "errors",
    "GlairVisionError",
    "ConfigurationError",
    "ValidationError",
    "APIError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "ServiceUnavailableError",
    "ServerError",
    "DecodeError",
    "RedirectError",
    "IncompleteResponseError",
    "APIConnectionError",
    "APITimeoutError",
    "RequestCancelledError",
    "InternalError",
    "__version__",
]

# Calls still in flight at exit are dropped before the interpreter is torn down,
# so none of them completes into a finalized interpreter.
atexit.register(_native._shutdown)
