"""withscope.gui: the Qt desktop app (PySide6 + pyqtgraph on a qasync loop).

Importing this package imports nothing: `launcher` (the `withscope` console command) sends the
headless commands to `withscope.core.cli` without loading Qt. The Qt binding is pinned where the
app is built (`app.py`, before qasync and pyqtgraph are imported).
"""
