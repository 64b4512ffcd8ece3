"""The composition root: the CLI, deployment declarations and per-environment choices."""
