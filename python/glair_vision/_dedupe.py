# mypy: disable-error-code="import-untyped, import-not-found"
# (pyarrow ships no type information; it is an optional extra.)
"""``verify_table(..., dedupe=True)``: each distinct record is called once, as
the CLI's ``--dedupe`` does. Which rows repeat which is the core's survey
(``glair_vision::survey``: the normalised fields, so ``"3171 0145..."`` and
``"31710145..."`` are one record); this module only selects the distinct rows,
verifies them, and gives every repeat its first row's results.

The results gain a ``duplicate_of`` column after the kept ones: the position
(from 0) of the row whose results a repeat carries, null for a row that was
called. A repeat keeps its own kept columns; its ``request_id`` is the one call's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Tuple

from . import _native, _tables
from .errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from ._client import Vision

DUPLICATE_OF = "duplicate_of"


def repeats(data: Any, args: "_tables._Arguments") -> List[Tuple[int, int]]:
    """(repeat, first) row positions from 0, in input order."""
    report = _native.survey_arrow(
        data, args.columns, args.keep, args.request_id_column, args.ignore_unknown, [], True, True
    )
    return [(row - 1, first - 1) for row, first in report["duplicate_of"]]


def _first_of(table: Any, args: "_tables._Arguments") -> List[int]:
    """Each row's first occurrence (its own position, unless it repeats one)."""
    first_of = list(range(table.num_rows))
    for row, first in repeats(table, args):
        first_of[row] = first
    return first_of


def verify_table(vision: "Vision", data: Any, job: _tables.TableJob) -> Any:
    args = job.arguments()
    if DUPLICATE_OF in args.keep:
        raise ConfigurationError(f"kept column `{DUPLICATE_OF}` has the name of the dedupe column; rename it first")
    pa = _tables._pyarrow("verify_table with dedupe")
    _tables.read_twice(data, "dedupe (which rows repeat, then the distinct ones)")
    given = _tables._input(data)
    table = pa.RecordBatchReader.from_stream(given.stream).read_all()
    first_of = _first_of(table, args)
    distinct = [i for i, first in enumerate(first_of) if first == i]
    # Each row's place among the distinct rows (a repeat: its first row's).
    place = {row: k for k, row in enumerate(distinct)}
    results = job.run(vision, table.take(pa.array(distinct, pa.int64())), keep=args.keep)
    taken = results.take(pa.array([place[first] for first in first_of], pa.int64()))
    duplicate_of = pa.array([first if first != i else None for i, first in enumerate(first_of)], pa.int64())
    kept = [table.column(name) for name in args.keep]
    result_names = taken.schema.names[len(args.keep) :]
    out = pa.table(
        kept + [duplicate_of] + [taken.column(name) for name in result_names],
        names=list(args.keep) + [DUPLICATE_OF] + list(result_names),
    )
    return given.finish(out)


def dry_run(vision: "Vision", data: Any, job: _tables.TableJob) -> Any:
    """The dry run of a dedupe run: counts over every row, calls over the
    distinct ones; over a checkpoint, what its journal (of the distinct rows)
    already holds is done."""
    if job.checkpoint is not None:
        _tables.read_twice(data, "a dry run over a checkpoint (the journal, then the rows)")
    report = _tables.survey_table(data, job, None, True)
    if job.checkpoint is None:
        return report
    from . import _resume

    pa = _tables._pyarrow("verify_table with dedupe")
    table = pa.RecordBatchReader.from_stream(_tables._input(data).stream).read_all()
    first_of = _first_of(table, job.arguments())
    distinct = table.take(pa.array([i for i, first in enumerate(first_of) if first == i], pa.int64()))
    journal = _resume.dry_run(vision, distinct, job)
    return dict(report, already_done=journal["already_done"], calls=journal["calls"])
