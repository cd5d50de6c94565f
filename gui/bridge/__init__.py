"""The one bridge from core runs and recorders to the views: batches folded on a frame timer, run control."""
