"""Caption stage: concept bank, caption backends (grammar, transformers, openai), hard-negative checks."""
