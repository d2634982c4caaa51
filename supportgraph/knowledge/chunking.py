"""Split help content (markdown, HTML, text) into heading-sized chunks with stable ids.

A chunk id is ``<file stem>#<heading slug>``, so operators can see which file answered.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of an article."""

    id: str
    article_id: str
    title: str
    heading: str
    text: str
    source: str = ""

    @property
    def content_hash(self) -> str:
        """Changes exactly when the text a search would see changes."""
        return hashlib.sha256(f"{self.title}\n{self.heading}\n{self.text}".encode()).hexdigest()

    @property
    def embedding_text(self) -> str:
        """What gets embedded and indexed: the titles give a short section its topic."""
        return f"{self.title}. {self.heading}. {self.text}"


def slugify(text: str) -> str:
    """'How long does a refund take?' → 'how-long-does-a-refund-take'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _sections_to_chunks(
    article_id: str, title: str, sections: list[tuple[str, list[str]]], source: str
) -> list[Chunk]:
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
        chunks.append(Chunk(f"{article_id}#{slug}", article_id, title, heading, text, source))
    return chunks


def chunk_markdown(article_id: str, markdown: str, source: str = "") -> list[Chunk]:
    """One chunk per second- or third-level section; text before them is the overview."""
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
    return _sections_to_chunks(article_id, title, sections, source)


class _HtmlSections(HTMLParser):
    """Collects the title and the text under each h2/h3, skipping scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.sections: list[tuple[str, list[str]]] = [("overview", [])]
        self._tag: str | None = None
        self._skip = 0
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("h1", "h2", "h3", "title"):
            self._flush()
            self._tag = tag
        elif tag in ("p", "li", "br", "div", "tr"):
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag == self._tag:
            text = " ".join("".join(self._buffer).split())
            self._buffer = []
            if tag == "h1":
                self.title = text  # the page's own heading beats the browser title
            elif tag == "title":
                self.title = self.title or text
            else:
                self.sections.append((text, []))
            self._tag = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buffer.append(data)

    def _flush(self) -> None:
        if self._tag is None:
            text = " ".join("".join(self._buffer).split())
            if text:
                self.sections[-1][1].append(text)
            self._buffer = []

    def close(self) -> None:
        super().close()
        self._flush()


def chunk_html(article_id: str, html: str, source: str = "") -> list[Chunk]:
    """Chunks from an HTML page: its h1 (or title) names it, each h2/h3 starts a chunk."""
    parser = _HtmlSections()
    parser.feed(html)
    parser.close()
    title = parser.title or article_id.replace("-", " ").capitalize()
    return _sections_to_chunks(article_id, title, parser.sections, source)


def chunk_text(article_id: str, text: str, source: str = "") -> list[Chunk]:
    """A plain-text file: its first line is the title, blank-line paragraphs are chunks."""
    lines = text.strip().splitlines()
    if not lines:
        return []
    title, body = lines[0].strip(), "\n".join(lines[1:])
    paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
    sections = [(f"part {index}", [p]) for index, p in enumerate(paragraphs, start=1)]
    return _sections_to_chunks(article_id, title, sections or [("overview", [title])], source)


def chunk_file(path: Path) -> list[Chunk]:
    """Chunks of one markdown, HTML or text file."""
    kind = SUFFIXES.get(path.suffix.lower())
    text = path.read_text(encoding="utf-8", errors="replace")
    source = str(path.resolve())
    if kind == "markdown":
        return chunk_markdown(path.stem, text, source)
    if kind == "html":
        return chunk_html(path.stem, text, source)
    if kind == "text":
        return chunk_text(path.stem, text, source)
    raise ValueError(f"{path}: not a markdown, HTML or text file")


def content_files(path: Path) -> list[Path]:
    """The supported files at a path (a file, or a folder searched recursively), sorted."""
    if path.is_file():
        return [path] if path.suffix.lower() in SUFFIXES else []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def chunk_directory(directory: Path) -> list[Chunk]:
    """Chunk every supported file under a folder, in a stable order."""
    return [chunk for path in content_files(directory) for chunk in chunk_file(path)]
