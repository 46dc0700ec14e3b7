"""glair_vision.dask.verify on a LocalCluster of two worker processes, against one
rate-limited sandbox (in this process) that every worker calls."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Iterator, List

import pytest

import cluster_support as cs
from cluster_support import fresh, limited  # noqa: F401 (fixtures)
from redis_support import RedisServer, redis_store  # noqa: F401 (fixture)
from glair_vision import ConfigurationError, Sandbox, Vision
from glair_vision import _partition
from glair_vision.dask import tasks_at_once, verify

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client

# dask, distributed and pandas are imported by the fixtures and helpers, not at
# collection: a run that deselects these tests does not load them.

pytestmark = pytest.mark.cluster

ROWS = 3000


@pytest.fixture(scope="module")
def fault_markers() -> Iterator[str]:
    # The checkpoint test's fault (see _partition._FAULT_VARIABLE): the workers
    # inherit it when they start; only checkpointed runs read it.
    with cs.injected_faults("glair-dask-faults-") as markers:
        yield markers


@pytest.fixture(scope="module")
def dask_client(fault_markers: str) -> Iterator["Client"]:
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster, distributed.Client(cluster) as c:
        yield c


def frame(inputs: List[Dict[str, Any]], npartitions: int) -> "dd.DataFrame":
    import dask.dataframe as dd
    import pandas as pd

    return dd.from_pandas(pd.DataFrame(inputs), npartitions=npartitions, sort=False)


def records(pdf: "pd.DataFrame") -> List[Dict[str, Any]]:
    """Rows as dicts with None for every missing value (pd.NA included)."""
    plain = pdf.astype(object)
    return plain.where(plain.notna(), None).to_dict("records")


def run(ddf: "dd.DataFrame", vision: Vision, **kwargs: Any) -> "pd.DataFrame":
    return verify(
        ddf, vision, columns=cs.COLUMNS, keep=cs.KEEP, request_id_column="id", **kwargs
    ).compute()


def test_every_row_once_equal_to_single_calls_under_a_shared_rate(dask_client: Client, fresh: Sandbox) -> None:
    assert tasks_at_once() == 2
    vision = cs.client(fresh)
    inputs = cs.rows(ROWS, cs.people(fresh))
    ddf = frame(inputs, npartitions=6)
    out = run(ddf, vision, rate_limit=cs.ACCOUNT_RATE)

    assert list(out.columns[:2]) == ["id", "outcome"] and out.columns[-1] == "request_id"
    assert str(out["verification_status"].dtype) == "boolean" and out["id"].dtype == ddf["id"].dtype
    assert list(out.index) == list(range(ROWS))  # partitions and index as they came
    by_id = cs.check_every_row_once(records(out), inputs)
    cs.check_few_throttled(fresh)  # 900/2 calls a second per task: under the sandbox's 1000
    cs.check_calls(fresh, inputs)
    cs.check_against_single_calls(vision, by_id, inputs)
    # Six partitions on two worker processes: one client per process (one pool,
    # one pacing state), built once and reused.
    clients = dask_client.run(lambda: len(_partition._VISIONS))
    assert sorted(clients.values()) == [1, 1]


def test_without_a_rate_adaptive_pacing_keeps_the_cluster_under_the_limit(dask_client: Client, fresh: Sandbox) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(ROWS, cs.people(fresh))
    out = run(frame(inputs, npartitions=4), vision)
    by_id = cs.check_every_row_once(records(out), inputs)
    assert not [k for k, r in by_id.items() if r["error_kind"] == "rate_limited"]
    cs.check_calls(fresh, inputs)


def test_through_a_pacing_store_the_workers_share_one_pace(
    dask_client: Client, fresh: Sandbox, redis_store: RedisServer  # noqa: F811
) -> None:
    redis_store.flush()
    vision = fresh.vision(max_retries=6, pacing_url=redis_store.url)
    inputs = cs.rows(ROWS, cs.people(fresh))
    out = run(frame(inputs, npartitions=4), vision)
    by_id = cs.check_every_row_once(records(out), inputs)
    assert not [k for k, r in by_id.items() if r["error_kind"] == "rate_limited"]
    cs.check_calls(fresh, inputs)
    # The URL travelled with the client's configuration: both worker processes paced through the store.
    assert redis_store.processes() == 2, redis_store.dump()
    cs.no_secrets(redis_store.dump())


def test_task_graph_shows_no_credentials(dask_client: Client, fresh: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    vision = cs.client(fresh)
    assert pickle.loads(pickle.dumps(vision)).identity  # the client travels by configuration
    cs.no_secrets(repr(vision))
    result = verify(frame(cs.rows(20, cs.people(fresh)), 2), vision, columns=cs.COLUMNS, keep=cs.KEEP)
    result.pprint()
    graph = dict(result.__dask_graph__())
    printed = capsys.readouterr().out
    assert "Vision(base_url=" in printed  # the client is in the graph, by its repr
    cs.no_secrets(printed)
    cs.no_secrets(repr(graph))
    cs.no_secrets(repr(result.expr))
    assert len(fresh.requests()) == 0  # building the graph calls nobody


def test_a_bad_mapping_is_refused_before_any_task(dask_client: Client, fresh: Sandbox) -> None:
    ddf = frame(cs.rows(10, cs.people(fresh)), 2)
    with pytest.raises(ConfigurationError, match="nama"):
        verify(ddf, cs.client(fresh), keep=cs.KEEP)  # nama, tanggal_lahir not mapped
    assert len(fresh.requests()) == 0


def test_a_retried_task_calls_no_row_twice_with_a_checkpoint(
    dask_client: Client, fresh: Sandbox, fault_markers: str, tmp_path: Any
) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(2000, cs.people(fresh))
    checkpoint = tmp_path / "checkpoint"
    result = verify(
        frame(inputs, npartitions=4),
        vision,
        columns=cs.COLUMNS,
        keep=cs.KEEP,
        request_id_column="id",
        rate_limit=cs.ACCOUNT_RATE,
        checkpoint=checkpoint,
        checkpoint_rows=200,
    )
    out = result.compute(retries=2)
    # Every partition's first attempt failed after its 2nd chunk (400 rows in).
    assert len(os.listdir(fault_markers)) == 4
    cs.check_every_row_once(records(out), inputs)
    cs.check_calls(fresh, inputs)  # the retries called only the other rows
    cs.check_journal(checkpoint, 4)
    assert all(len(list(d.glob("*.arrow"))) == 3 for d in checkpoint.iterdir())  # 500 rows / 200

    # The same job again over the same directory: every result is read back.
    fresh.clear_requests()
    again = result.compute()
    assert len(fresh.requests()) == 0
    import pandas as pd

    pd.testing.assert_frame_equal(again, out)


def test_a_worker_killed_mid_partition_costs_at_most_one_chunk_with_a_checkpoint(
    dask_client: Client, fresh: Sandbox, fault_markers: str, tmp_path: Any
) -> None:
    # Last in this module: it kills a worker process (its nanny starts a new one).
    # The only fault here is the kill: the injected one is off (no marker directory).
    os.rename(fault_markers, fault_markers + ".off")
    try:
        _kill_a_worker_mid_partition(dask_client, fresh, tmp_path)
    finally:
        os.rename(fault_markers + ".off", fault_markers)


def _kill_a_worker_mid_partition(dask_client: Client, fresh: Sandbox, tmp_path: Any) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(2400, cs.people(fresh))
    rows_per_chunk = 100
    pids = dask_client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed, stop = threading.Event(), threading.Event()

    def kill_half_way() -> None:
        # Once ~1/3 of the rows are answered, SIGKILL one worker (an OOM kill, a
        # lost node): its task is rerun elsewhere.
        while not stop.is_set() and not killed.is_set():
            if sum(r["status"] != 429 for r in fresh.requests()) >= 800:
                os.kill(victim, signal.SIGKILL)
                killed.set()
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_half_way, daemon=True)
    watcher.start()
    try:
        out = run(
            frame(inputs, npartitions=2),
            vision,
            rate_limit=400.0,
            checkpoint=tmp_path / "checkpoint",
            checkpoint_rows=rows_per_chunk,
        )
    finally:
        stop.set()
        watcher.join()
    assert killed.is_set()
    cs.check_every_row_once(records(out), inputs)
    counts = cs.sent_ids(fresh.requests())
    twice = [k for k, v in counts.items() if v > 1]
    # Only the chunk in progress when the worker died is called again (without a
    # checkpoint: every row that worker had done, ~400).
    assert len(twice) <= rows_per_chunk, len(twice)
    assert max(counts.values()) <= 2
