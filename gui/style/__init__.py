"""Colours, fonts and pyqtgraph helpers shared by every view."""
