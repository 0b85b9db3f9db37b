"""``python -m nextwatch`` (what ``torchrun -m nextwatch train ...`` runs)."""

from nextwatch.cli import main

if __name__ == "__main__":
    main()
