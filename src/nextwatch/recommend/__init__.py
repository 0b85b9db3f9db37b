"""The recommender a person meets: fusion of CF and content, sessions of rounds, and stored profiles.

Submodules: ``fusion`` (score normalisation, weight schedule, MMR re-ranking), ``storage``
(profiles behind a small interface: SQLite by default, any SQLAlchemy URL for shared servers).
Kept import-light on purpose: importing ``nextwatch.recommend.storage`` must not pull in torch.
"""
