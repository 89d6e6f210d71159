"""Utilities around the mlu backend: ``gpu_migration`` runs CUDA scripts on mlu unchanged."""
