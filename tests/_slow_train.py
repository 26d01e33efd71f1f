"""Runs `mmvae train` with every training step slowed down, so a test can kill it mid-epoch."""
import sys
import time

from mmvae.cli.main import main
from mmvae.training.trainer import Trainer

_step = Trainer.train_step


def slow_step(self, xs):
    time.sleep(0.05)
    return _step(self, xs)


Trainer.train_step = slow_step
raise SystemExit(main(sys.argv[1:]))
