"""Packaging: every package folder ships, and the console command is installed."""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def setuptools_config() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        config: dict[str, Any] = tomllib.load(f)["tool"]["setuptools"]
    return config


def package_dir(name: str) -> Path:
    """The folder of a package, through [tool.setuptools] package-dir (longest prefix wins)."""
    mapping: dict[str, str] = setuptools_config()["package-dir"]
    for prefix in sorted(mapping, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            rest = name[len(prefix) :].lstrip(".")
            return ROOT / mapping[prefix] / Path(*rest.split(".")) if rest else ROOT / mapping[prefix]
    raise AssertionError(f"{name} is not under any package-dir mapping")


def package_folders() -> set[str]:
    """Every folder with an __init__.py under core/ and gui/ (and any other mapped root)."""
    found = set()
    for prefix, folder in setuptools_config()["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join((prefix, *rel.parts)))
    return found


def test_core_and_gui_are_mapped() -> None:
    mapping = setuptools_config()["package-dir"]
    assert mapping["withscope.core"] == "core"
    assert mapping["withscope.gui"] == "gui"


def test_every_package_folder_is_listed_in_pyproject() -> None:
    folders = package_folders()
    assert {"withscope.core", "withscope.gui"} <= folders
    assert any(name.startswith("withscope.core.") for name in folders)  # the walk found subpackages
    missing = folders - set(setuptools_config()["packages"])
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_listed_package_has_a_folder() -> None:
    for name in setuptools_config()["packages"]:
        assert package_dir(name).is_dir(), name


def test_the_withscope_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / ("withscope.exe" if os.name == "nt" else "withscope")
    assert script.is_file(), f"{script} missing: reinstall with `pip install -e .`"
    assert os.access(script, os.X_OK)
    (ep,) = importlib.metadata.entry_points(group="console_scripts", name="withscope")
    assert ep.value == "withscope.gui.shell.launcher:main"
    assert callable(ep.load())
