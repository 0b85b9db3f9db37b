"""Neural collaborative filtering (He et al., WWW 2017): modules, sampling, the epoch trainer, models."""
