"""Type stubs for the native extension (checked against it with mypy.stubtest)."""

import os
from typing import Any, Awaitable, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Union, final

from .errors import GlairVisionError

__all__ = [
    "mask_nik",
    "check_options",
    "check_checkpoint_rows",
    "check_rate_limit",
    "_set_log_level",
    "_shutdown",
    "_test_panic",
    "BatchSession",
    "ArrowResults",
    "verify_arrow",
    "verify_arrow_async",
    "survey_arrow",
    "Client",
    "SandboxServer",
    "FieldResults",
    "Verification",
    "PacingState",
    "__version__",
    "DEFAULT_BASE_URL",
    "OPENAPI_DOCUMENT",
    "FIELDS",
    "DEFAULT_SANDBOX_CREDENTIALS",
]

__version__: str
DEFAULT_BASE_URL: str
OPENAPI_DOCUMENT: str
FIELDS: List[str]
DEFAULT_SANDBOX_CREDENTIALS: Tuple[str, str, str]

_Outcome = Union["Verification", GlairVisionError]
_RateLimit = Union[str, float, None]
#: A PEM setting: a path, PEM text (a str holding "-----BEGIN") or PEM bytes.
_Pem = Union[str, bytes, "os.PathLike[str]"]
_Item = Optional[Tuple[int, _Outcome]]

def mask_nik(nik: str) -> str: ...
def check_options(options: Dict[str, Any]) -> None: ...
def check_checkpoint_rows(value: int) -> int: ...
def check_rate_limit(value: _RateLimit) -> Optional[float]: ...
def _set_log_level(level: Optional[int]) -> None: ...
def _shutdown() -> None: ...
def _test_panic(place: str) -> Any: ...
@final
class FieldResults:
    """Per-field verification status: True matches, False does not, None was not
    sent or could not be checked."""

    def __new__(
        cls,
        nik: Optional[bool] = None,
        name: Optional[bool] = None,
        date_of_birth: Optional[bool] = None,
        no_kk: Optional[bool] = None,
        mother_maiden_name: Optional[bool] = None,
        place_of_birth: Optional[bool] = None,
        address: Optional[bool] = None,
        gender: Optional[bool] = None,
        marital_status: Optional[bool] = None,
        job_type: Optional[bool] = None,
        province: Optional[bool] = None,
        city: Optional[bool] = None,
        district: Optional[bool] = None,
        subdistrict: Optional[bool] = None,
        rt: Optional[bool] = None,
        rw: Optional[bool] = None,
    ) -> "FieldResults": ...
    @property
    def nik(self) -> Optional[bool]: ...
    @property
    def name(self) -> Optional[bool]: ...
    @property
    def date_of_birth(self) -> Optional[bool]: ...
    @property
    def no_kk(self) -> Optional[bool]: ...
    @property
    def mother_maiden_name(self) -> Optional[bool]: ...
    @property
    def place_of_birth(self) -> Optional[bool]: ...
    @property
    def address(self) -> Optional[bool]: ...
    @property
    def gender(self) -> Optional[bool]: ...
    @property
    def marital_status(self) -> Optional[bool]: ...
    @property
    def job_type(self) -> Optional[bool]: ...
    @property
    def province(self) -> Optional[bool]: ...
    @property
    def city(self) -> Optional[bool]: ...
    @property
    def district(self) -> Optional[bool]: ...
    @property
    def subdistrict(self) -> Optional[bool]: ...
    @property
    def rt(self) -> Optional[bool]: ...
    @property
    def rw(self) -> Optional[bool]: ...
    def to_dict(self) -> Dict[str, Optional[bool]]: ...
    def mismatched(self) -> List[str]: ...
    def __getitem__(self, key: str, /) -> Optional[bool]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> Tuple[Any, ...]: ...
    __hash__: None  # type: ignore[assignment]

@final
class Verification:
    """The registry's answer to one verification."""

    def __new__(
        cls,
        verification_status: bool,
        reason: str,
        result: Union[FieldResults, Dict[str, Optional[bool]], None] = None,
        request_id: Optional[str] = None,
        client_request_id: Optional[str] = None,
        attempts: Optional[int] = None,
        throttled: Optional[int] = None,
    ) -> "Verification": ...
    @property
    def verification_status(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def result(self) -> FieldResults: ...
    @property
    def request_id(self) -> Optional[str]: ...
    @property
    def client_request_id(self) -> Optional[str]: ...
    @property
    def attempts(self) -> Optional[int]: ...
    @property
    def throttled(self) -> Optional[int]: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> Tuple[Any, ...]: ...
    __hash__: None  # type: ignore[assignment]

@final
class PacingState:
    """The client's pacer now: its rate (None while unlimited), ceiling, the
    limit it believes the account has and how it knows it (`model`,
    `from_headers`, `window`), and the attempts sent, retried, throttled (429)
    and answered so far."""

    def __new__(
        cls,
        rate: Optional[float],
        ceiling: Optional[float],
        sent: int,
        retries: int,
        throttled: int,
        succeeded: int,
        paused: bool,
        limit: Optional[float] = None,
        window: Optional[float] = None,
        model: Optional[str] = None,
        from_headers: bool = False,
        store_processes: Optional[int] = None,
        store_joined: Optional[bool] = None,
        store_connected: Optional[bool] = None,
        store_round_trips: Optional[int] = None,
        store_wait_p99: Optional[float] = None,
    ) -> "PacingState": ...
    @property
    def rate(self) -> Optional[float]: ...
    @property
    def ceiling(self) -> Optional[float]: ...
    @property
    def sent(self) -> int: ...
    @property
    def retries(self) -> int: ...
    @property
    def throttled(self) -> int: ...
    @property
    def succeeded(self) -> int: ...
    @property
    def paused(self) -> bool: ...
    @property
    def limit(self) -> Optional[float]: ...
    @property
    def window(self) -> Optional[float]: ...
    @property
    def model(self) -> str: ...
    @property
    def store_processes(self) -> Optional[int]: ...
    @property
    def store_joined(self) -> Optional[bool]: ...
    @property
    def store_connected(self) -> Optional[bool]: ...
    @property
    def store_round_trips(self) -> Optional[int]: ...
    @property
    def store_wait_p99(self) -> Optional[float]: ...
    @property
    def from_headers(self) -> bool: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> Tuple[Any, ...]: ...
    __hash__: None  # type: ignore[assignment]

@final
class Client:
    """A configured GLAIR Vision client (the Rust core's Vision)."""

    def __new__(
        cls,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        base_url: Optional[str] = None,
        api_version: Optional[str] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        retry_unanswered: Optional[bool] = None,
        rate_limit: _RateLimit = None,
        ca_bundle: Union[_Pem, Sequence[_Pem], None] = None,
        ca_bundle_only: Optional[bool] = None,
        proxy: Union[str, Literal[False], None] = None,
        client_cert: Optional[_Pem] = None,
        client_key: Optional[_Pem] = None,
        pacing_url: Optional[str] = None,
        read_env: bool = True,
    ) -> "Client": ...
    @property
    def base_url(self) -> str: ...
    @property
    def pacing_url(self) -> Optional[str]: ...
    @property
    def api_version(self) -> str: ...
    @property
    def timeout(self) -> float: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def deadline(self) -> float: ...
    @property
    def retry_unanswered(self) -> bool: ...
    @property
    def rate_limit(self) -> Optional[float]: ...
    def pacing(self) -> "PacingState": ...
    @property
    def user_agent(self) -> str: ...
    def config(self) -> Dict[str, Any]: ...
    def verify(self, record: Dict[str, Any], options: Optional[Dict[str, Any]] = None) -> Verification: ...
    def verify_async(
        self, record: Dict[str, Any], options: Optional[Dict[str, Any]] = None
    ) -> Awaitable[Verification]: ...
    def verify_reported(
        self, record: Dict[str, Any], options: Optional[Dict[str, Any]] = None
    ) -> Tuple[Union[Verification, GlairVisionError], Dict[str, Any]]: ...
    def verify_reported_async(
        self, record: Dict[str, Any], options: Optional[Dict[str, Any]] = None
    ) -> Awaitable[Tuple[Union[Verification, GlairVisionError], Dict[str, Any]]]: ...
    def verify_batch(
        self,
        records: Iterable[Any],
        concurrency: Optional[int] = None,
        rate_limit: _RateLimit = None,
        options: Optional[Dict[str, Any]] = None,
    ) -> List[_Outcome]: ...
    def verify_batch_async(
        self,
        records: Iterable[Any],
        concurrency: Optional[int] = None,
        rate_limit: _RateLimit = None,
        options: Optional[Dict[str, Any]] = None,
    ) -> Awaitable[List[_Outcome]]: ...
    def batch_session(
        self,
        concurrency: Optional[int] = None,
        rate_limit: _RateLimit = None,
        options: Optional[Dict[str, Any]] = None,
    ) -> "BatchSession": ...

@final
class BatchSession:
    """A running streaming batch."""

    def capacity(self) -> int: ...
    def submit(self, record: Any) -> int: ...
    def close(self) -> None: ...
    def poll(self) -> _Item: ...
    def wait(self) -> _Item: ...
    def wait_async(self) -> Awaitable[_Item]: ...
    def cancel(self) -> None: ...

@final
class ArrowResults:
    """verify_arrow's results: an Arrow C stream (PyCapsule interface), read once."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...

def verify_arrow(
    client: Client,
    data: Any,
    columns: List[Tuple[str, str]],
    keep: List[str],
    request_id_column: Optional[str] = None,
    ignore_unknown: bool = False,
    concurrency: Optional[int] = None,
    rate_limit: Optional[float] = None,
    options: Optional[Dict[str, Any]] = None,
    lazy: bool = False,
) -> ArrowResults: ...
def verify_arrow_async(
    client: Client,
    data: Any,
    columns: List[Tuple[str, str]],
    keep: List[str],
    request_id_column: Optional[str] = None,
    ignore_unknown: bool = False,
    concurrency: Optional[int] = None,
    rate_limit: Optional[float] = None,
    options: Optional[Dict[str, Any]] = None,
) -> Awaitable[ArrowResults]: ...
def survey_arrow(
    data: Any,
    columns: List[Tuple[str, str]],
    keep: List[str],
    request_id_column: Optional[str] = None,
    ignore_unknown: bool = False,
    skip: List[Tuple[int, int]] = ...,
    dedupe: bool = False,
    pairs: bool = False,
) -> Dict[str, Any]: ...

@final
class SandboxServer:
    """A running in-process sandbox server."""

    def __new__(
        cls,
        *,
        records_json: Optional[str] = None,
        records_path: Optional[str] = None,
        synthetic: Optional[int] = None,
        seed: Optional[int] = None,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        latency: Optional[float] = None,
        latency_spread: Optional[float] = None,
        rate_limit: Optional[float] = None,
        burst: Optional[int] = None,
        gateway: Optional[str] = None,
        failure_rate: Optional[float] = None,
        slow_delay: Optional[float] = None,
        match_threshold: Optional[float] = None,
        host: Optional[str] = None,
        port: int = 0,
        tls: bool = False,
        tls_client_auth: bool = False,
        tls_dir: Optional[str] = None,
        tls_names: Optional[List[str]] = None,
    ) -> "SandboxServer": ...
    @property
    def url(self) -> str: ...
    @property
    def ca_file(self) -> Optional[str]: ...
    @property
    def client_cert_file(self) -> Optional[str]: ...
    @property
    def client_key_file(self) -> Optional[str]: ...
    @property
    def api_key(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def running(self) -> bool: ...
    @property
    def throttled(self) -> int: ...
    def records(self) -> List[Dict[str, str]]: ...
    def requests(self) -> List[Dict[str, Any]]: ...
    def clear_requests(self) -> None: ...
    def stop(self) -> None: ...
