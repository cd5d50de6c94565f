"""Details dock: the selected lifetime or alert - fields, acquisition stack, source around the site.

Source lines are read with `linecache` (cached, never blocks on the network). GUI thread only.
"""

from __future__ import annotations

import html
import linecache
import os
import re

import numpy as np
from PySide6.QtWidgets import QDockWidget, QTextBrowser, QWidget
from withscope.gui.bridge.bridge import Bridge, RunAlert
from withscope.gui.model.textcap import LABEL_CHARS, TEXT_CHARS, elide, elide_lines
from withscope.gui.style import theme as th
from withscope.gui.timeline.timeline import format_duration

EMPTY_HTML = (
    "<p style='color:{muted}'>Click a bar in the timeline or select an alert to see where the resource "
    "was acquired, its stack and the source around it.</p>"
)
CONTEXT_LINES = 3
_SITE = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?: in (?P<func>.+))?$")


def source_excerpt(site: str, context: int = CONTEXT_LINES) -> tuple[str, int, list[tuple[int, str]]] | None:
    """(path, line, [(lineno, text)...]) around `site` ("path.py:42"), or None when unreadable."""
    m = _SITE.match(site.strip())
    if m is None:
        return None
    path, line = m.group("path"), int(m.group("line"))
    full = path if os.path.isabs(path) else os.path.abspath(path)
    lines = []
    for n in range(max(1, line - context), line + context + 1):
        text = linecache.getline(full, n)
        if text:
            lines.append((n, text.rstrip("\n")))
    return (full, line, lines) if lines else None


def source_html(site: str, theme: th.Theme) -> str:
    ex = source_excerpt(site)
    if ex is None:
        return f"<p style='color:{theme.muted}'>Source of {html.escape(site)} is not available.</p>"
    _path, line, lines = ex
    width = len(str(lines[-1][0]))
    out = []
    for n, text in lines:
        number = f"<span style='color:{theme.muted}'>{n:>{width}}</span>"
        code = html.escape(text)
        if n == line:
            code = f"<span style='background:{theme.band};font-weight:600'>{code}</span>"
            number = f"<span style='color:{theme.selection};font-weight:600'>{n:>{width}}</span>"
        out.append(f"{number}  {code}")
    return "<pre style='margin:0'>" + "\n".join(out) + "</pre>"


class DetailsDock(QDockWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("Details", parent)
        self.setObjectName("detailsDock")
        self.bridge = bridge
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.setWidget(self.view)
        self.show_empty()
        bridge.cleared.connect(self.show_empty)

    def show_empty(self) -> None:
        self.view.setHtml(EMPTY_HTML.format(muted=th.current().muted))

    def show_row(self, row: int | None, alert: RunAlert | None = None) -> None:
        t = th.current()
        parts: list[str] = []
        if alert is not None:
            a = alert.alert
            parts.append(f"<p><b>{html.escape(elide(a.rule))}</b> · {html.escape(str(a.severity))}<br>"
                         f"{html.escape(elide(a.message, TEXT_CHARS))}</p>"
                         f"<p><i>Hint:</i> {html.escape(elide(a.hint, TEXT_CHARS))}</p>")
        lt = self.bridge.lifetime(row) if row is not None else None
        site = (lt.site if lt else None) or (alert.alert.site if alert else None)
        stack = (lt.stack if lt and lt.stack else ()) or (alert.alert.stack if alert else ())
        if lt is not None and row is not None:
            s = self.bridge.store
            end = float(s.end[row])
            held = (end if not np.isnan(end) else self.bridge.now_s()) - float(s.start[row])
            outcome = th.OUTCOME_TEXT.get(int(s.outcome[row]), "?")
            if self.bridge.released_by_cleanup(row):
                outcome += " — only by the run's cleanup, after the workload ended (leaked)"
            fields = [
                ("Kind", lt.kind), ("Label", lt.label), ("Outcome", outcome),
                ("Held", format_duration(max(0.0, held))), ("Acquired at", f"{float(s.start[row]):.3f} s"),
                ("Thread", lt.thread), ("Task", lt.task or "—"), ("Run", self.bridge.run_name(int(s.run[row]))),
            ]
            if lt.error:
                fields.append(("Error", elide(lt.error, TEXT_CHARS) + (" (suppressed by __exit__)" if lt.suppressed
                                                                       else "")))
            parts.append("<table cellspacing='2'>" + "".join(
                f"<tr><td style='color:{t.muted};padding-right:10px'>{k}</td>"
                f"<td>{html.escape(elide(str(v), TEXT_CHARS if k == 'Error' else LABEL_CHARS * 2))}</td></tr>"
                for k, v in fields) + "</table>")
        if site:
            site = elide(site, LABEL_CHARS * 2)
            parts.append(f"<p><b>Acquired at</b> {html.escape(site)}</p>" + source_html(site, t))
        if stack:
            parts.append("<p><b>Acquisition stack</b> (innermost first)</p><pre>"
                         + html.escape("\n".join(elide_lines(stack))) + "</pre>")
        elif site:
            parts.append(f"<p style='color:{t.muted}'>Only the acquisition site is recorded (deeper stacks are "
                         "opt-in: <code>Recorder(stack_depth=N)</code>).</p>")
        if not parts:
            self.show_empty()
            return
        self.view.setHtml("".join(parts))
