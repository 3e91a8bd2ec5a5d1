"""A kill while Snakemake deletes a temporary folder leaves part of the folder behind.

Snakemake removes the unpacked folder of a letter-year (``temp(directory(...))``) once its
store is written; killed during that removal, it leaves a folder with part of the files, and
once its ``.snakemake_timestamp`` is gone the folder's time is newer than the store's, so the
next run reruns the store on that remnant ("Updated input files"). The store must not be
built from it: it unpacks the archive again (found by the kill-every-stage test, where it
happened by chance).
"""

import faultlib as fl
import h5py
import numpy as np
import pytest

pytestmark = [pytest.mark.faults, pytest.mark.workflow]

TARGET = "results/ingest/store/A_1995.h5"


def store_contents(path):
    with h5py.File(path, "r") as f:
        return f["cs"][()], f["time"][()], list(f["source"][()]), list(f["sha256"][()])


def test_remnant_of_unpacked_folder_is_unpacked_again(tmp_path):
    folder = tmp_path / "results/ingest/unpacked/A_1995"
    with fl.fault("kill while Snakemake removes a temporary folder (a remnant left)"):
        first = fl.run(tmp_path, TARGET, "--notemp")  # keep the folder to cut it by hand
        assert first.returncode == 0, first.stderr[-3000:]
        reference = store_contents(tmp_path / TARGET)
        files = sorted(folder.glob("mtmshc_*.180"))
        assert len(files) == 1460
        # what an interrupted removal leaves: part of the files, and without the folder's
        # .snakemake_timestamp its time is the folder's own, newer than the store's
        for path in [*files[200:], folder / ".snakemake_timestamp"]:
            path.unlink()
        second = fl.run(tmp_path, TARGET)
        text = second.stdout + second.stderr
        assert second.returncode == 0, text[-3000:]
        assert "Updated input files: results/ingest/unpacked/A_1995" in text  # the remnant used
        log = (tmp_path / "results/logs/store/A_1995.log").read_text()
        assert "lacks 1260 of the year's files" in log and "unpacking" in log, log
        got = store_contents(tmp_path / TARGET)
        np.testing.assert_array_equal(got[0], reference[0])  # every epoch, bit for bit
        np.testing.assert_array_equal(got[1], reference[1])
        assert got[2] == reference[2] and got[3] == reference[3]  # names and checksums
