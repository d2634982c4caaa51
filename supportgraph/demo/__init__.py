"""Demo content: the store's customers and orders, and its help-centre articles."""

from pathlib import Path

ARTICLES_DIR = Path(__file__).parent / "articles"
