"""Shared records, WebDataset shards, manifests, batch sampling and hard-negative schedules."""
