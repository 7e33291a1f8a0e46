"""tinysweep: which model x bit-width x board meets the budget — measured, not guessed."""
__version__ = "0.1.0"
