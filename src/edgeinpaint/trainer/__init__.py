"""EdgeConnect training: data, masks, losses, the loop, evaluation metrics."""
