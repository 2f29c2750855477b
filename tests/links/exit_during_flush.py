"""A process that ends while its flusher thread is writing clicks, as a worker
does when gunicorn stops it at that moment (tests/links/test_click_durability.py).

python -m tests.links.exit_during_flush CODE  (Django settings from the
environment; CLICK_FLUSH_SECONDS small, so that the thread flushes at once)
"""

import sys
import threading
import time

import django


def main(code):
    django.setup()
    from django.utils import timezone

    from links import clickbuffer
    from links.models import Link

    writing = threading.Event()
    write = clickbuffer._write

    def slow_write(batch):
        writing.set()
        # A write that waits for the database (SQLite's lock held by another
        # worker's flush, say): the window in which the process ends.
        time.sleep(0.5)
        return write(batch)

    clickbuffer._write = slow_write
    link = Link.objects.get(short_code=code)
    for _ in range(10):
        clickbuffer.add(link, timezone.now())
    if not writing.wait(30):
        sys.exit("the flusher thread never wrote")
    clickbuffer.flush_at_exit()  # gunicorn's worker_exit; then the process ends


if __name__ == "__main__":
    main(sys.argv[1])
