"""Where a figure or a report page comes from: scenario, scenario hash, root seed, runs, date, version, command.

A results folder's ``manifest.json`` records all of it; a :class:`Provenance` carries it into the files drawn
from the folder - as text chunks of a PNG, metadata of an SVG or PDF, and a footer line on the figure itself - so
a figure copied into slides or a paper still says which batch it shows. One record may cover several batches
(a comparison): it then names every scenario with its hash.

Everything here follows from the manifest alone (its creation *date*, not the time of drawing), so the same
results give the same files. The module imports nothing heavy: the results store and the command line use it
before deciding whether to plot at all.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

__all__ = ["HASH_DIGITS", "Provenance", "package_version", "run_command"]

#: How many hex digits of the scenario hash name a scenario (as the refusals of the results store do).
HASH_DIGITS = 12
PACKAGE = "rapprochement"
#: The separator of the one-line text (a middle dot: Latin-1, so it fits a plain PNG text chunk).
_DOT = " \u00b7 "


def package_version() -> str:
    """The installed version of this package, or "unknown" when it is run from a source tree not installed."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def run_command(manifest: Mapping[str, Any]) -> str:
    """The command line that computes the batch of ``manifest`` again (same scenario file, runs, seed and
    overrides); "" when the manifest does not say which scenario file it ran (results written by the API).

    Options that change nothing in the results (workers, output folder, plots) are left out. A sweep's design
    size and factors are not in the manifest, so its command names the design kind only.
    """
    source = str(manifest.get("source") or "")
    if not source:
        return ""
    design = (manifest.get("identity") or {}).get("design") or manifest.get("design")
    words = ["rapprochement", "sweep" if design else "run", source]
    if design:
        words += ["--design", str(design.get("kind", "?"))]
    replications = manifest.get("replications", manifest.get("runs"))
    if replications is not None:
        words += ["--runs", str(replications)]
    if manifest.get("root_seed") is not None:
        words += ["--seed", str(manifest["root_seed"])]
    for override in manifest.get("overrides") or []:
        words += ["--set", str(override)]
    return shlex.join(words)


def _distinct(values: Iterable[str]) -> list[str]:
    return [v for v in dict.fromkeys(values) if v]


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


@dataclass(frozen=True)
class Provenance:
    """The origin of a figure or page: one entry per batch it shows, in order (the reference first).

    ``scenarios`` holds each batch's scenario name and the first :data:`HASH_DIGITS` hex digits of its scenario
    hash; ``seeds`` and ``runs`` each batch's root seed and number of runs (None when unknown); ``created`` each
    batch's creation date (``YYYY-MM-DD``, "" when unknown); ``version`` the package version that computed the
    results; ``command`` the command line that made them or, for a page of an analysis, the command that wrote
    it ("" when unknown).
    """

    scenarios: tuple[tuple[str, str], ...]
    seeds: tuple[int | None, ...]
    runs: tuple[int | None, ...]
    created: tuple[str, ...]
    version: str
    command: str = ""

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], *, command: str | None = None) -> Provenance:
        """The provenance of one batch from its manifest (``command`` defaults to :func:`run_command`'s).

        The version is the one the manifest recorded, since that is what computed the numbers drawn; the
        installed version stands in for manifests without one.
        """
        recorded = str((manifest.get("versions") or {}).get(PACKAGE) or "")
        version = recorded if recorded and recorded != "not installed" else package_version()
        seed, runs = manifest.get("root_seed"), manifest.get("runs")
        digest = str(manifest.get("scenario_hash") or "")[:HASH_DIGITS]
        return cls(
            scenarios=((str(manifest.get("scenario") or "?"), digest),),
            seeds=(int(seed) if seed is not None else None,),
            runs=(int(runs) if runs is not None else None,),
            created=(str(manifest.get("created") or "")[:10],),
            version=version,
            command=run_command(manifest) if command is None else command,
        )

    @classmethod
    def combine(cls, parts: Sequence[Provenance], *, command: str = "") -> Provenance:
        """One record for the batches of ``parts`` together (a comparison), made by ``command``."""
        if not parts:
            raise ValueError("combine: expected at least one provenance")
        return cls(
            scenarios=tuple(s for p in parts for s in p.scenarios),
            seeds=tuple(s for p in parts for s in p.seeds),
            runs=tuple(r for p in parts for r in p.runs),
            created=tuple(c for p in parts for c in p.created),
            version=", ".join(_distinct(p.version for p in parts)),
            command=command,
        )

    # -- words ------------------------------------------------------------------------------------------
    @property
    def scenario_text(self) -> str:
        """Each scenario with its hash prefix: ``baseline · a1b2c3d4e5f6 vs trade_war · 0f0f0f0f0f0f``."""
        return " vs ".join(_DOT.join(w for w in pair if w) for pair in self.scenarios)

    @property
    def seed_text(self) -> str:
        """``seed 1``, or ``seeds 1 and 5`` when the batches differ."""
        seeds = _distinct(str(s) for s in self.seeds if s is not None)
        if not seeds:
            return "seed unknown"
        return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {_and(seeds)}"

    @property
    def runs_text(self) -> str:
        """``200 runs``, or ``200 and 50 runs`` (in batch order) when the batches differ."""
        runs = [str(r) for r in self.runs if r is not None]
        if not runs:
            return "runs unknown"
        return f"{runs[0]} runs" if len(set(runs)) == 1 else f"{_and(runs)} runs"

    @property
    def date_text(self) -> str:
        """The creation date(s) of the batches, each once."""
        return ", ".join(_distinct(self.created)) or "date unknown"

    def text(self) -> str:
        """One line: ``baseline · a1b2c3d4e5f6 · seed 1 · 200 runs · 2026-12-05 · rapprochement 0.1.0``."""
        return _DOT.join(
            [self.scenario_text, self.seed_text, self.runs_text, self.date_text, f"{PACKAGE} {self.version}"]
        )

    # -- file metadata ----------------------------------------------------------------------------------
    def metadata(self, fmt: str, *, title: str = "") -> dict[str, str | None] | None:
        """The ``metadata`` argument of matplotlib's ``savefig`` for format ``fmt`` (None for formats without
        metadata), ``title`` naming the figure.

        PNG gets text chunks, standard keywords (Title, Description, Source, Software, Creation Time) and one per
        field; SVG and PDF their standard fields. No field holds the time of drawing (matplotlib would write it
        into SVG and PDF by default): the date is the batch's, so the same results give the same bytes.
        """
        software = f"{PACKAGE} {self.version}"
        described = self.text() + (f"{_DOT}{self.command}" if self.command else "")
        fmt = fmt.lower()
        if fmt == "png":
            chunks: dict[str, str | None] = {
                "Title": title or self.scenario_text,
                "Description": self.text(),
                "Source": self.command or software,
                "Software": software,
                "Creation Time": self.date_text,
                "Scenario": ", ".join(name for name, _ in self.scenarios),
                "Scenario hash": ", ".join(digest for _, digest in self.scenarios),
                "Root seed": ", ".join(str(s) for s in self.seeds),
                "Runs": ", ".join(str(r) for r in self.runs),
            }
            if self.command:
                chunks["Command"] = self.command
            return chunks
        if fmt == "svg":
            svg: dict[str, str | None] = {
                "Title": title or self.scenario_text,
                "Description": described,
                "Creator": software,
                "Date": None,
            }
            if self.command:
                svg["Source"] = self.command
            return svg
        if fmt == "pdf":
            return {
                "Title": title or self.scenario_text,
                "Subject": described,
                "Creator": software,
                "CreationDate": None,
            }
        return None
