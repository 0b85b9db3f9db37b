"""Evaluation: stored splits (:mod:`.splits`), metric functions (:mod:`.metrics`) and the protocols
that run a scorer against a split (:mod:`.protocols`). Nothing here imports torch."""
