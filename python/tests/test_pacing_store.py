"""One account's pace across hosts through a pacing store, from Python: processes
with separate state (as on separate hosts) that share only a real redis-server pace
as one; the option is checked in every form; the URL's password shows nowhere; a
store that is unreachable or refuses the password costs no row and says so once."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
from typing import Any, Dict, Iterator, List

import pytest

import glair_vision
from glair_vision import AsyncVision, ConfigurationError, GlairVisionError, Sandbox, Vision

from redis_support import PASSWORD, RedisServer, redis_store  # noqa: F401 (fixture)


def rows(sb: Sandbox, n: int) -> List[Dict[str, str]]:
    people = sb.records()
    return [{"nik": people[i % len(people)]["nik"]} for i in range(n)]


@pytest.fixture
def store(redis_store: RedisServer) -> Iterator[RedisServer]:  # noqa: F811
    redis_store.flush()
    yield redis_store


# A process of its own (its own pacing directory: nothing shared through the host).
CHILD = textwrap.dedent(
    """
    import json, os
    from glair_vision import GlairVisionError, Vision

    config = json.loads(os.environ["STORE_CHILD"])
    vision = Vision(**config["client"])
    outcomes = vision.identity.verification_batch(config["rows"], concurrency=16)
    bad = [o for o in outcomes if isinstance(o, GlairVisionError)]
    p = vision.pacing()
    print(json.dumps({
        "failed": len(bad), "first": repr(bad[0]) if bad else None, "throttled": p.throttled,
        "processes": p.store_processes, "joined": p.store_joined, "connected": p.store_connected,
        "round_trips": p.store_round_trips, "wait_p99": p.store_wait_p99,
        "limit": p.limit, "shown": repr(vision) + repr(p) + str(vision.pacing_url),
    }))
    """
)


def test_processes_on_separate_state_share_one_pace_through_the_store(store: RedisServer) -> None:
    with Sandbox(rate_limit=120.0, burst=10, latency=0.01, latency_spread=0.005, seed=5) as sb:
        client = {"base_url": sb.url, **sb.credentials, "pacing_url": store.url}
        env = {**os.environ, "STORE_CHILD": json.dumps({"client": client, "rows": rows(sb, 240)})}
        children = []
        for _ in range(3):
            alone = {**env, "GLAIR_VISION_PACING_DIR": tempfile.mkdtemp(prefix="glair-host-")}
            children.append(subprocess.Popen([sys.executable, "-c", CHILD], env=alone, stdout=subprocess.PIPE, text=True))
        reports = []
        for child in children:
            out, _ = child.communicate(timeout=120)
            assert child.returncode == 0
            reports.append(json.loads(out))
        assert [r["failed"] for r in reports] == [0, 0, 0], reports
        assert all(r["joined"] and r["connected"] and r["processes"] == 3 for r in reports), reports
        assert all(0 < r["round_trips"] <= 240 and r["wait_p99"] >= 0.0 for r in reports), reports
        limits = [r["limit"] for r in reports]
        assert None not in limits and max(limits) <= 1.1 * min(limits), f"one estimate: {limits}"
        assert sum(r["throttled"] for r in reports) == sb.throttled
        assert sb.throttled * 20 < 3 * 240, f"{sb.throttled} 429s: one pace, not three"
        for report in reports:
            assert PASSWORD not in report["shown"], report["shown"]
        # The store holds rates, times and counts under a hash: nothing to read back.
        held = store.dump()
        secrets = [sb.credentials["api_key"], sb.credentials["username"], sb.credentials["password"], PASSWORD]
        for secret in secrets + [p["nik"] for p in sb.records()[:50]] + [sb.url]:
            assert secret not in held


def test_the_option_in_every_form(store: RedisServer, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    sent_before = len(sandbox.requests())
    vision = sandbox.vision(pacing_url=store.url)
    assert vision.pacing_url == f"redis://<redacted>@127.0.0.1:{store.port}/1"
    for shown in (repr(vision), repr(vision.pacing()), str(vision.pacing_url)):
        assert PASSWORD not in shown
    # The configuration travels to workers (pickled, as Dask and Spark send it), password and all.
    again = pickle.loads(pickle.dumps(vision))
    assert again.pacing_url == vision.pacing_url
    assert sandbox.async_vision(pacing_url=store.url).pacing_url == vision.pacing_url
    state = vision.pacing()
    assert (state.store_processes, state.store_joined, state.store_connected) == (1, False, True)
    assert (state.store_round_trips, state.store_wait_p99) == (0, 0.0), "nothing asked of the store yet"
    assert {"store_processes", "store_joined", "store_connected", "store_round_trips"} <= set(state.to_dict())
    assert sandbox.vision().pacing().store_processes is None, "no store, no store fields"
    monkeypatch.setenv("GLAIR_VISION_PACING_URL", store.url)
    assert sandbox.vision().pacing_url == vision.pacing_url, "read from the environment"
    monkeypatch.setenv("GLAIR_VISION_PACING_URL", "")
    assert sandbox.vision().pacing_url is None
    for bad, error in [(6379, TypeError), (b"redis://x", TypeError), ("http://cache:6379", ConfigurationError),
                       ("redis://", ConfigurationError), (f"memcached://:{PASSWORD}@h:1", ConfigurationError)]:
        with pytest.raises(error) as caught:
            sandbox.vision(pacing_url=bad)
        assert PASSWORD not in str(caught.value)
    assert len(sandbox.requests()) == sent_before, "nothing was sent"


@pytest.fixture
def store_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    logger = logging.getLogger("glair_vision")
    level = logger.level
    caplog.set_level(logging.WARNING, logger="glair_vision")
    yield caplog
    logger.setLevel(level)
    glair_vision.refresh_logging()


def test_a_store_cut_off_costs_no_row_and_warns_once(store: RedisServer, store_logs: pytest.LogCaptureFixture) -> None:
    with socket_closed() as closed:
        urls = [f"redis://:{PASSWORD}@127.0.0.1:{closed}/0", f"redis://:not-the-pass-5521@127.0.0.1:{store.port}/1"]
        with Sandbox(rate_limit=150.0, burst=10, seed=9) as sb:
            for url in urls:
                store_logs.clear()
                vision = sb.vision(pacing_url=url)
                outcomes = vision.identity.verification_batch(rows(sb, 300), concurrency=32)
                assert [o for o in outcomes if isinstance(o, GlairVisionError)] == []
                state = vision.pacing()
                assert state.store_connected is False and state.rate is not None, state
                warnings = [r for r in store_logs.records if "pacing store cut off" in r.getMessage()]
                assert len(warnings) == 1, store_logs.text
                assert PASSWORD not in store_logs.text and "not-the-pass-5521" not in store_logs.text


class socket_closed:
    """A port on 127.0.0.1 that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: Any) -> None:
        return None


def test_async_clients_share_through_the_store_too(store: RedisServer) -> None:
    import asyncio

    async def run(sb: Sandbox) -> List[Any]:
        clients = [AsyncVision(base_url=sb.url, **sb.credentials, pacing_url=store.url) for _ in range(2)]
        batches = [c.identity.verification_batch(rows(sb, 200), concurrency=16) for c in clients]
        outcomes = await asyncio.gather(*batches)
        return [(o, c.pacing()) for o, c in zip(outcomes, clients)]

    with Sandbox(rate_limit=100.0, burst=10, seed=4) as sb:
        for outcomes, state in asyncio.run(run(sb)):
            assert [o for o in outcomes if isinstance(o, GlairVisionError)] == []
            assert state.store_joined and state.store_processes == 2, state


def cli_binary() -> str:
    """The `glair-vision` CLI that python/test.sh names (scripts/test.sh: the static one in dist/)."""
    path = os.environ.get("GLAIR_VISION_CLI", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"GLAIR_VISION_CLI must name the glair-vision CLI (python/test.sh sets it), not {path!r}")
    return path


def test_a_python_and_a_cli_process_share_the_store_and_a_redis_killed_mid_run_costs_no_row(
    store: RedisServer, tmp_path: Any
) -> None:
    import csv
    import time

    n = 450
    with Sandbox(rate_limit=150.0, burst=10, latency=0.02, latency_spread=0.01, seed=11) as sb:
        inputs = rows(sb, n)
        client = {"base_url": sb.url, **sb.credentials, "pacing_url": store.url}
        env = {**os.environ, "STORE_CHILD": json.dumps({"client": client, "rows": inputs})}
        env.pop("GLAIR_VISION_PACING_URL", None)
        python = subprocess.Popen(
            [sys.executable, "-c", CHILD], env={**env, "GLAIR_VISION_PACING_DIR": str(tmp_path / "host-a")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        with open(tmp_path / "in.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["nik"])
            writer.writerows([r["nik"]] for r in inputs)
        cli = subprocess.Popen(
            [cli_binary(), "batch", "--quiet", "--concurrency", "16", "--input", str(tmp_path / "in.csv"),
             "--output", str(tmp_path / "out.jsonl"), "--base-url", sb.url, "--api-key", sb.api_key,
             "--username", sb.username, "--password", sb.password, "--pacing-url", store.url],
            env={**env, "GLAIR_VISION_PACING_DIR": str(tmp_path / "host-b")},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        # Mid-run, the store dies at once (SIGKILL) and comes back empty on its port.
        time.sleep(1.0)
        store.stop()
        time.sleep(1.5)
        store.start()
        out, python_err = python.communicate(timeout=120)
        _, cli_err = cli.communicate(timeout=120)
        assert python.returncode == 0, python_err
        assert cli.returncode == 0, cli_err
        report = json.loads(out)
        assert report["failed"] == 0, report
        outcomes = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert len(outcomes) == n and not [o for o in outcomes if o["outcome"] == "error"], cli_err
        assert cli_err.count("pacing store cut off") == 1, f"one warning: {cli_err}"
        # Cut off, each paced alone at most at its share of the last rate: no flood of 429s.
        assert sb.throttled * 10 < 2 * n, f"{sb.throttled} 429s for {2 * n} rows"
        for shown in (cli_err, python_err, report["shown"], (tmp_path / "out.jsonl").read_text()):
            assert PASSWORD not in shown
        held = store.dump()
        for secret in [sb.api_key, sb.username, sb.password, PASSWORD, sb.url] + [r["nik"] for r in inputs[:50]]:
            assert secret not in held
