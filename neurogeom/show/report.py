"""A self-contained HTML report: inputs, settings, tables, figures and a plain reading of each.

The file needs nothing but itself: figures are embedded as base64 PNG data URIs, the style sheet is
inline, there is no script and no link to the network, so it opens the same anywhere, offline, and
can be mailed or archived as one file.

Examples
--------
>>> import pandas as pd
>>> rep = Report("Capacity across learning", inputs={"recording": "sample.nwb"})
>>> rep.add_section("Numbers").add_table(pd.DataFrame({"capacity": [0.1, 0.3]}), "Per stage.")
<...Report object at ...>
>>> "<table" in rep.to_html() and "http" not in rep.to_html()
True
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from neurogeom._files import write_atomic
from neurogeom._version import __version__
from neurogeom.show._readings import reading as reading
from neurogeom.show._style import figure_png

__all__ = ["Report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45;
       overflow-wrap: anywhere; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; display: block;
        max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right;
         overflow-wrap: normal; }
th { background: #f2f2f2; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-style: italic; margin-top: .3em; }
p.reading { background: #f6f8fa; border-left: 4px solid #4a7ab0; padding: .5em .8em; }
footer { margin-top: 3em; font-size: .8em; color: #666; }
section.summary { background: #fbfbf3; border: 1px solid #dcd9b8; padding: 0 1em .5em; }
nav.contents ol { columns: 2; }
"""


@dataclass
class _Section:
    title: str
    blocks: list[str] = field(default_factory=list)
    summary: bool = False


def _mapping_table(items: Mapping[str, Any], caption: str) -> str:
    df = pd.DataFrame({"name": list(map(str, items)), "value": [str(v) for v in items.values()]})
    return _table_html(df, caption)


def significant(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, trailing zeros kept (``1.00``, ``0.00494``).

    Examples
    --------
    >>> significant(0.004937), significant(1.0), significant(123.4), significant(float("nan"))
    ('0.00494', '1.00', '123', 'NaN')
    """
    if value != value:
        return "NaN"
    text = f"{value:#.{digits}g}"
    return text[:-1] if text.endswith(".") else text


def _table_html(df: pd.DataFrame, caption: str) -> str:
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()  # a named index becomes a column; a row number is not shown
    body = df.to_html(
        border=0, index=False, float_format=significant, na_rep="\u2013"
    )  # not computed
    cut = body.index(">") + 1  # end of the opening <table ...> tag
    return f"{body[:cut]}<caption>{html.escape(caption)}</caption>{body[cut:]}"


class Report:
    """Builder of a self-contained HTML report.

    Parameters
    ----------
    title : str
        The report's title.
    inputs : mapping, optional
        What went in (files, recordings, networks), shown as a table after the sections.
    settings : mapping, optional
        The settings that decide the numbers (estimator, n_t, n_boot, seed, ...), shown last.

    See Also
    --------
    neurogeom.show.learning_report.learning_report : a report built from results.
    neurogeom.show.save_figure : a figure on its own.

    Notes
    -----
    Each ``add_*`` method returns the report, so calls chain. Blocks go into the last section
    opened with :meth:`add_section` (a "Results" section is opened when none is).

    Examples
    --------
    >>> import pandas as pd
    >>> report = Report("Capacity", settings={"estimator": "glue", "seed": 0})
    >>> page = (
    ...     report.add_section("Results", "Capacity at each stage.")
    ...     .add_table(pd.DataFrame({"stage": [0, 1], "capacity": [0.1, 0.3]}), "Capacity.")
    ...     .to_html()
    ... )
    >>> page.startswith("<!DOCTYPE html>"), "<h2>Settings</h2>" in page
    (True, True)
    """

    def __init__(
        self,
        title: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ):
        self.title = str(title)
        self.inputs = dict(inputs or {})
        self.settings = dict(settings or {})
        self._sections: list[_Section] = []
        self.n_figures = 0

    def _current(self) -> _Section:
        if not self._sections:
            self._sections.append(_Section("Results"))
        return self._sections[-1]

    def add_section(self, title: str, text: str | None = None, *, summary: bool = False) -> Report:
        """Open a new section, with an optional introductory paragraph.

        A ``summary=True`` section is shown first, above the contents, the sections and the
        inputs and settings (which close the report).

        Parameters
        ----------
        title : str
            The section's heading.
        text : str, optional
            An introductory paragraph (as in :meth:`add_text`).
        summary : bool, default=False
            Show the section first, before the table of contents.

        Returns
        -------
        Report
            The report itself, so calls chain.

        See Also
        --------
        Report.add_text : a paragraph in the current section.

        Examples
        --------
        >>> page = Report("R").add_section("Summary", "Capacity rose.", summary=True).to_html()
        >>> '<section class="summary"><h2>Summary</h2><p>Capacity rose.</p>' in page
        True
        """
        self._sections.append(_Section(str(title), summary=bool(summary)))
        return self.add_text(text) if text else self

    def add_text(self, text: str) -> Report:
        """A paragraph (plain text; blank lines separate paragraphs).

        Parameters
        ----------
        text : str
            Plain text, HTML-escaped; a blank line starts a new paragraph.

        Returns
        -------
        Report
            The report itself, so calls chain.

        See Also
        --------
        Report.add_section : open a section first.

        Examples
        --------
        >>> page = Report("R").add_text("First.\\n\\nSecond & last.").to_html()
        >>> "<p>First.</p><p>Second &amp; last.</p>" in page
        True
        """
        for para in str(text).strip().split("\n\n"):
            self._current().blocks.append(f"<p>{html.escape(para.strip())}</p>")
        return self

    def add_table(self, df: pd.DataFrame | xr.Dataset, caption: str) -> Report:
        """A table of numbers (a DataFrame, or a Dataset turned into one) with a caption.

        Parameters
        ----------
        df : pandas.DataFrame or xarray.Dataset
            The numbers; a Dataset becomes one row per coordinate combination (one row when it
            has no dims). A named index becomes a column.
        caption : str
            What the table shows.

        Returns
        -------
        Report
            The report itself, so calls chain.

        Raises
        ------
        TypeError
            If ``df`` is neither a DataFrame nor a Dataset.

        See Also
        --------
        Report.add_figure : a figure instead.

        Examples
        --------
        >>> import xarray as xr
        >>> ds = xr.Dataset({"capacity": ("stage", [0.1, 0.3])}, coords={"stage": [0, 1]})
        >>> page = Report("R").add_table(ds, "Capacity per stage.").to_html()
        >>> "<caption>Capacity per stage.</caption>" in page
        True
        """
        if isinstance(df, xr.Dataset):
            df = (
                df.to_dataframe()
                if df.dims
                else pd.DataFrame([{k: v.item() for k, v in df.items()}])
            )
        if not isinstance(df, pd.DataFrame):
            raise TypeError(
                f"add_table needs a pandas DataFrame or xarray Dataset; got {type(df)}."
            )
        self._current().blocks.append(_table_html(df, caption))
        return self

    def add_figure(
        self, fig: Figure, caption: str, reading: str | None = None, *, close: bool = True
    ) -> Report:
        """A figure embedded as a PNG data URI, its caption, and a plain-language reading.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure (closed after embedding unless ``close=False``).
        caption : str
            What the figure shows (axes, bands, markers).
        reading : str, optional
            What the result means and what it does not (see ``reading``).
        close : bool, default=True
            Close the figure once embedded, freeing its memory.

        Returns
        -------
        Report
            The report itself, so calls chain.

        Raises
        ------
        TypeError
            If ``fig`` is not a matplotlib Figure.

        See Also
        --------
        neurogeom.show.save_figure : write the figure to files instead.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots(figsize=(2, 2))
        >>> _ = ax.plot([0, 1], [0, 1])
        >>> report = Report("R").add_figure(fig, "A line.", "It rises.")
        >>> report.n_figures, "Figure 1. A line." in report.to_html()
        (1, True)
        """
        if not isinstance(fig, Figure):
            raise TypeError(f"add_figure needs a matplotlib Figure; got {type(fig)}.")
        data = base64.b64encode(figure_png(fig)).decode("ascii")
        if close:
            plt.close(fig)
        self.n_figures += 1
        alt = html.escape(caption, quote=True)
        block = (
            f'<figure id="figure-{self.n_figures}"><img alt="{alt}" '
            f'src="data:image/png;base64,{data}"><figcaption>Figure {self.n_figures}. '
            f"{html.escape(caption)}</figcaption></figure>"
        )
        if reading:
            block += f'<p class="reading"><b>Reading.</b> {html.escape(reading)}</p>'
        self._current().blocks.append(block)
        return self

    def to_html(self) -> str:
        """The whole report as one HTML document (UTF-8, no external resources).

        Returns
        -------
        str
            The document: title, summary sections, contents (with more than two sections), the
            sections, inputs and settings, and a footer with the version and time written.

        See Also
        --------
        Report.save : write it to a file.

        Examples
        --------
        >>> page = Report("Capacity", inputs={"recording": "sample_late.nwb"}).to_html()
        >>> "<title>Capacity</title>" in page, "sample_late.nwb" in page
        (True, True)
        """
        parts = [f"<h1>{html.escape(self.title)}</h1>"]
        body = [s for s in self._sections if not s.summary]
        for sec in (s for s in self._sections if s.summary):
            parts.append(f'<section class="summary"><h2>{html.escape(sec.title)}</h2>')
            parts.extend(sec.blocks)
            parts.append("</section>")
        tail = [
            (t, f"sec-{t.lower()}")
            for t, v in (("Inputs", self.inputs), ("Settings", self.settings))
            if v
        ]
        entries = [(sec.title, f"sec-{k + 1}") for k, sec in enumerate(body)] + tail
        if len(entries) > 2:
            items = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for t, a in entries)
            parts.append(f'<nav class="contents"><h2>Contents</h2><ol>{items}</ol></nav>')
        for k, sec in enumerate(body):
            parts.append(f'<section id="sec-{k + 1}"><h2>{html.escape(sec.title)}</h2>')
            parts.extend([*sec.blocks, "</section>"])
        if self.inputs:
            parts += [
                '<section id="sec-inputs"><h2>Inputs</h2>',
                _mapping_table(self.inputs, "What went in."),
                "</section>",
            ]
        if self.settings:
            parts += [
                '<section id="sec-settings"><h2>Settings</h2>',
                _mapping_table(self.settings, "What decides the numbers."),
                "</section>",
            ]
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(f"<footer>neurogeom {html.escape(__version__)}, written {stamp}.</footer>")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n"
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the report atomically to ``path`` (its folder must exist); returns the path.

        Parameters
        ----------
        path : str or path
            The ``.html`` file to write; its folder must exist.

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        FileNotFoundError
            If the folder does not exist (nothing is written).

        See Also
        --------
        Report.to_html : the document as a string.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Report("R").add_text("Hello.").save(Path(folder) / "report.html")
        ...     size = path.stat().st_size
        >>> path.name, size > 0
        ('report.html', True)
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"folder {path.parent} does not exist; create it first.")
        write_atomic(path, self.to_html().encode("utf-8"))
        return path


def spec_report(
    ds: xr.Dataset,
    *,
    spec: str,
    setting: str,
    title: str,
    inputs: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[Report, dict[str, Any]]:
    """A report of a spec run at a named setting, its inputs and settings filled in.

    The report builders of the spec kinds with settings (lazy-rich, pullback) start here.

    Parameters
    ----------
    ds : xarray.Dataset
        The run's result: attrs ``spec`` (the checked spec, JSON) and ``data`` (what it was
        trained on), a ``seed`` coord.
    spec : str
        The spec's path.
    setting : str
        The setting's name (``"fast"``, ``"full"``).
    title : str
        The report's title.
    inputs, settings : mapping, optional
        More rows of the inputs and settings tables.

    Returns
    -------
    (Report, dict)
        The report (not yet saved, no section yet) and the spec's table read from ``ds``.

    Examples
    --------
    >>> ds = xr.Dataset(coords={"seed": [0, 1]}, attrs={"spec": '{"n": 2}', "data": "toy"})
    >>> rep, cfg = spec_report(ds, spec="s.toml", setting="fast", title="Toy")
    >>> cfg, rep.inputs["seeds"]
    ({'n': 2}, [0, 1])
    """
    cfg = json.loads(ds.attrs.get("spec", "{}"))
    rows = {
        "spec": spec,
        "setting": setting,
        "data": ds.attrs.get("data", ""),
        **(inputs or {}),
        "seeds": [int(s) for s in ds["seed"].values],
    }
    return Report(title, inputs=rows, settings=dict(settings or {})), cfg
