"""Packaging: every package folder ships, and the console command is installed."""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def declared_packages() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return set(tomllib.load(f)["tool"]["setuptools"]["packages"])


def package_folders() -> set[str]:
    found = set()
    for top, prefix in (("core", "withscope.core"), ("gui", "withscope.gui")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join((prefix, *rel.parts)))
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    folders = package_folders()
    assert {"withscope.core", "withscope.gui"} <= folders
    missing = folders - declared_packages()
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_listed_package_exists() -> None:
    assert declared_packages() <= package_folders()


def test_the_withscope_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / ("withscope.exe" if os.name == "nt" else "withscope")
    assert script.is_file(), f"{script} missing: reinstall with `pip install -e .`"
    assert os.access(script, os.X_OK)
    (ep,) = importlib.metadata.entry_points(group="console_scripts", name="withscope")
    assert ep.value == "withscope.gui.launcher:main"
    assert callable(ep.load())
