"""A pyftpdlib server on 127.0.0.1 run in a thread, for the download and fault tests."""

import contextlib
import threading


@contextlib.contextmanager
def serving(server):
    """Serve ``server`` (a pyftpdlib server bound to 127.0.0.1) until the block ends.

    Yields its port; on exit the loop stops, every connection is closed and the thread joined.
    """
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server.address[1]
    finally:
        stop.set()
        thread.join(10)
