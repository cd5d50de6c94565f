"""withscope.gui: the Qt desktop app."""
