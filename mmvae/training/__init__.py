"""Training: the loop, checkpoints, metrics log, figures, distributed helpers."""
from .trainer import Callback, Trainer

__all__ = ["Callback", "Trainer"]
