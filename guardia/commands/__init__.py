"""CLI commands that live in their own modules; guardia/cli.py registers them."""
