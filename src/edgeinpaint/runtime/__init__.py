"""Runtime: engines, stages and the batch pipeline."""
