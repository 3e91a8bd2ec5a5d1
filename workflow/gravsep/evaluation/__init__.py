"""Evaluation: metrics, baselines, the evaluation run, figures and tables."""
