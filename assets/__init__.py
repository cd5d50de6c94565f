"""Data files shipped with withscope: tours, icons, the .desktop file, screenshots."""
