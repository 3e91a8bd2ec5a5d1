"""Atomic outputs: write under a temporary name beside the target, rename when complete.

Every writer of the package goes through :func:`atomic_output`, so a file or folder appears
under its final name only when it is complete, and a failure (an exception, a refused input)
removes what was written. A killed process (SIGKILL) cannot clean up: its temporary file stays
beside the target under :func:`temporary_path`'s name, hidden, never taken for a result, and
is removed by the next writer of the same target before it starts.

The temporary name is ``.tmp-<name>``: it keeps the target's suffixes (Keras checks
``.weights.h5`` and ``.keras``), starts with a dot (hidden from ``ls`` and from globs such as
``*.h5``) and is the same in every process, so a rerun finds what a killed run left.
"""

import os
import shutil
from pathlib import Path

#: Prefix of every temporary name.
PREFIX = ".tmp-"


def temporary_path(path):
    """The temporary name of ``path``: ``.tmp-<name>`` in the same folder."""
    path = Path(path)
    return path.with_name(f"{PREFIX}{path.name}")


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class AtomicOutput:
    """Context manager that yields the temporary path of ``path`` (see :func:`atomic_output`).

    On a normal exit the temporary file (or folder) is renamed to ``path``, replacing what was
    there; on an exception it is removed and the exception propagates. A stale temporary
    from a killed run is removed first.

    Examples
    --------
    >>> with atomic_output("out.h5") as tmp:  # doctest: +SKIP
    ...     with h5py.File(tmp, "w") as f:
    ...         f["x"] = 1

    The explicit form, for writers that open in one method and close in another:
    ``out = atomic_output(path); tmp = out.begin(); ...; out.commit()`` (or ``out.discard()``).
    """

    def __init__(self, path, *, directory=False):
        self.path = Path(path)
        self.tmp = temporary_path(self.path)
        self.directory = bool(directory)

    def begin(self):
        """Prepare the temporary (folder created, stale temporary removed); return its path."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove(self.tmp)
        if self.directory:
            self.tmp.mkdir()
        return self.tmp

    def commit(self):
        """Rename the temporary to the final name (a folder replaces the old folder)."""
        try:
            if self.directory and self.path.is_dir():
                shutil.rmtree(self.path)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self):
        """Remove the temporary."""
        _remove(self.tmp)

    def __enter__(self):
        return self.begin()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False


def atomic_output(path, *, directory=False):
    """A :class:`AtomicOutput` for ``path``: ``with atomic_output(path) as tmp: ...``.

    Parameters
    ----------
    path : path-like
        The final name. Its folder is created if needed.
    directory : bool
        Create the temporary as an empty folder (for outputs that are folders).
    """
    return AtomicOutput(path, directory=directory)


def write_text(path, text, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding=encoding)
    return Path(path)


def save_figure(fig, path, **kwargs):
    """``fig.savefig`` atomically (the format from the suffix, which the temporary keeps)."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, **kwargs)
    return Path(path)


def write_csv(frame, path, **kwargs):
    """``frame.to_csv`` (a pandas DataFrame) atomically."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, **kwargs)
    return Path(path)
