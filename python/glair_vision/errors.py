"""Exceptions raised by glair_vision.

Every exception derives from :class:`GlairVisionError`. Errors that got an HTTP
answer derive from :class:`APIError` and carry ``status_code``, ``reason``,
``request_id`` (the ``Request-Id`` header, for GLAIR support) and ``body`` (the
start of the raw body). Errors of a call carry ``client_request_id``, the
caller's own correlation id (sent as ``x-request-id``) when one was given; a
batch's exceptions carry ``attempts`` and ``throttled`` (429s) for their record. All of
them pickle with their attributes, so they survive ``multiprocessing``,
``concurrent.futures`` and friends.

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
    "RedirectError",
    "IncompleteResponseError",
    "APIConnectionError",
    "APITimeoutError",
    "RequestCancelledError",
    "InternalError",
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
    #: The caller's correlation id of the failed call (``request_id=``), if any.
    client_request_id: Optional[str] = None
    #: Batch outcomes only (None otherwise): the attempts sent for that record
    #: (0 if it was refused before sending) and how many were answered 429.
    attempts: Optional[int] = None
    throttled: Optional[int] = None

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
        client_request_id: Optional[str] = None,
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
        #: The caller's correlation id (sent as ``x-request-id``), if one was given.
        self.client_request_id = client_request_id

    def __repr__(self) -> str:
        extra = "" if self.client_request_id is None else f", client_request_id={self.client_request_id!r}"
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, reason={self.reason!r}, "
            f"request_id={self.request_id!r}{extra})"
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
    """A 2xx whose body is not a complete result (see the README: what a 200 must
    hold), or any body longer than the client reads (256 KiB)."""

    code = "decode"


class RedirectError(APIError):
    """A 3xx. Redirects are never followed (nothing is sent to another address);
    ``location`` is the ``Location`` header, or None."""

    code = "redirect"

    def __init__(self, message: str = "", *, location: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.location = location


class IncompleteResponseError(APIError):
    """The answer began (status and headers arrived) but its body did not: the
    connection dropped, or the timeout or deadline passed while reading it. Never
    retried: the server may have processed, and billed, the call. ``status_code``,
    ``request_id`` and ``body`` hold what was read."""

    code = "incomplete_response"


class APIConnectionError(GlairVisionError):
    """No answer: DNS failure, connection refused or reset, TLS error.

    ``request_sent`` is False when the server certainly never saw the call
    (DNS, refused connection, TLS handshake, connect timeout), True when it may
    have."""

    code = "connection"

    def __init__(
        self, message: str = "", *, client_request_id: Optional[str] = None, request_sent: Optional[bool] = None
    ) -> None:
        super().__init__(message)
        self.client_request_id = client_request_id
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The connect timeout, the per-attempt timeout or the call's deadline passed
    before an answer began."""

    code = "timeout"


class RequestCancelledError(GlairVisionError):
    """The call was cancelled before it finished (e.g. its batch stopped)."""

    code = "cancelled"


class InternalError(GlairVisionError):
    """A bug in glair-vision, not in your code, input or the service: its native
    code panicked. The call failed; the process goes on and the client still
    works. Please report it (https://github.com/glair-vision/glair-vision/issues)
    with the message; ``detail`` is what the panic said."""

    code = "internal"

    def __init__(self, message: str = "", *, detail: Optional[str] = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


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
        RedirectError,
        IncompleteResponseError,
        APIConnectionError,
        APITimeoutError,
        RequestCancelledError,
        InternalError,
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
            k: info.get(k) for k in ("status_code", "reason", "request_id", "retry_after", "client_request_id")
        }
        kwargs["body"] = info.get("body") or ""
        if issubclass(cls, ServiceUnavailableError):
            return cls(message, result=info.get("result"), **kwargs)
        if issubclass(cls, RedirectError):
            return cls(message, location=info.get("location"), **kwargs)
        return cls(message, **kwargs)
    if issubclass(cls, APIConnectionError):
        return cls(message, client_request_id=info.get("client_request_id"), request_sent=info.get("request_sent"))
    if issubclass(cls, InternalError):
        return cls(message, detail=info.get("detail"))
    exc = cls(message)
    if info.get("client_request_id") is not None:
        exc.client_request_id = info["client_request_id"]
    return exc
