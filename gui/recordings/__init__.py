"""Recordings in the app: history, replay, compare, exports and file dialogs."""
