"""Checkpoints on an object store: verify_table, Dask and Spark journaling to
``s3://`` on a real S3-compatible server (moto, started here on 127.0.0.1 with an
ephemeral port) through fsspec and s3fs, the endpoint named the AWS way
(``AWS_ENDPOINT_URL``), the sandbox counting calls: an interrupted run resumed
calls only the unfinished chunks, the objects hold no input value, a dry run
counts what is done, and a URL nothing can open is refused with nothing sent."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Iterator, List

import pandas as pd
import pytest
from conftest import SITI
from test_resume import CHUNK, calls_by_row, sendable
from test_tables import VERIFY, people, result_part

import cluster_support as cs
from cluster_support import fresh, limited  # noqa: F401 (fixtures)
from glair_vision import ConfigurationError, Sandbox, Vision
from glair_vision._partition import _FAULT_VARIABLE

AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3() -> Iterator[Dict[str, str]]:
    """A moto S3 server and the environment that points clients at it (set for
    this module: Dask workers and the Spark JVM started here inherit it)."""
    server_module = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    env = {**AWS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server._server.server_port}"}
    saved = {k: os.environ.get(k) for k in [*env, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.update(env)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(k, None)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def bucket(s3: Dict[str, str], name: str) -> Any:
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(name)
    return fs


def objects(fs: Any, prefix: str) -> List[str]:
    fs.invalidate_cache()  # written by other filesystems (the journal's, the workers')
    return sorted(p for p in fs.find(prefix) if p.endswith(".arrow"))


def test_verify_table_resumes_from_an_s3_checkpoint_and_writes_no_input_value(
    s3: Dict[str, str], sandbox: Sandbox, vision: Vision, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = bucket(s3, "resume")
    rows = people(sandbox, 230)
    frame = pd.DataFrame(rows)
    sandbox.clear_requests()
    plain = vision.identity.verify_table(frame, **VERIFY)
    checkpoint = "s3://resume/job-1"

    # The first run stops after its 2nd chunk (the journal's test seam).
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv(_FAULT_VARIABLE, f"2:{markers}")
    sandbox.clear_requests()
    with pytest.raises(Exception, match="injected fault"):  # through the Arrow reader
        vision.identity.verify_table(frame, **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK)
    first = calls_by_row(sandbox)
    assert len(objects(fs, "resume/job-1")) == 2
    monkeypatch.delenv(_FAULT_VARIABLE)

    # A dry run counts the 100 rows done and sends nothing.
    sandbox.clear_requests()
    report = vision.identity.verify_table(frame, **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK, dry_run=True)
    assert report["already_done"] == 2 * CHUNK and len(sandbox.requests()) == 0

    # The run again calls only the rows of the three chunks not journaled.
    sandbox.clear_requests()
    again = vision.identity.verify_table(frame, **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK)
    second = calls_by_row(sandbox)
    assert not set(first) & set(second), "no row called by both runs"
    assert sorted(first + second) == sorted(sendable(rows))
    assert [result_part(r) for r in again.to_dict("records")] == [result_part(r) for r in plain.to_dict("records")]
    journal = objects(fs, "resume/job-1")
    assert len(journal) == 5
    for path in journal:  # result columns only: no NIK, no name
        data = fs.cat_file(path)
        assert SITI["nik"].encode() not in data and SITI["name"].encode() not in data


def test_a_checkpoint_url_that_cannot_be_opened_is_refused_with_nothing_sent(
    sandbox: Sandbox, vision: Vision
) -> None:
    frame = pd.DataFrame(people(sandbox, 5))
    sandbox.clear_requests()
    with pytest.raises(ConfigurationError, match="not a filesystem"):
        vision.identity.verify_table(frame, **VERIFY, checkpoint="nosuchfs://bucket/job")
    try:
        import gcsfs  # noqa: F401
    except ImportError:  # the suite does not install it: the extra is named
        with pytest.raises(ConfigurationError, match=r"glair-vision\[gcs\]"):
            vision.identity.verify_table(frame, **VERIFY, checkpoint="gs://bucket/job")
    with pytest.raises(TypeError, match="object-store URL"):
        vision.identity.verify_table(frame, **VERIFY, checkpoint=42)
    assert len(sandbox.requests()) == 0


@pytest.mark.cluster
def test_dask_retried_tasks_journal_to_s3(s3: Dict[str, str], fresh: Sandbox, tmp_path: Any) -> None:
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    import dask.dataframe as dd

    from glair_vision.dask import verify

    fs = bucket(s3, "dask")
    inputs = cs.rows(800, cs.people(fresh))
    with cs.injected_faults("glair-dask-s3-faults-") as markers, distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster, distributed.Client(cluster):
        ddf = dd.from_pandas(pd.DataFrame(inputs), npartitions=2)
        result = verify(ddf, cs.client(fresh), columns=cs.COLUMNS, keep=cs.KEEP, request_id_column="id",
                        rate_limit=cs.ACCOUNT_RATE, checkpoint="s3://dask/job", checkpoint_rows=100)
        out = result.compute(retries=2)
        assert len(os.listdir(markers)) == 2  # each partition's first attempt failed 200 rows in
    cs.check_every_row_once(out.to_dict("records"), inputs)
    cs.check_calls(fresh, inputs)  # the retries called only the other rows
    journal = objects(fs, "dask/job")
    assert len(journal) == 8  # 2 partitions of 400 rows, chunks of 100
    for path in journal:
        data = fs.cat_file(path)
        assert b"NAMA YANG SALAH" not in data and cs.SITI_NIK.encode() not in data


@pytest.mark.cluster
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_retried_tasks_journal_to_s3(s3: Dict[str, str], fresh: Sandbox) -> None:
    sql = pytest.importorskip("pyspark.sql")
    from glair_vision.spark import verify

    fs = bucket(s3, "spark")
    inputs = cs.rows(800, cs.people(fresh))
    with cs.injected_faults("glair-spark-s3-faults-") as markers:
        # The store's settings as a cluster's executors are given them.
        worker_env = {**s3, _FAULT_VARIABLE: os.environ[_FAULT_VARIABLE]}
        builder = cs.local_spark(sql.SparkSession.builder.master("local[2,4]"), "glair-vision-s3", worker_env)
        spark = builder.getOrCreate()
        try:
            schema = "id string, nik string, nama string, tanggal_lahir string"
            df = spark.createDataFrame(spark.sparkContext.parallelize([tuple(x.values()) for x in inputs], 2), schema)
            result = verify(df, cs.client(fresh), columns=cs.COLUMNS, keep=cs.KEEP, request_id_column="id",
                            rate_limit=cs.ACCOUNT_RATE, checkpoint="s3://spark/job", checkpoint_rows=100)
            out = [r.asDict() for r in result.collect()]
        finally:
            spark.stop()
        assert len(os.listdir(markers)) == 2
    cs.check_every_row_once(out, inputs)
    cs.check_calls(fresh, inputs)
    assert len(objects(fs, "spark/job")) == 8
