"""Exceptions raised by glair_vision.

Every exception derives from :class:`GlairVisionError`. Errors that got an HTTP
answer derive from :class:`APIError` and carry ``status_code``, ``reason``,
``request_id`` (the ``Request-Id`` header, for GLAIR support) and ``body`` (the
start of the raw body). All of them pickle with their attributes, so they survive
``multiprocessing``, ``concurrent.futures`` and friends.

Messages and reprs never contain a NIK, a name or a credential.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

__all__ = [
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
    "APIConnectionError",
    "APITimeoutError",
    "RequestCancelledError",
]


def _rebuild(cls: Type["GlairVisionError"], message: str, attrs: Dict[str, Any]) -> "GlairVisionError":
    exc = cls.__new__(cls)
    GlairVisionError.__init__(exc, message)
    exc.__dict__.update(attrs)
    return exc


class GlairVisionError(Exception):
    """Base class of every glair_vision error."""

    #: Stable error code shared with the Rust core, the CLI and the Node package.
    code: str = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _attrs(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "message"}

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._attrs()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(GlairVisionError):
    """The client cannot send: missing credentials, an invalid base URL or API version."""

    code = "configuration"


class ValidationError(GlairVisionError, ValueError):
    """Input rejected before anything was sent.

    ``field`` is the wire name of the offending field (or the unknown key, or
    ``"record"`` when a batch record is not a dict); ``detail`` says what was wrong.
    The value itself is never repeated: it is personal data.
    """

    code = "validation"

    def __init__(self, message: str = "", *, field: Optional[str] = None, detail: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field
        self.detail = detail if detail is not None else message

    def __repr__(self) -> str:
        return f"ValidationError(field={self.field!r}, detail={self.detail!r})"


class APIError(GlairVisionError):
    """The API answered with an HTTP error (or a body that is not a result)."""

    code = "api"

    def __init__(
        self,
        message: str = "",
        *,
        status_code: Optional[int] = None,
        reason: Optional[str] = None,
        request_id: Optional[str] = None,
        body: str = "",
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        #: HTTP status code.
        self.status_code = status_code
        #: The ``reason`` (or gateway ``error``/``message``) read from the body, if any.
        self.reason = reason
        #: The ``Request-Id`` response header.
        self.request_id = request_id
        #: The start of the raw response body (at most 512 bytes).
        self.body = body
        #: Seconds the server asked to wait (``Retry-After``), if it said.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, reason={self.reason!r}, "
            f"request_id={self.request_id!r})"
        )


class BadRequestError(APIError):
    """400 (and other 4xx not listed separately): e.g. "Invalid NIK number format"."""

    code = "bad_request"


class AuthenticationError(APIError):
    """401: wrong username or password."""

    code = "authentication"


class PermissionDeniedError(APIError):
    """403: wrong or missing API key, or the account may not use this API."""

    code = "permission_denied"


class NotFoundError(APIError):
    """404: usually a wrong base URL or API version."""

    code = "not_found"


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is in seconds (or None)."""

    code = "rate_limited"


class ServiceUnavailableError(APIError):
    """503: the population registry (Dukcapil) is down.

    ``result`` holds the per-field result the API sent with it (all None), if any.
    """

    code = "service_unavailable"

    def __init__(self, message: str = "", *, result: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.result = result


class ServerError(APIError):
    """Another 5xx."""

    code = "server"


class DecodeError(APIError):
    """A 2xx whose body is not the documented shape."""

    code = "decode"


class APIConnectionError(GlairVisionError):
    """No answer: DNS failure, connection refused or reset, TLS error."""

    code = "connection"


class APITimeoutError(APIConnectionError):
    """The connect or total deadline passed."""

    code = "timeout"


class RequestCancelledError(GlairVisionError):
    """The call was cancelled before it finished (e.g. its batch stopped)."""

    code = "cancelled"


_BY_CODE: Dict[str, Type[GlairVisionError]] = {
    cls.code: cls
    for cls in (
        ConfigurationError,
        ValidationError,
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        RateLimitError,
        ServiceUnavailableError,
        ServerError,
        DecodeError,
        APIConnectionError,
        APITimeoutError,
        RequestCancelledError,
    )
}


def error_class(code: str) -> Type[GlairVisionError]:
    """The exception class for a core error code (``"rate_limited"`` -> RateLimitError)."""
    return _BY_CODE.get(code, GlairVisionError)


def _from_native(code: str, message: str, info: Dict[str, Any]) -> GlairVisionError:
    """Called by the native module to build the exception for a core error."""
    cls = error_class(code)
    if issubclass(cls, ValidationError):
        return cls(message, field=info.get("field"), detail=info.get("detail"))
    if issubclass(cls, APIError):
        kwargs: Dict[str, Any] = {
            k: info.get(k) for k in ("status_code", "reason", "request_id", "retry_after")
        }
        kwargs["body"] = info.get("body") or ""
        if issubclass(cls, ServiceUnavailableError):
            return cls(message, result=info.get("result"), **kwargs)
        return cls(message, **kwargs)
    return cls(message)
