"""Log lines written in batches (opsconsole.logging.BatchingStreamHandler):
whole lines, each write at most PIPE_BUF bytes, whatever the characters."""

import logging

from opsconsole.logging import BatchingStreamHandler


class _Stream:
    def __init__(self):
        self.writes = []

    def write(self, text):
        self.writes.append(text)

    def flush(self):
        pass


def test_each_write_is_whole_lines_of_at_most_pipe_buf_bytes():
    stream = _Stream()
    handler = BatchingStreamHandler(stream)
    handler._timer_pid = __import__("os").getpid()  # no timer thread here
    logger = logging.getLogger("tests.batches")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for n in range(300):
            logger.info("é" * 100 + f" {n}")  # two bytes a character in UTF-8
        handler.flush()
    finally:
        logger.removeHandler(handler)
    assert all(
        len(w.encode()) <= BatchingStreamHandler.WRITE_BYTES for w in stream.writes
    )
    assert all(w.endswith("\n") for w in stream.writes)
    lines = "".join(stream.writes).splitlines()
    assert lines == ["é" * 100 + f" {n}" for n in range(300)]
