"""Input-target pairs: filtered EWH grids sampled into images (samples.h5)."""
