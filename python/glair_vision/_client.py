"""The Python face of the clients: argument handling and batch iteration.

The work (validation, HTTP, retries, batching) happens in the Rust core through
``glair_vision._native``; this module only shapes arguments and results.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from typing import (
    Any,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _logging, _native, _tables
from ._telemetry import BatchTrace, Telemetry
from ._native import PacingState, Verification
from .errors import GlairVisionError, ValidationError

__all__ = ["Vision", "AsyncVision", "Identity", "AsyncIdentity", "FIELDS", "Outcome", "RateLimit", "PacingState"]

#: The 16 wire field names, in documentation order.
FIELDS: Tuple[str, ...] = tuple(_native.FIELDS)

#: One batch outcome: a result or the exception for that record.
Outcome = Union[Verification, GlairVisionError]

RateLimit = _tables.RateLimit

#: A date of birth: "dd-mm-yyyy", ISO "yyyy-mm-dd", or a date/datetime.
DateLike = Union[str, datetime.date]

#: A PEM setting: a path, PEM text (a str holding "-----BEGIN") or PEM bytes.
Pem = Union[str, bytes, "os.PathLike[str]"]

_OPTION_NAMES = (
    "api_key",
    "username",
    "password",
    "base_url",
    "api_version",
    "timeout",
    "max_retries",
    "deadline",
    "retry_unanswered",
)
_DEFAULT_CONCURRENCY = 16


def _options(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> Dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if key not in _OPTION_NAMES:
            raise TypeError(f"unknown option {key!r}; expected one of {', '.join(_OPTION_NAMES)}")
        if value is not None:
            merged[key] = value
    return merged


def _call(vision: "_BaseVision", arguments: Mapping[str, Any]) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """Splits a verification call's arguments into the record to send (only the
    fields given) and the per-call options merged over the client's (plus the
    call's own ``request_id``)."""
    _logging._sync()
    record = {key: arguments[key] for key in FIELDS if arguments.get(key) is not None}
    options = _options(vision._overrides, {key: arguments[key] for key in _OPTION_NAMES})
    if arguments.get("request_id") is not None:
        options["request_id"] = arguments["request_id"]
    return record, options or None


def _batch_options(vision: "_BaseVision", overrides: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    _logging._sync()
    return _options(vision._overrides, overrides) or None


class _BaseVision:
    _client: _native.Client
    _overrides: Dict[str, Any]
    _telemetry: Telemetry

    def __init__(
        self,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        base_url: Optional[str] = None,
        api_version: str = "v1",
        timeout: float = 30.0,
        max_retries: int = 2,
        *,
        connect_timeout: float = 10.0,
        deadline: float = 60.0,
        retry_unanswered: bool = False,
        rate_limit: RateLimit = "auto",
        ca_bundle: Union[Pem, Sequence[Pem], None] = None,
        ca_bundle_only: bool = False,
        proxy: Union[str, Literal[False], None] = None,
        client_cert: Optional[Pem] = None,
        client_key: Optional[Pem] = None,
        pacing_url: Optional[str] = None,
        telemetry: bool = True,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        # Network settings (see the README's "Corporate networks"): ca_bundle is
        # trusted besides the system's roots (only it, with ca_bundle_only);
        # proxy=None takes HTTPS_PROXY and the like, False connects directly;
        # client_cert and client_key are for gateways that require mutual TLS.
        # pacing_url: a Redis/Valkey pacing store (else GLAIR_VISION_PACING_URL)
        # that every process of the account, on any host, paces through as one.
        # telemetry: OpenTelemetry spans and metrics when the application has a
        # provider (global, or tracer_provider / meter_provider); see _telemetry.
        _logging.refresh_logging()
        if not isinstance(telemetry, bool):
            raise TypeError(f"telemetry must be a bool, not {type(telemetry).__name__}")
        self._client = _native.Client(
            api_key=api_key,
            username=username,
            password=password,
            base_url=base_url,
            api_version=api_version,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            deadline=deadline,
            retry_unanswered=retry_unanswered,
            rate_limit=rate_limit,
            ca_bundle=ca_bundle,
            ca_bundle_only=ca_bundle_only,
            proxy=proxy,
            client_cert=client_cert,
            client_key=client_key,
            pacing_url=pacing_url,
        )
        self._overrides = {}
        self._telemetry = Telemetry(telemetry, tracer_provider, meter_provider)

    @classmethod
    def _wrap(cls, client: _native.Client, overrides: Dict[str, Any],
              telemetry: Optional[Telemetry] = None) -> Any:
        self = cls.__new__(cls)
        self._client = client
        self._overrides = overrides
        self._telemetry = telemetry or Telemetry(True)
        return self

    def with_options(
        self,
        *,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        base_url: Optional[str] = None,
        api_version: Optional[str] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        retry_unanswered: Optional[bool] = None,
    ) -> Any:
        """A client that shares this one's connection pool, with some settings
        overridden for every call it makes."""
        overrides = _options(
            self._overrides,
            dict(
                api_key=api_key,
                username=username,
                password=password,
                base_url=base_url,
                api_version=api_version,
                timeout=timeout,
                max_retries=max_retries,
                deadline=deadline,
                retry_unanswered=retry_unanswered,
            ),
        )
        _native.check_options(overrides)  # reject bad values now, not at the first call
        return type(self)._wrap(self._client, overrides, self._telemetry)

    @property
    def base_url(self) -> str:
        return str(self._overrides.get("base_url", self._client.base_url))

    @property
    def api_version(self) -> str:
        return str(self._overrides.get("api_version", self._client.api_version))

    @property
    def timeout(self) -> float:
        return float(self._overrides.get("timeout", self._client.timeout))

    @property
    def max_retries(self) -> int:
        return int(self._overrides.get("max_retries", self._client.max_retries))

    @property
    def deadline(self) -> float:
        """Seconds a whole call may take: every attempt and every wait."""
        return float(self._overrides.get("deadline", self._client.deadline))

    @property
    def retry_unanswered(self) -> bool:
        """Whether calls the server may have processed are retried (default False)."""
        return bool(self._overrides.get("retry_unanswered", self._client.retry_unanswered))

    @property
    def rate_limit(self) -> RateLimit:
        """The client-wide ceiling of calls started per second, or ``"auto"``."""
        ceiling = self._client.rate_limit
        return "auto" if ceiling is None else ceiling

    @property
    def pacing_url(self) -> Optional[str]:
        """The pacing store this client shares its account's pace through
        (credentials redacted), or None."""
        return self._client.pacing_url

    def pacing(self) -> PacingState:
        """The state of this client's pacer now, shared by every call it makes
        (single calls, batches, and clients made with :meth:`with_options`): the
        send rate (None while unlimited: no 429 seen and no ceiling), the ceiling,
        and the attempts sent, retried, throttled (answered 429) and answered
        (``succeeded``: the calls billed) so far, and whether a ``Retry-After``
        pauses every call now. For progress displays and logs."""
        return self._client.pacing()

    @property
    def user_agent(self) -> str:
        return self._client.user_agent

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"timeout={self.timeout!r}, deadline={self.deadline!r}, max_retries={self.max_retries!r})"
        )

    def _endpoint(self) -> str:
        """The URL calls go to, for telemetry (a base URL has no query)."""
        return f"{self.base_url.rstrip('/')}/identity/{self.api_version}/verification"

    def __reduce__(self) -> Tuple[Any, ...]:
        # By configuration (credentials included, so that workers without the
        # environment variables can call too); the pool is rebuilt on arrival.
        # Telemetry arrives on or off: the worker's own providers record it.
        telemetry = self._telemetry.enabled
        return (_rebuild_vision, (type(self), self._client.config(), dict(self._overrides), telemetry))


def _rebuild_vision(cls: type, config: Dict[str, Any], overrides: Dict[str, Any], telemetry: bool = True) -> Any:
    client = _native.Client(read_env=False, **config)
    return cls._wrap(client, overrides, Telemetry(telemetry))  # type: ignore[attr-defined]


class Vision(_BaseVision):
    """A GLAIR Vision client (blocking calls; see :class:`AsyncVision` for asyncio).

    Credentials and the base URL not given here are read from ``GLAIR_API_KEY``,
    ``GLAIR_USERNAME``, ``GLAIR_PASSWORD`` and ``GLAIR_BASE_URL``; missing
    credentials raise :class:`~glair_vision.errors.ConfigurationError`.
    Thread-safe, picklable (by configuration) and usable after ``os.fork()``.
    Calls release the GIL while they wait and answer Ctrl-C.

    Every call of the client shares one pacer: ``rate_limit="auto"`` (the
    default) finds the account's rate limit after the first 429; a number is a
    hard ceiling of calls started per second. :meth:`pacing` shows its state.
    """

    @property
    def identity(self) -> "Identity":
        """The Identity product: KTP verification."""
        return Identity(self)

    def __enter__(self) -> "Vision":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class AsyncVision(_BaseVision):
    """Like :class:`Vision`, with ``async`` methods for asyncio."""

    @property
    def identity(self) -> "AsyncIdentity":
        """The Identity product: KTP verification."""
        return AsyncIdentity(self)

    async def __aenter__(self) -> "AsyncVision":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None


class Identity:
    """``vision.identity``: the KTP Basic Verification endpoint."""

    def __init__(self, vision: Vision) -> None:
        self._vision = vision

    def __repr__(self) -> str:
        return f"Identity({self._vision!r})"

    def verification(
        self,
        nik: Optional[str] = None,
        *,
        name: Optional[str] = None,
        date_of_birth: Optional[DateLike] = None,
        no_kk: Optional[str] = None,
        mother_maiden_name: Optional[str] = None,
        place_of_birth: Optional[str] = None,
        address: Optional[str] = None,
        gender: Optional[str] = None,
        marital_status: Optional[str] = None,
        job_type: Optional[str] = None,
        province: Optional[str] = None,
        city: Optional[str] = None,
        district: Optional[str] = None,
        subdistrict: Optional[str] = None,
        rt: Optional[str] = None,
        rw: Optional[str] = None,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        base_url: Optional[str] = None,
        api_version: Optional[str] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        retry_unanswered: Optional[bool] = None,
        request_id: Optional[str] = None,
    ) -> Verification:
        """Verifies a KTP's fields against the population registry.

        Only the fields given are sent. ``request_id`` is your own correlation id
        (1-128 visible ASCII characters), sent as ``x-request-id`` and kept as
        ``client_request_id`` on the result and on errors; ``deadline`` (seconds)
        bounds the whole call, retries and waits included; ``retry_unanswered``
        also retries failures after which the server may have processed (and
        billed) the call. Raises :class:`~glair_vision.errors.ValidationError`
        (nothing sent) for bad input, and an :class:`~glair_vision.errors.APIError`
        subclass or :class:`~glair_vision.errors.APIConnectionError` when the call
        fails. A result whose ``verification_status`` is False is not an error.
        """
        record, options = _call(self._vision, locals())
        vision = self._vision
        if not vision._telemetry.on():
            return vision._client.verify(record, options)
        client = vision._client
        return vision._telemetry.call(
            client, vision._endpoint(), (options or {}).get("request_id"),
            lambda context: client.verify_reported(record, {**(options or {}), **context}),
        )

    def verification_batch(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = _DEFAULT_CONCURRENCY,
        rate_limit: RateLimit = "auto",
        row_spans: bool = False,
        **options: Any,
    ) -> List[Outcome]:
        """Verifies many records (dicts keyed by wire field names, and optionally
        ``request_id``: that record's own correlation id) with at most
        ``concurrency`` calls in flight (1 to 4,096). Returns, in input order, a
        result or the exception for each record; one failure never stops the
        rest. Runs in Rust with the GIL released; Ctrl-C stops the batch.

        ``rate_limit="auto"`` (the default) sends as fast as the account allows:
        the client's pacer finds the pace after the first 429, and a throttled
        record is sent again behind it while its deadline allows, so throttling
        does not fail records. A number is a hard ceiling of calls started per
        second by this batch (0.001 to 1,000,000). Out-of-range settings
        raise :class:`~glair_vision.errors.ValidationError` naming the setting
        before anything is read or sent. Each outcome (result or exception)
        carries ``attempts`` (attempts sent for that record; 0 if it was refused
        before sending) and ``throttled`` (how many of them were answered 429);
        the client's totals are in :meth:`Vision.pacing`.

        With OpenTelemetry on, the batch is one ``glair_vision.batch`` span with
        its counts, and every record sends its trace context; ``row_spans=True``
        also makes each record a CLIENT span under it (from when a worker takes
        it to its outcome), whose trace context that record sends."""
        _check_switches(row_spans=row_spans)
        opts = _batch_options(self._vision, options)
        vision = self._vision
        if not vision._telemetry.on():
            return vision._client.verify_batch(records, concurrency, rate_limit, opts)
        client = vision._client
        if row_spans:
            session = client.batch_session(concurrency, rate_limit, opts)
            return _in_order(_iterate(session, iter(records), concurrency, _batch_trace(vision, True)))
        return vision._telemetry.batch(
            client, vision._endpoint(), opts, lambda o: client.verify_batch(records, concurrency, rate_limit, o)
        )

    def verification_batch_iter(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = _DEFAULT_CONCURRENCY,
        rate_limit: RateLimit = "auto",
        row_spans: bool = False,
        **options: Any,
    ) -> Iterator[Tuple[int, Outcome]]:
        """Like :meth:`verification_batch`, yielding ``(index, outcome)`` pairs as
        calls complete (not in input order). Records are read lazily, so the
        input may be a generator over a file of any size. Closing the iterator
        (or breaking out of the loop) cancels the calls in flight. With
        OpenTelemetry on, the iteration is one ``glair_vision.batch`` span that
        ends with its counts when the iterator is done or closed; ``row_spans``
        as in :meth:`verification_batch`."""
        _check_switches(row_spans=row_spans)
        opts = _batch_options(self._vision, options)
        vision = self._vision
        client = vision._client
        session = client.batch_session(concurrency, rate_limit, opts)
        if not vision._telemetry.on():
            return _iterate(session, iter(records), 2 * concurrency)
        window = concurrency if row_spans else 2 * concurrency
        return _iterate(session, iter(records), window, _batch_trace(vision, row_spans))

    def verify_table(
        self,
        data: Any,
        *,
        columns: Optional[Mapping[str, str]] = None,
        keep: Iterable[str] = (),
        request_id_column: Optional[str] = None,
        ignore_unknown: bool = False,
        concurrency: int = _tables.DEFAULT_TABLE_CONCURRENCY,
        rate_limit: RateLimit = "auto",
        options: Optional[Mapping[str, Any]] = None,
        checkpoint: Union[str, "os.PathLike[str]", None] = None,
        checkpoint_rows: int = 1000,
        dry_run: bool = False,
        dedupe: bool = False,
    ) -> Any:
        """Verifies every row of a table and returns the same kind of table: the
        ``keep`` columns, then the result columns (``outcome``,
        ``verification_status``, ``reason``, ``result_<field>`` ..., ``error_kind``,
        ``error_message``, ``request_id``), one row per input row, in order.

        ``data``: a pyarrow ``Table``, ``RecordBatch`` or ``RecordBatchReader`` (the
        result is a reader that streams lazily, in order, in bounded memory), a
        pandas or polars ``DataFrame``, or any object with ``__arrow_c_stream__``
        (the result is a pyarrow ``Table``). Columns named like wire fields are
        read into them; ``columns`` maps others (``{"nama": "name"}``); any other
        column is refused unless kept, the ``request_id_column`` (each row's
        ``x-request-id``), or ``ignore_unknown``. Nulls, NaN and ``pd.NA`` are
        unset fields; ``date_of_birth`` may be text or a date/timestamp. A bad
        row is an ``error`` row, never an exception; bad arguments raise
        ``TypeError`` or :class:`~glair_vision.errors.ConfigurationError` before
        anything is sent. Runs in Rust with the GIL released.

        ``checkpoint`` (a directory) makes the run resumable: the rows go
        ``checkpoint_rows`` at a time (1 to 100,000; default 1,000) and each
        chunk's results are written there before the next chunk starts, so a
        run killed midway and started again over the same input calls only the
        rows no earlier run finished (the chunk in flight when it was killed is
        called again). A row is identified by its position; a chunk's results
        are reused only if its rows and the settings are unchanged, so a changed
        input costs calls, never a stale result. The files hold result columns
        only, no input values. Use a new directory for a new job.
        A directory may be an object-store URL (``s3://``, ``gs://``, ``az://``,
        ``abfss://``; through fsspec: the ``s3``, ``gcs`` and ``azure`` extras),
        with credentials from the filesystem's own chain and ``AWS_ENDPOINT_URL``.

        ``dry_run=True`` sends nothing and returns a dict instead of results
        (the CLI's ``--dry-run`` report): ``rows``, ``valid``, ``invalid``,
        ``invalid_by`` (``{field, reason, rows}``, the most frequent first; never
        a value), ``duplicate_rows`` (valid rows repeating an earlier record),
        ``already_done`` (rows journaled in ``checkpoint``) and ``calls`` (what
        the run would make; each answered with a verification is billed).

        ``dedupe=True`` calls each distinct record once (the normalised fields,
        as the CLI's ``--dedupe``): a row repeating an earlier one gets that
        row's results, and a ``duplicate_of`` column after the kept ones holds
        the first row's position (from 0; null for rows called). It reads the
        input twice, so it takes a table or DataFrame, not a reader."""
        _check_switches(dry_run=dry_run, dedupe=dedupe)
        if dry_run or dedupe or checkpoint is not None:
            job = _tables.TableJob(
                columns, keep, request_id_column, ignore_unknown, concurrency, rate_limit, options, checkpoint,
                checkpoint_rows,
            )
            return _table_job(self._vision, data, job, dry_run=dry_run, dedupe=dedupe)
        opts = _batch_options(self._vision, dict(options or {}))
        return _tables.verify_table(
            self._vision._client, data, columns, keep, request_id_column, ignore_unknown, concurrency, rate_limit, opts
        )


def _table_job(vision: "Vision", data: Any, job: _tables.TableJob, *, dry_run: bool, dedupe: bool) -> Any:
    """``verify_table`` with a checkpoint, a dry run or dedupe (modules loaded
    only then: the journal and the dedupe pass)."""
    from . import _dedupe, _resume

    if dry_run and dedupe:
        return _dedupe.dry_run(vision, data, job)
    if dry_run:
        return _resume.dry_run(vision, data, job) if job.checkpoint is not None else _tables.survey_table(data, job)
    if dedupe:
        return _dedupe.verify_table(vision, data, job)
    return _resume.verify_table(vision, data, job)


def _check_switches(**switches: Any) -> None:
    for name, value in switches.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, not {type(value).__name__}")


def _unsent(error: ValidationError) -> ValidationError:
    # A record refused before sending: no attempts, as the native outcomes say.
    error.attempts = 0
    error.throttled = 0
    return error


def _batch_trace(vision: "_BaseVision", row_spans: bool) -> Callable[[], BatchTrace]:
    """Starts a batch's telemetry when its iteration does (an iterator never
    iterated leaves no span open); its rows carry the trace context."""
    telemetry, client, endpoint = vision._telemetry, vision._client, vision._endpoint()
    return lambda: telemetry.start_batch(client, endpoint, row_spans=row_spans)


def _in_order(pairs: Iterator[Tuple[int, Outcome]]) -> List[Outcome]:
    done = dict(pairs)
    return [done[i] for i in range(len(done))]


class _Feed:
    """What the sync and async iterators over a batch session share: each
    record's position, the records between being read and being yielded (at
    most ``window``: memory stays flat however long the input is), and the
    batch's telemetry."""

    def __init__(self, session: _native.BatchSession, window: int,
                 start_trace: Optional[Callable[[], BatchTrace]]) -> None:
        self.session = session
        self.trace = start_trace() if start_trace is not None else None
        self._window = window
        self._positions: Dict[int, int] = {}
        self._read = 0
        self.exhausted = False

    def wants(self) -> bool:
        """Whether the next record should be read now."""
        return not self.exhausted and len(self._positions) < self._window and self.session.capacity() > 0

    def end_of_input(self) -> None:
        self.exhausted = True
        self.session.close()

    def done(self) -> bool:
        return self.exhausted and not self._positions

    def submit(self, record: Any) -> Optional[Tuple[int, Outcome]]:
        """Hands a record to the session; a record refused before sending comes
        back at once as its ``(position, outcome)``."""
        position = self._read
        self._read += 1
        try:
            self._positions[self.session.submit(self.trace.row(position, record) if self.trace else record)] = position
        except ValidationError as e:
            return position, self._settled(position, _unsent(e))
        return None

    def answered(self, item: Tuple[int, Outcome]) -> Tuple[int, Outcome]:
        submitted, outcome = item
        position = self._positions.pop(submitted)
        return position, self._settled(position, outcome)

    def _settled(self, position: int, outcome: Outcome) -> Outcome:
        if self.trace is not None:
            self.trace.settled(position, outcome)
        return outcome

    def close(self, failure: Optional[BaseException]) -> None:
        """Stops the session (calls in flight are abandoned) and ends the batch span."""
        self.session.cancel()
        if self.trace is not None:
            self.trace.end(failure)


def _iterate(
    session: _native.BatchSession, records: Iterator[Mapping[str, Any]], window: int,
    start_trace: Optional[Callable[[], BatchTrace]] = None,
) -> Iterator[Tuple[int, Outcome]]:
    feed = _Feed(session, window, start_trace)
    failure: Optional[BaseException] = None
    try:
        while True:
            while feed.wants():
                try:
                    record = next(records)
                except StopIteration:
                    feed.end_of_input()
                    break
                refused = feed.submit(record)
                if refused is not None:
                    yield refused
            if feed.done():
                return
            item = session.wait()
            if item is None:
                return
            yield feed.answered(item)
    except GeneratorExit:
        raise  # the consumer stopped: not a failure of the batch
    except BaseException as e:
        failure = e
        raise
    finally:
        feed.close(failure)


class AsyncIdentity:
    """``async_vision.identity``: the KTP Basic Verification endpoint, for asyncio."""

    def __init__(self, vision: AsyncVision) -> None:
        self._vision = vision

    def __repr__(self) -> str:
        return f"AsyncIdentity({self._vision!r})"

    async def verification(
        self,
        nik: Optional[str] = None,
        *,
        name: Optional[str] = None,
        date_of_birth: Optional[DateLike] = None,
        no_kk: Optional[str] = None,
        mother_maiden_name: Optional[str] = None,
        place_of_birth: Optional[str] = None,
        address: Optional[str] = None,
        gender: Optional[str] = None,
        marital_status: Optional[str] = None,
        job_type: Optional[str] = None,
        province: Optional[str] = None,
        city: Optional[str] = None,
        district: Optional[str] = None,
        subdistrict: Optional[str] = None,
        rt: Optional[str] = None,
        rw: Optional[str] = None,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        base_url: Optional[str] = None,
        api_version: Optional[str] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        deadline: Optional[float] = None,
        retry_unanswered: Optional[bool] = None,
        request_id: Optional[str] = None,
    ) -> Verification:
        """Like :meth:`Identity.verification`, awaitable. Cancelling the task
        aborts the call."""
        record, options = _call(self._vision, locals())
        vision = self._vision
        if not vision._telemetry.on():
            return await vision._client.verify_async(record, options)
        client = vision._client
        return await vision._telemetry.call_async(
            client, vision._endpoint(), (options or {}).get("request_id"),
            lambda context: client.verify_reported_async(record, {**(options or {}), **context}),
        )

    async def verification_batch(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = _DEFAULT_CONCURRENCY,
        rate_limit: RateLimit = "auto",
        row_spans: bool = False,
        **options: Any,
    ) -> List[Outcome]:
        """Like :meth:`Identity.verification_batch`, awaitable."""
        _check_switches(row_spans=row_spans)
        opts = _batch_options(self._vision, options)
        vision = self._vision
        if not vision._telemetry.on():
            return await vision._client.verify_batch_async(records, concurrency, rate_limit, opts)
        client = vision._client
        if row_spans:
            session = client.batch_session(concurrency, rate_limit, opts)
            traced = _aiterate(session, records, concurrency, _batch_trace(vision, True))
            done = {position: outcome async for position, outcome in traced}
            return [done[i] for i in range(len(done))]
        return await vision._telemetry.batch_async(
            client, vision._endpoint(), opts, lambda o: client.verify_batch_async(records, concurrency, rate_limit, o)
        )

    def verification_batch_iter(
        self,
        records: Union[Iterable[Mapping[str, Any]], AsyncIterable[Mapping[str, Any]]],
        *,
        concurrency: int = _DEFAULT_CONCURRENCY,
        rate_limit: RateLimit = "auto",
        row_spans: bool = False,
        **options: Any,
    ) -> AsyncIterator[Tuple[int, Outcome]]:
        """An async iterator of ``(index, outcome)`` pairs as calls complete.
        ``records`` may be a (lazy) iterable or an async iterable of dicts.
        Telemetry and ``row_spans`` as in :meth:`Identity.verification_batch_iter`."""
        _check_switches(row_spans=row_spans)
        opts = _batch_options(self._vision, options)
        vision = self._vision
        client = vision._client
        session = client.batch_session(concurrency, rate_limit, opts)
        if not vision._telemetry.on():
            return _aiterate(session, records, 2 * concurrency)
        window = concurrency if row_spans else 2 * concurrency
        return _aiterate(session, records, window, _batch_trace(vision, row_spans))

    async def verify_table(
        self,
        data: Any,
        *,
        columns: Optional[Mapping[str, str]] = None,
        keep: Iterable[str] = (),
        request_id_column: Optional[str] = None,
        ignore_unknown: bool = False,
        concurrency: int = _tables.DEFAULT_TABLE_CONCURRENCY,
        rate_limit: RateLimit = "auto",
        options: Optional[Mapping[str, Any]] = None,
        checkpoint: Union[str, "os.PathLike[str]", None] = None,
        checkpoint_rows: int = 1000,
        dry_run: bool = False,
        dedupe: bool = False,
    ) -> Any:
        """Like :meth:`Identity.verify_table`, awaitable (a ``RecordBatchReader``
        still comes back as a lazy reader, read by its consumer). With a
        ``checkpoint``, the chunks run one after another on a worker thread
        (and a ``dry_run`` reads its rows there, as ``dedupe`` its two passes)."""
        _check_switches(dry_run=dry_run, dedupe=dedupe)
        if dry_run or dedupe or checkpoint is not None:
            job = _tables.TableJob(
                columns, keep, request_id_column, ignore_unknown, concurrency, rate_limit, options, checkpoint,
                checkpoint_rows,
            )
            # The same client (pool, pacing), driven chunk by chunk from a thread.
            vision = Vision._wrap(self._vision._client, dict(self._vision._overrides))
            return await asyncio.to_thread(_table_job, vision, data, job, dry_run=dry_run, dedupe=dedupe)
        opts = _batch_options(self._vision, dict(options or {}))
        return await _tables.verify_table_async(
            self._vision._client, data, columns, keep, request_id_column, ignore_unknown, concurrency, rate_limit, opts
        )


async def _aiterate(
    session: _native.BatchSession,
    records: Union[Iterable[Mapping[str, Any]], AsyncIterable[Mapping[str, Any]]],
    window: int,
    start_trace: Optional[Callable[[], BatchTrace]] = None,
) -> AsyncIterator[Tuple[int, Outcome]]:
    if hasattr(records, "__aiter__"):
        source: Any = records.__aiter__()  # type: ignore[union-attr]
        is_async = True
    else:
        source = iter(records)  # type: ignore[arg-type]
        is_async = False
    feed = _Feed(session, window, start_trace)
    failure: Optional[BaseException] = None
    try:
        while True:
            while feed.wants():
                try:
                    record = await source.__anext__() if is_async else next(source)
                except (StopIteration, StopAsyncIteration):
                    feed.end_of_input()
                    break
                refused = feed.submit(record)
                if refused is not None:
                    yield refused
            if feed.done():
                return
            item = await session.wait_async()
            if item is None:
                return
            yield feed.answered(item)
    except GeneratorExit:
        raise  # the consumer stopped: not a failure of the batch
    except BaseException as e:
        failure = e
        raise
    finally:
        feed.close(failure)
