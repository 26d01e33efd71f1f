"""Trains a tiny MMVAE under torchrun and saves each rank's final weights (test helper)."""
import os
import sys

from safetensors.torch import save_file

from mmvae import pipeline
from mmvae.config import RunConfig
from mmvae.training.trainer import Callback


class SaveWeights(Callback):
    def __init__(self, folder):
        self.folder = folder

    def on_fit_end(self, trainer):
        rank = int(os.environ.get("RANK", "0"))
        state = {k: v.detach().contiguous() for k, v in trainer.model.state_dict().items()}
        save_file(state, os.path.join(self.folder, f"rank{rank}.safetensors"))


cfg = RunConfig.from_yaml(sys.argv[1])
pipeline.train(cfg, resume=len(sys.argv) > 3 and sys.argv[3] == "resume", callbacks=[SaveWeights(sys.argv[2])])
