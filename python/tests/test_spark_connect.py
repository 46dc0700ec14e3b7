"""glair_vision.spark.verify on a Spark Connect session (what Databricks
serverless and shared-access compute give): ``SparkSession.builder.remote``
with a ``local[2]`` master, which pyspark starts as a local Connect server, and
the client talking to it over gRPC. The classic session of test_spark.py is
stopped before this module starts (pytest runs the modules in name order): one
process holds one Spark context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, List

import pytest

import cluster_support as cs
from cluster_support import fresh, limited  # noqa: F401 (fixtures)
from glair_vision import ConfigurationError, Sandbox, ValidationError
from glair_vision.spark import tasks_at_once, verify
from test_spark import collect, run

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # The builder's static settings start the local server, then the client
    # tries them again as session settings, which a running server refuses.
    pytest.mark.filterwarnings("ignore:Failed to set spark.*CANNOT_MODIFY_CONFIG:UserWarning"),
]

ROWS = 1500


@pytest.fixture(scope="module")
def connect() -> Iterator["SparkSession"]:
    import pyspark.sql.connect.session  # noqa: F401 (pyspark[connect]: grpcio and friends; python/test.sh installs it)
    from pyspark.sql import SparkSession

    session = cs.local_spark(SparkSession.builder.remote("local[2]"), "glair-vision-connect-tests").getOrCreate()
    assert type(session).__module__.startswith("pyspark.sql.connect"), type(session)
    try:
        yield session
    finally:
        session.stop()


def frame(spark: "SparkSession", inputs: List[Dict[str, Any]], partitions: int) -> "DataFrame":
    # No sparkContext.parallelize on Connect: rows from the client (one
    # partition, in order), then split by a shuffle when asked for more.
    schema = "id string, nik string, nama string, tanggal_lahir string"
    df = spark.createDataFrame([tuple(x.values()) for x in inputs], schema)
    return df.repartition(partitions) if partitions > 1 else df


def test_a_connect_session_has_no_spark_context_and_says_its_tasks_from_its_configuration(
    connect: "SparkSession",
) -> None:
    with pytest.raises(Exception, match="sparkContext"):
        connect.sparkContext  # noqa: B018 (what the old rate split read, and failed on)
    assert tasks_at_once(connect) == 2  # local[2]


def test_every_row_once_equal_to_single_calls_under_a_shared_rate(connect: "SparkSession", fresh: Sandbox) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(ROWS, cs.people(fresh))
    result = run(frame(connect, inputs, 4), vision, rate_limit=cs.ACCOUNT_RATE)
    assert result.columns[:2] == ["id", "outcome"] and result.columns[-1] == "request_id"
    assert dict(result.dtypes)["verification_status"] == "boolean"
    by_id = cs.check_every_row_once(collect(result), inputs)
    cs.check_few_throttled(fresh)  # 900/2 calls a second per task: under the sandbox's 1000
    cs.check_calls(fresh, inputs)
    cs.check_against_single_calls(vision, by_id, inputs)


def test_without_a_rate_adaptive_pacing_needs_no_split(connect: "SparkSession", fresh: Sandbox) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(ROWS, cs.people(fresh))
    by_id = cs.check_every_row_once(collect(run(frame(connect, inputs, 3), vision)), inputs)
    assert not [k for k, r in by_id.items() if r["error_kind"] == "rate_limited"]
    cs.check_calls(fresh, inputs)


def test_tasks_at_once_given_is_the_split_and_is_checked(connect: "SparkSession", fresh: Sandbox) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(40, cs.people(fresh))
    df = frame(connect, inputs, 2)
    for bad, error in [(0, ValidationError), (-3, ValidationError), (2.5, TypeError), ("2", TypeError), (True, TypeError)]:
        with pytest.raises(error, match="tasks_at_once"):
            run(df, vision, rate_limit=cs.ACCOUNT_RATE, tasks_at_once=bad)
    # 0.005 calls a second shared by 10 tasks is below the slowest rate a task can keep.
    with pytest.raises(ValidationError, match="shared by 10 tasks"):
        run(df, vision, rate_limit=0.005, tasks_at_once=10)
    assert len(fresh.requests()) == 0  # nothing sent for any of them
    by_id = cs.check_every_row_once(collect(run(df, vision, rate_limit=cs.ACCOUNT_RATE, tasks_at_once=2)), inputs)
    assert len(by_id) == 40
    cs.check_calls(fresh, inputs)


def test_the_plan_shows_no_credentials(
    connect: "SparkSession", fresh: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    vision = cs.client(fresh)
    result = run(frame(connect, cs.rows(20, cs.people(fresh)), 2), vision)
    result.explain(extended=True)
    printed = capsys.readouterr().out
    assert "MapInArrow" in printed
    cs.no_secrets(printed)
    assert len(fresh.requests()) == 0  # planning calls nobody


def test_a_bad_mapping_is_refused_on_the_client(connect: "SparkSession", fresh: Sandbox) -> None:
    df = frame(connect, cs.rows(10, cs.people(fresh)), 2)
    with pytest.raises(ConfigurationError, match="nama"):
        verify(df, cs.client(fresh), keep=cs.KEEP)
    assert len(fresh.requests()) == 0


def test_a_checkpoint_resumes_on_connect(connect: "SparkSession", fresh: Sandbox, tmp_path: Any) -> None:
    vision = cs.client(fresh)
    inputs = cs.rows(600, cs.people(fresh))
    checkpoint = tmp_path / "checkpoint"
    # Position in a partition identifies a row in the journal: keep the split
    # the same from one run to the next (no shuffle of unordered rows).
    df = frame(connect, inputs, 1)
    first = collect(run(df, vision, checkpoint=checkpoint, checkpoint_rows=100))
    cs.check_every_row_once(first, inputs)
    cs.check_calls(fresh, inputs)
    again = collect(run(df, vision, checkpoint=checkpoint, checkpoint_rows=100))
    assert sorted(map(str, again)) == sorted(map(str, first))
    cs.check_calls(fresh, inputs)  # the second run called nobody: every chunk was journaled
