"""Datasets, trainer and evaluation. No Qt."""
