"""Heartbeats written from a thread of their own.

An operation holds its process's main thread for as long as it runs (a
backup can take many minutes), yet its run's lease and its worker's
heartbeat must be renewed meanwhile, or a process at work looks like one
that was killed.
"""

import logging
import threading

from django.db import connections

logger = logging.getLogger("tinylink.ops")


class Beating:
    """`with Beating(beat, interval=s):` calls beat() every `interval`
    seconds from a thread while the block runs. A beat that fails (the
    database away, or locked by a long write) is logged and the next one is
    tried: the lease is long enough to miss one."""

    def __init__(self, beat, *, interval, name="heartbeat"):
        self.beat = beat
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def _run(self):
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception as exc:  # noqa: BLE001 - never end the beating
                    logger.warning("%s: could not beat: %s", self.name, exc)
        finally:
            # This thread's own connections, not the operation's.
            connections.close_all()
