"""One self-contained HTML page from the report's sections (images inline as data URIs)."""

from __future__ import annotations

import base64
import html
import math
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 12px; margin: 0.8em 0; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
tr.paper td { color: #777; } tr.query th { background: #eef; text-align: left; }
.missing { background: #fff4e0; border-left: 4px solid #e90; padding: 0.6em 1em; }
.note { color: #555; font-size: 0.9em; } .added { color: #1565c0; font-weight: 600; }
figure { margin: 1em 0; } figure img { max-width: 100%; } figcaption { color: #555; font-size: 0.9em; }
.scroll { overflow-x: auto; }
"""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return esc(value)


def table_html(rows: list[dict]) -> str:
    """A plain table of ``rows`` (columns: every key, first seen first); rows whose ``source`` is ``paper`` are greyed, beside ours."""
    if not rows:
        return '<p class="note">(no rows)</p>'
    columns = list(dict.fromkeys(k for r in rows for k in r))
    out = ['<div class="scroll"><table>', "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"]
    for r in rows:
        cls = ' class="paper"' if str(r.get("source", "")).startswith("paper") else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def section_html(section) -> str:
    parts = [f'<section id="{esc(section.key)}"><h2>{esc(section.title)}</h2>']
    if section.missing:
        parts.append(f'<p class="missing">Not available: {esc(section.missing)}</p></section>')
        return "\n".join(parts)
    if section.intro:
        parts.append(f"<p>{section.intro}</p>")
    for name, rows in section.tables.items():
        parts.append(section.html_tables.get(name) or table_html(rows))
    for fig in section.figures:
        parts.append(f'<figure><img src="{data_uri(fig.png)}" alt="{esc(fig.name)}">'
                     f"<figcaption>{esc(fig.caption)}</figcaption></figure>")
    for note in section.notes:
        parts.append(f'<p class="note">{esc(note)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def render(title: str, header: list[tuple[str, str]], sections: list) -> str:
    """The whole page: ``header`` is (label, value) lines under the title, then every section."""
    toc = " · ".join(f'<a href="#{esc(s.key)}">{esc(s.title.split(" — ")[0])}</a>' for s in sections)
    head = "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in header)
    body = "\n".join(section_html(s) for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>{esc(title)}</h1><ul>{head}</ul><p>{toc}</p>\n"
            f"{body}\n</body></html>\n")
