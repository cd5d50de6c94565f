"""Small helpers shared by the plotting views."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget


def own_menus(plot_item: Any, owner: QWidget) -> None:
    """Give pyqtgraph's parentless context menus (ViewBox menu, PlotItem ctrlMenu) a Qt parent, so
    they are destroyed with `owner` instead of living as hidden top-level widgets until Python
    collects their owners."""
    for menu in (getattr(plot_item.getViewBox(), "menu", None), getattr(plot_item, "ctrlMenu", None)):
        if menu is not None and menu.parent() is None:
            menu.setParent(owner, menu.windowFlags())
