"""Progress a person can read: row counts for the planned steps, the live line on a
terminal (cleared before each log line), log lines into a pipe, model_dir/train.log kept
per run and rotated, and a real run on a pseudo-terminal."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FEW_FEATURES, ROOT, SAMPLES, make_config

from easymtl.data import rows
from easymtl.data.rows import RowCount, count_rows
from easymtl.progress import LiveLine, Meter, duration
from easymtl.protos import data_pb2
from easymtl.run_log import RunLog


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_duration():
    assert [duration(s) for s in (0.4, 45, 256, 7500)] == ["0s", "45s", "4m16s", "2h05m"]


def test_csv_rows_are_counted_and_estimated(tmp_path, monkeypatch):
    data = data_pb2.DataConfig(dataset_type=data_pb2.CsvDataset)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("".join(f"{i},x\n" for i in range(100)))
    b.write_text("1,y\n2,z")  # the last line without a newline
    counted = count_rows([str(a), str(b)], data)
    assert counted == RowCount(102, True, 2)
    assert counted.how == "102 rows counted in 2 files"
    data.with_header = True
    assert count_rows([str(a)], data).rows == 99
    # Past the budget of exact counting: from the size and the first lines' length.
    monkeypatch.setattr(rows, "EXACT_BYTES", 10)
    monkeypatch.setattr(rows, "_SAMPLE", 40)  # ten lines of 4 bytes ("12,x\n" and shorter)
    estimate = count_rows([str(a)], data_pb2.DataConfig())
    assert not estimate.exact and 80 <= estimate.rows <= 130, estimate
    assert (
        estimate.how.startswith("about ") and "estimated from the sizes of 1 file" in estimate.how
    )
    gz = tmp_path / "c.csv.gz"
    gz.write_bytes(b"")
    assert count_rows([str(gz)], data) is None


def test_parquet_rows_come_from_the_footers(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"x": list(range(37))}), path)
    data = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset)
    assert count_rows([str(path), str(path)], data) == RowCount(74, True, 2)


def test_meter_draws_a_live_line_that_log_lines_clear_first(caplog):
    caplog.set_level(logging.INFO, logger="easymtl")
    stream = Terminal()
    meter = Meter("eval", RowCount(1000, True, 1), stream)
    meter.update(64)
    assert stream.getvalue() == "\r\x1b[Keval 64/1,000 examples (6%)"
    logging.getLogger("easymtl").info("a log line")
    assert stream.getvalue().endswith("\r\x1b[K")  # cleared before the record
    meter.last_draw = 0
    meter.update(512)
    drawn = stream.getvalue().rsplit("\r\x1b[K", 1)[1]
    assert drawn.startswith("eval 512/1,000 examples (51%) · ") and " · eta " in drawn
    meter.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    assert not any(isinstance(f, logging.Filter) for f in logging.getLogger("easymtl").filters)


def test_meter_into_a_pipe_logs_lines(caplog):
    caplog.set_level(logging.INFO, logger="easymtl")
    meter = Meter("predict", RowCount(900, False, 1), None, every_secs=1e-9, unit="rows")
    meter.update(100)
    meter.update(300)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "predict 100/~900 rows (11%)"
    assert lines[1].startswith("predict 300/~900 rows (33%), ") and ", eta " in lines[1]


def test_live_line_is_not_drawn_without_a_terminal():
    from easymtl.progress import terminal

    assert terminal(io.StringIO()) is None
    assert terminal(Terminal()) is not None
    line = LiveLine(Terminal())
    line.clear()  # nothing shown: nothing written
    assert line.stream.getvalue() == ""


def test_run_log_keeps_each_run_once_it_wrote_and_rotates(tmp_path):
    logger = logging.getLogger("easymtl")
    logger.setLevel(logging.INFO)
    model_dir = tmp_path / "model"
    with RunLog(str(model_dir), command="python -m easymtl.train --config a") as run_log:
        logger.info("before anything was written")
    assert not model_dir.exists()  # a run that wrote nothing leaves no trace
    for n in (1, 2):
        with RunLog(str(model_dir), command=f"run {n}") as run_log:
            logger.info("first line of run %d", n)
            run_log.after_evaluate(1, {})  # the run wrote model_dir
            logger.info("second line of run %d", n)
    text = (model_dir / "train.log").read_text()
    headers = [line for line in text.splitlines() if line.startswith("==== ")]
    assert [h.split(" ")[3:5] for h in headers] == [["run", "1"], ["run", "2"]]
    assert text.index("first line of run 1") < text.index("second line of run 2")
    with pytest.raises(ValueError), RunLog(str(model_dir), command="run 3") as run_log:
        run_log.on_checkpoint(3, "model.ckpt-3")
        raise ValueError("the error that ended it")
    assert (model_dir / "train.log").read_text().endswith("error: the error that ended it\n")
    # Past max_bytes the file is rotated when the next run starts writing.
    size = (model_dir / "train.log").stat().st_size
    with RunLog(str(model_dir), command="run 4", max_bytes=size - 1, backups=2) as run_log:
        run_log.open()
        logger.info("run 4")
    assert "run 4" in (model_dir / "train.log").read_text()
    assert "run 1" in (model_dir / "train.log.1").read_text()


@pytest.mark.slow
def test_a_run_on_a_terminal_shows_a_live_line(tmp_path):
    """`python -m easymtl.train` on a pseudo-terminal: the live line is drawn and
    rewritten in place, and log lines still end up whole."""
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()[:640]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    extra = (
        f'train_input_path: "{tmp_path / "train.csv"}" '
        "train_config { num_epochs: 1 log_step_count_steps: 4 } "
        "data_config { batch_size: 64 } export_config { export_after_train: false } "
        "eval_config { num_steps: 2 }"
    )
    config = make_config(tmp_path, "simple_multi_task", extra, features=FEW_FEATURES)
    primary, secondary = os.openpty()
    done = subprocess.Popen(
        [sys.executable, "-m", "easymtl.train", "--config", str(config)],
        cwd=ROOT,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "COLUMNS": "200"},
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    assert done.wait(timeout=300) == 0, output.decode()[-3000:]
    text = output.decode()
    assert "\r\x1b[Kstep 1/10 (10%)" in text, text
    assert " ex/s · eta " in text and "\r\x1b[Keval " in text, text
    # Every log line starts a fresh terminal line (the live line was cleared first).
    for line in text.replace("\r\n", "\n").split("\n"):
        if " INFO " in line:
            assert re.match(r"\d{4}-\d\d-\d\d \S+ INFO ", line.split("\r\x1b[K")[-1]), line
    assert "INFO step 4/10 (40%" in text and "INFO training done at step 10" in text
