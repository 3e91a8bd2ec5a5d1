"""Logging set-up shared by the workflow scripts."""

import logging
import sys

from gravsep import malloc


def setup(log_path=None, level=logging.INFO):
    """Send log records and stderr to ``log_path`` (the rule's ``log:``) and return a logger.

    Every workflow script starts with this call, so it also applies the process-wide
    allocator setting of :func:`gravsep.malloc.retain_freed_memory` (no result changes).

    Parameters
    ----------
    log_path : path-like or None
        File that receives the log; None logs to stderr only.
    """
    malloc.retain_freed_memory()
    handlers = [logging.StreamHandler(sys.stdout)]
    if log_path is not None:
        stream = open(log_path, "w", buffering=1)  # lives as long as the job
        sys.stderr = stream
        handlers.append(logging.StreamHandler(stream))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    log = logging.getLogger("gravsep")
    sys.excepthook = _last_line_states_the_cause(log)
    return log


def _last_line_states_the_cause(log):
    """An excepthook: the traceback, then one line with the error alone, last in the log.

    With Snakemake's ``show-failed-logs`` (set in the profiles) that line reaches the console.
    """
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        if not issubclass(kind, KeyboardInterrupt):
            log.error("failed: %s: %s", kind.__name__, value)

    return hook
