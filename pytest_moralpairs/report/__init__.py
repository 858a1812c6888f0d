"""Reports: the terminal summary, the progress line, the run document (JSON) and the HTML page;
``formatting.py`` holds how they all write numbers, counts and sentences.

PYTEST_DONT_REWRITE: nothing here asserts on a user's behalf (pytest would rewrite it on every run).
"""
