"""The help centre's articles as pages, so the sources a chat answer cites link somewhere.

Help articles are what a company publishes to everyone, so these pages need no credential;
they show the same sections retrieval indexes (one anchor per chunk id).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from supportgraph.knowledge.chunking import Chunk, chunk_file, content_files

ARTICLE_ID = r"^[a-z0-9][a-z0-9-]{0,99}$"
router = APIRouter(include_in_schema=False)


def article_chunks(articles_dir: Path, article_id: str) -> list[Chunk]:
    """The sections of one article, or none when the help centre has no such article."""
    for path in content_files(articles_dir):
        if path.stem == article_id:
            return chunk_file(path)
    return []


def _paragraphs(text: str) -> str:
    """Markdown-light: blank lines part paragraphs, ``- `` lines make a list; all escaped."""
    blocks: list[str] = []
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines and all(line.startswith(("- ", "* ")) for line in lines):
            items = "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif lines:
            blocks.append(f"<p>{html.escape(' '.join(lines))}</p>")
    return "\n".join(blocks)


def render_article(chunks: list[Chunk]) -> str:
    """One article as a page; each section's id is the anchor of its chunk id."""
    title = html.escape(chunks[0].title)
    sections = []
    for chunk in chunks:
        anchor = html.escape(chunk.id.split("#", 1)[1])
        heading = "" if chunk.heading == "overview" else f"<h2>{html.escape(chunk.heading)}</h2>"
        sections.append(f'<section id="{anchor}">{heading}{_paragraphs(chunk.text)}</section>')
    body = "\n".join(sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title} · Help centre</title><link rel="stylesheet" href="/static/common.css">'
        "<style>main{max-width:46rem;margin:0 auto}section:target{background:#fff4e0}</style>"
        f'</head><body><header class="bar"><h1>Help centre</h1></header>'
        f"<main><article><h1>{title}</h1>{body}</article></main></body></html>"
    )


@router.get("/help/{article_id}", response_class=HTMLResponse)
def help_article(
    article_id: Annotated[str, PathParam(pattern=ARTICLE_ID)], request: Request
) -> HTMLResponse:
    """A help-centre article by its id (the part of a source id before ``#``)."""
    chunks = article_chunks(Path(request.app.state.support.services.articles_dir), article_id)
    if not chunks:
        raise HTTPException(404, f"no help article {article_id}")
    return HTMLResponse(render_article(chunks), headers={"Cache-Control": "no-cache"})
