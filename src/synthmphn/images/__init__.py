"""Image stage: generator protocol, procedural styles, diffusers backend, MSM pool strategies."""
