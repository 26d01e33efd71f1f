"""Metrics of trained models: coherence, latent linear probes, synergy and likelihood estimates."""
