"""Whole studies as one command (`mmvae experiment NAME`): preset run lists, a runner that
trains and evaluates each run (skipping finished ones), and one comparison report."""
from .presets import STUDIES, build_study
from .runner import run_study

__all__ = ["STUDIES", "build_study", "run_study"]
