"""Reports: the terminal summary (JSON, HTML and baselines come later).

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""
