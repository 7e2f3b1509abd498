"""Packaging beyond what ``pyproject.toml`` can say: the repository's top-level ``resources/``
(bundled checkpoints, demo recording) goes into the wheel as the package ``snnstudio._resources``,
so an installed wheel finds them (:mod:`snnstudio.resources`); which of its files go in is
``[tool.setuptools.package-data]`` in ``pyproject.toml``, with everything else."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["snnstudio", "snnstudio.*"]) + ["snnstudio._resources"],
    package_dir={"snnstudio._resources": "resources"},
)
