"""The embedded synthetic Earth-system model and its figures."""
