"""The steps' process plumbing: the log's time records, and the exit after a step."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from mlmcompare.steps import process_age, step_log


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process age is read from /proc")
def test_process_age_counts_seconds_since_the_process_started():
    first, clock = process_age(), time.monotonic()
    time.sleep(0.2)
    second, elapsed = process_age(), time.monotonic() - clock
    assert first is not None and second is not None
    assert abs((second - first) - elapsed) <= 0.03  # /proc counts 10 ms ticks
    # a new interpreter's age, asked at once, lies within the wall time of its whole run
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "from mlmcompare.steps import process_age; print(process_age())"],
                          capture_output=True, text=True, check=True)
    assert 0.0 <= float(proc.stdout) <= time.monotonic() - start + 0.02


def test_step_log_records_start_up_and_step_time(tmp_path):
    log = tmp_path / "logs" / "step.log"
    with step_log(log, "method dataset=hs method=mixed"):
        time.sleep(0.1)
    lines = log.read_text().splitlines()
    start = re.fullmatch(r"method dataset=hs method=mixed: started(?: after (\d+\.\d\d) s of start-up)?", lines[0])
    done = re.fullmatch(r"method dataset=hs method=mixed: done in (\d+\.\d{3}) s", lines[-1])
    assert start and done
    assert float(done[1]) >= 0.1
    if sys.platform.startswith("linux"):
        assert start[1] is not None


def test_exit_without_teardown_flushes_and_skips_exit_handlers():
    code = ("import atexit, sys\n"
            "from mlmcompare.steps import exit_without_teardown\n"
            "atexit.register(lambda: print('teardown ran'))\n"
            "print('written', end='')\nsys.stderr.write('noted')\n"
            "exit_without_teardown()\n"
            "print('after')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout == "written"
    assert proc.stderr == "noted"
