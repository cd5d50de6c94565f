"""The application shell: start-up, the main window, menus and commands, settings, the launcher."""
