"""Allocator settings for the workflow's processes (glibc).

The column-wise parsers and the streamed stages create many temporary arrays of 0.1-10 MiB.
With glibc's defaults, blocks above 128 KiB are mapped fresh from the kernel and returned on
free, so every such temporary costs page faults (zeroed 4 KiB pages) again: about half the
reader's time at degree 180 (``benchmarks/bench_ingest.py`` prints both figures). Raising the
mmap and trim thresholds keeps freed blocks in the heap for reuse. It changes no result; a
process keeps up to ``trim`` bytes of freed memory. The same can be had without code through
the environment: ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456``.
"""

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest accepted value on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20


def retain_freed_memory(mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD):
    """Keep freed blocks below ``mmap_threshold`` bytes for reuse (glibc ``mallopt``).

    Returns
    -------
    bool
        True if both settings were accepted; False on other C libraries (nothing changed).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(
        mallopt(_M_TRIM_THRESHOLD, int(trim_threshold))
    )
