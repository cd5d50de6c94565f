"""withscope.gui: the Qt desktop app (PySide6 + pyqtgraph on a qasync loop).

Importing this package pins the Qt binding: qasync and pyqtgraph both pick PySide6, whatever
other bindings are installed (with several bindings present, each library could otherwise pick a
different one).
"""

import os

os.environ["QT_API"] = "pyside6"
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"

import PySide6.QtCore  # noqa: F401  (import the binding before pyqtgraph/qasync look for one)
