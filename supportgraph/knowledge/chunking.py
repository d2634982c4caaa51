"""Split help articles into heading-sized chunks with stable ids (``file#heading``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of an article."""

    id: str
    article_id: str
    title: str
    heading: str
    text: str

    @property
    def content_hash(self) -> str:
        """Changes exactly when the text a search would see changes."""
        return hashlib.sha256(f"{self.title}\n{self.heading}\n{self.text}".encode()).hexdigest()

    @property
    def embedding_text(self) -> str:
        """What gets embedded: the titles give a short section its topic."""
        return f"{self.title}. {self.heading}. {self.text}"


def slugify(text: str) -> str:
    """'How long does a refund take?' → 'how-long-does-a-refund-take'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def chunk_markdown(article_id: str, markdown: str) -> list[Chunk]:
    """One chunk per second-level section; text before the first section is the overview."""
    title = article_id.replace("-", " ").capitalize()
    sections: list[tuple[str, list[str]]] = [("overview", [])]
    for line in markdown.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group(2)
        elif match:
            sections.append((match.group(2), []))
        else:
            sections[-1][1].append(line)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for heading, lines in sections:
        text = "\n".join(lines).strip()
        if not text:
            continue
        slug = slugify(heading) or "section"
        while slug in seen:
            slug += "-2"
        seen.add(slug)
        chunks.append(Chunk(f"{article_id}#{slug}", article_id, title, heading, text))
    return chunks


def chunk_directory(directory: Path) -> list[Chunk]:
    """Chunk every markdown file in a folder, in a stable order."""
    chunks: list[Chunk] = []
    for path in sorted(directory.glob("*.md")):
        chunks.extend(chunk_markdown(path.stem, path.read_text(encoding="utf-8")))
    return chunks
