"""Reports: the terminal summary (JSON, HTML and baselines come later)."""
