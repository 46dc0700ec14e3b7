"""glair_vision.spark.verify in Spark local mode (two task slots), against one
rate-limited sandbox (in this process) that every Python worker calls."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Iterator, List

import pytest

import cluster_support as cs
from cluster_support import fresh, limited  # noqa: F401 (fixtures)
from redis_support import RedisServer, redis_store  # noqa: F401 (fixture)
from glair_vision import ConfigurationError, Sandbox, Vision, _partition
from glair_vision.spark import verify

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# pyspark is imported by the session fixture, not at collection: a run that
# deselects these tests does not load it.

pytestmark = [
    pytest.mark.cluster,
    # pyspark 4.3 warns about pandas 3 even where it only moves Arrow batches.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

ROWS = 3000


@pytest.fixture(scope="module")
def fault_markers() -> Iterator[str]:
    # The checkpoint test's fault (see _partition._FAULT_VARIABLE); only
    # checkpointed runs read it.
    with cs.injected_faults("glair-spark-faults-") as markers:
        yield markers


@pytest.fixture(scope="module")
def spark(fault_markers: str) -> Iterator["SparkSession"]:
    sql = pytest.importorskip("pyspark.sql")
    # 2 task slots; a failed task is retried (up to 4 attempts).
    faults = {_partition._FAULT_VARIABLE: os.environ[_partition._FAULT_VARIABLE]}
    builder = cs.local_spark(sql.SparkSession.builder.master("local[2,4]"), "glair-vision-tests", faults)
    session = builder.config("spark.sql.shuffle.partitions", "2").getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def frame(spark: "SparkSession", inputs: List[Dict[str, Any]], partitions: int) -> "DataFrame":
    # Partitions cut by position from a local list: the same rows in the same
    # partition on every attempt (no shuffle).
    schema = "id string, nik string, nama string, tanggal_lahir string"
    rdd = spark.sparkContext.parallelize([tuple(x.values()) for x in inputs], partitions)
    return spark.createDataFrame(rdd, schema)


def collect(df: "DataFrame") -> List[Dict[str, Any]]:
    return [r.asDict() for r in df.collect()]  # one action


def run(df: "DataFrame", vision: Vision, **kwargs: Any) -> DataFrame:
    return verify(df, vision, columns=cs.COLUMNS, keep=cs.KEEP, request_id_column="id", **kwargs)


def test_every_row_once_equal_to_single_calls_under_a_shared_rate(spark: SparkSession, fresh: Sandbox) -> None:
    assert spark.sparkContext.defaultParallelism == 2
    vision = cs.client(fresh)
    inputs = cs.rows(ROWS, cs.people(fresh))
    result = run(frame(spark, inputs, 6), vision, rate_limit=cs.ACCOUNT_RATE)
    assert result.columns[:2] == ["id", "outcome"] and result.columns[-1] == "request_id"
    assert dict(result.dtypes)["verification_status"] == "boolean"
    by_id = cs.check_every_row_once(collect(result), inputs)
    cs.check_few_throttled(fresh)  # 900/2 calls a second per task: under the sandbox's 1000
    cs.check_calls(fresh, inputs)
    cs.check_against_single_calls(vision, by_id, inputs)


def test_without_a_rate_adaptive_pacing_keeps_the_cluster_under_the_limit(spark: SparkSession, fresh: Sandbox) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(ROWS, cs.people(fresh))
    by_id = cs.check_every_row_once(collect(run(frame(spark, inputs, 4), vision)), inputs)
    assert not [k for k, r in by_id.items() if r["error_kind"] == "rate_limited"]
    cs.check_calls(fresh, inputs)


def test_through_a_pacing_store_the_tasks_share_one_pace(
    spark: SparkSession, fresh: Sandbox, redis_store: RedisServer  # noqa: F811
) -> None:
    redis_store.flush()
    vision = fresh.vision(max_retries=6, pacing_url=redis_store.url)
    inputs = cs.rows(ROWS, cs.people(fresh))
    by_id = cs.check_every_row_once(collect(run(frame(spark, inputs, 4), vision)), inputs)
    assert not [k for k, r in by_id.items() if r["error_kind"] == "rate_limited"]
    cs.check_calls(fresh, inputs)
    # The URL travelled with the client's configuration to Spark's Python workers.
    assert redis_store.processes() >= 1, redis_store.dump()
    cs.no_secrets(redis_store.dump())


def test_the_plan_shows_no_credentials(spark: SparkSession, fresh: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    vision = cs.client(fresh)
    result = run(frame(spark, cs.rows(20, cs.people(fresh)), 2), vision)
    result.explain(extended=True)
    printed = capsys.readouterr().out
    assert "MapInArrow" in printed
    cs.no_secrets(printed)
    cs.no_secrets(result._jdf.queryExecution().toString())
    assert len(fresh.requests()) == 0  # planning calls nobody


def test_a_bad_mapping_is_refused_on_the_driver(spark: SparkSession, fresh: Sandbox) -> None:
    df = frame(spark, cs.rows(10, cs.people(fresh)), 2)
    with pytest.raises(ConfigurationError, match="nama"):
        verify(df, cs.client(fresh), keep=cs.KEEP)
    assert len(fresh.requests()) == 0


def test_a_retried_task_calls_no_row_twice_with_a_checkpoint(
    spark: SparkSession, fresh: Sandbox, fault_markers: str, tmp_path: Any
) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(2000, cs.people(fresh))
    checkpoint = tmp_path / "checkpoint"
    result = run(
        frame(spark, inputs, 4),
        vision,
        rate_limit=cs.ACCOUNT_RATE,
        checkpoint=checkpoint,
        checkpoint_rows=200,
    )
    out = collect(result)
    # Every partition's first attempt failed after its 2nd chunk (400 rows in).
    assert len(os.listdir(fault_markers)) == 4
    cs.check_every_row_once(out, inputs)
    cs.check_calls(fresh, inputs)  # the retries called only the other rows
    cs.check_journal(checkpoint, 4)
