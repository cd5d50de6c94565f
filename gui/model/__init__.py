"""Qt-free models of what the app shows: lifetime columns, lane layout, rings, loop lag, replay feeds."""
