"""The one background loop: a failing round never stops it, it backs off while rounds fail,
keeps going while there is work, and stops promptly."""

from __future__ import annotations

import threading
import time

from sigarchive.workers.loop import Loop


def test_a_failing_round_never_stops_the_loop_and_stop_is_prompt() -> None:
    rounds: list[float] = []
    done = threading.Event()

    def job(stopping: threading.Event) -> int:
        rounds.append(time.monotonic())
        if len(rounds) <= 2:
            raise RuntimeError("database down")
        if len(rounds) <= 5:
            return 1  # busy: the next round follows at once
        done.set()
        return 0

    loop = Loop("test-loop", job, interval=0.05, max_backoff=0.2)
    loop.start()
    try:
        assert done.wait(5), "the loop stopped after a failed round"
    finally:
        started = time.monotonic()
        loop.stop(timeout=5)
        assert time.monotonic() - started < 1
    # back-off after the first failure (interval), doubled after the second
    assert rounds[1] - rounds[0] >= 0.05
    assert rounds[2] - rounds[1] >= 0.1
    # busy rounds do not wait
    assert rounds[5] - rounds[3] < 0.1


def test_setup_runs_once_and_the_stop_event_reaches_the_job() -> None:
    seen: list[bool] = []
    setups: list[int] = []

    def job(stopping: threading.Event) -> int:
        seen.append(stopping.is_set())
        return 0

    loop = Loop("test-loop", job, interval=0.01, setup=lambda: setups.append(1))
    loop.start()
    time.sleep(0.1)
    loop.stop()
    assert setups == [1] and seen and not any(seen)
