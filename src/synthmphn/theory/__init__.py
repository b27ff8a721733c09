"""theory stage."""
