"""Packaged run presets (YAML), loaded by `mmvae train --preset NAME`."""
