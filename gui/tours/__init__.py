"""Guided tours: the player, its panel and the highlight over the views."""
