"""recaption stage."""
