"""The browser dashboard: one run of a scenario, stepped live (``rapprochement dashboard``).

Built with Solara directly rather than Mesa's ``SolaraViz``: importing ``mesa.visualization`` requires Altair,
which the ``ui`` extra does not install, and the few controls needed here are simple to write. The layout follows
SolaraViz: a sidebar with step / play / reset and the model parameters (a scenario picker over the YAML files
beside the scenario the command was given, the integer seed, sliders for the levers and key drivers), and a main
area with live plots of the key outcomes and an event log (injects, the governments' moves, the month's
incidents and provocations).

The sliders are shifts or multipliers *relative to the picked scenario* (0 or 1 = the scenario as written), so
another scenario keeps its own values; changed parameters take effect on Reset, as in SolaraViz.

Run with ``solara run sim.ui.dashboard`` (the command does this on 127.0.0.1); the scenario file comes from the
environment variable ``RAPPROCHEMENT_DASHBOARD_SCENARIO`` (default ``scenarios/baseline.yaml``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import solara
import solara.lab
from matplotlib.figure import Figure

from sim.loading import ScenarioError
from sim.model import RapprochementModel
from sim.moves import Side
from sim.plots import outcome_lines
from sim.runner import RunSeeds
from sim.runner import build_model as replication_build
from sim.scenario import Scenario, add_months, load_scenario
from sim.ui import DASHBOARD_SCENARIO_ENV, DEFAULT_DASHBOARD_SCENARIO

SCENARIO_ENV = DASHBOARD_SCENARIO_ENV
DEFAULT_SCENARIO = DEFAULT_DASHBOARD_SCENARIO
#: Lines of the event log shown (the latest first).
LOG_LINES = 40
#: Pause between months while playing (seconds).
PLAY_INTERVAL = 0.25


def scenario_folder() -> tuple[Path, str]:
    """The folder whose scenarios the picker offers, and the file picked at start."""
    path = Path(os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO).resolve()
    return path.parent, path.name


@dataclass(frozen=True)
class Knob:
    """A slider: a shift (added) or a multiplier of one or more scenario fields, clipped to their range."""

    label: str
    paths: tuple[str, ...]
    multiply: bool
    low: float
    high: float
    step: float
    clip: tuple[float, float]

    @property
    def neutral(self) -> float:
        """The slider value that leaves the scenario as written."""
        return 1.0 if self.multiply else 0.0


KNOBS: dict[str, Knob] = {
    "seoul_cooperation": Knob(
        "Seoul cooperation priority (+)", ("levers.seoul.cooperation_priority",), False, -1, 1, 0.1, (-1, 1)
    ),
    "tokyo_cooperation": Knob(
        "Tokyo cooperation priority (+)", ("levers.tokyo.cooperation_priority",), False, -1, 1, 0.1, (-1, 1)
    ),
    "nk_provocations": Knob(
        "North Korean provocations (\u00d7)", ("drivers.security.nk_provocation_rate",), True, 0, 4, 0.25, (0, 50)
    ),
    "us_engagement": Knob(
        "US engagement target (+)", ("actors.washington.target_engagement",), False, -0.6, 0.4, 0.05, (0, 1)
    ),
    "brokering": Knob("US brokering (\u00d7)", ("actors.washington.brokering",), True, 0, 3, 0.25, (0, 5)),
    "nationalism": Knob(
        "Nationalism in both publics (+)",
        ("publics.korea.nationalism_mean", "publics.japan.nationalism_mean"),
        False,
        -0.2,
        0.3,
        0.05,
        (0.01, 0.99),
    ),
    "interdependence": Knob(
        "Economic interdependence (\u00d7)", ("drivers.trade.interdependence",), True, 0, 1.4, 0.1, (0, 1)
    ),
}


def adjusted(scenario: Scenario, knobs: Mapping[str, float]) -> Scenario:
    """The scenario with slider values applied (each a shift or multiplier of its fields, clipped)."""
    values = {}
    for name, value in knobs.items():
        knob = KNOBS[name]
        for path in knob.paths:
            base = float(scenario.resolve(path))
            new = base * value if knob.multiply else base + value
            values[path] = min(knob.clip[1], max(knob.clip[0], new))
    return scenario.with_values(values)


def build_model(scenario_file: str, seed: int, knobs: Mapping[str, float]) -> RapprochementModel:
    """The dashboard's model: the picked scenario with the sliders applied, on the seed."""
    folder, _ = scenario_folder()
    # The seed is the model's own (as typed in the dashboard); it also picks the posterior draw.
    model, _ = replication_build(
        adjusted(load_scenario(folder / scenario_file), knobs), RunSeeds(0, seed, seed), {}
    )
    return model


def event_log(model: RapprochementModel) -> list[str]:
    """The run's events so far, latest first: injects, governments' moves, incidents and provocations."""
    lines: dict[int, list[str]] = {}
    for month in range(model.month):
        for event in model.injects.get(month, ()):
            text = event.description or event.kind.value.replace("_", " ")
            lines.setdefault(month, []).append(f"inject: {text} ({event.actor.value})")
    for month, side, move in model.moves_log:
        lines.setdefault(month, []).append(f"{side.value}: {move.value.replace('_', ' ')}")
    collected = model.monthly()
    counts = zip(collected["history_events"], collected["nk_provocations"], strict=True)
    for month, (history, provocations) in enumerate(counts):
        if history:
            lines.setdefault(month, []).append(f"{history} history or territorial incident(s)")
        if provocations:
            lines.setdefault(month, []).append(f"{provocations} North Korean provocation(s)")
    start = model.spec.meta.start
    return [f"{add_months(start, m):%Y-%m}  {text}" for m in sorted(lines, reverse=True) for text in lines[m]]


#: The plots: outcomes with their colours (Okabe-Ito) and title.
PLOTS: tuple[tuple[dict[str, str], str], ...] = (
    ({"relations_index": "#0072B2"}, "Relations index"),
    ({"kr_favorability": "#D55E00", "jp_favorability": "#009E73"}, "Favourable to the other country (%)"),
    (
        {"security_cooperation": "#0072B2", "trade_normalization": "#E69F00", "institutionalization": "#CC79A7"},
        "Cooperation (0-1)",
    ),
    (
        {"history_salience": "#D55E00", "nationalist_pressure_kr": "#56B4E9", "us_engagement": "#000000"},
        "Salience, nationalist pressure, US engagement (0-1)",
    ),
)
#: Short legend names, so each legend fits in a row under its plot.
LEGEND: dict[str, str] = {
    "kr_favorability": "Koreans of Japan",
    "jp_favorability": "Japanese of Korea",
    "security_cooperation": "security",
    "trade_normalization": "trade",
    "institutionalization": "institutions",
    "history_salience": "history salience",
    "nationalist_pressure_kr": "Korean nationalism",
    "us_engagement": "US engagement",
}


def outcome_figure(model: RapprochementModel, measures: Mapping[str, str], title: str) -> Figure:
    """A small dated line plot of some outcomes of the run so far, in the reports' style (``outcome_lines``:
    the outcome-class thresholds drawn, a line at the edge of its scale kept clear of the frame, the legend
    under the plot)."""
    fig = Figure(figsize=(5.6, 3.3), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    collected = model.monthly()
    months = len(collected["relations_index"])
    spec = model.spec
    frame = pd.DataFrame({name: collected[name] for name in measures})
    frame.insert(0, "date", pd.date_range(add_months(spec.meta.start, 0), periods=months, freq="MS"))
    outcome_lines(
        frame,
        measures,
        ax=ax,
        title=title,
        thresholds=spec.outcomes.model_dump(),
        span=(add_months(spec.meta.start, 0), add_months(spec.meta.start, spec.meta.months - 1)),
        labels=LEGEND,
    )
    return fig


@solara.component
def Plots(model: RapprochementModel, version: int) -> None:
    """The key outcomes, redrawn after every month."""
    with solara.GridFixed(columns=2):
        for measures, title in PLOTS:
            with solara.Div(classes=["outcome-plot", f"plot-{next(iter(measures))}"]):
                solara.FigureMatplotlib(
                    outcome_figure(model, measures, title), dependencies=[version, id(model)], format="png"
                )


@solara.component
def EventLog(model: RapprochementModel, version: int) -> None:
    """The latest events of the run."""
    entries = event_log(model)[:LOG_LINES]
    with solara.Card("Event log", classes=["event-log"]):
        if not entries:
            solara.Text("Nothing yet: press Step or Play.")
        for line in entries:
            solara.Div(children=[line], classes=["event-log-line"])


def state_text(model: RapprochementModel, seed: int) -> str:
    """One line on what is running: scenario, seed, month, leaders and the drivers the sliders set."""
    spec = model.spec
    seoul, tokyo = model.governments[Side.SEOUL], model.governments[Side.TOKYO]
    month = f"{add_months(spec.meta.start, model.month - 1):%Y-%m}" if model.month else "start"
    return (
        f"{spec.meta.name}, seed {seed}: month {model.month} of {spec.meta.months} ({month}). "
        f"Seoul: {seoul.leader or 'leader'} (approval {seoul.approval:.0%}); "
        f"Tokyo: {tokyo.leader or 'leader'} (approval {tokyo.approval:.0%}). "
        f"North Korean provocations {spec.drivers.security.nk_provocation_rate:.2f} a month; "
        f"US engagement target {spec.actors.washington.target_engagement:.2f}."
    )


@solara.component
def Page() -> None:
    """The dashboard."""
    folder, default = scenario_folder()
    names = sorted(p.name for p in folder.glob("*.yaml")) or [default]
    scenario_file = solara.use_reactive(default)
    seed = solara.use_reactive(1)
    knobs = solara.use_reactive({name: knob.neutral for name, knob in KNOBS.items()})
    settings = (scenario_file.value, seed.value, tuple(knobs.value.items()))
    # use_reactive follows a plain value that changes between renders: give it the first settings only.
    applied = solara.use_reactive(solara.use_memo(lambda: settings, []))
    model: solara.Reactive[RapprochementModel] = solara.use_reactive(
        solara.use_memo(lambda: build_model(default, 1, {n: k.neutral for n, k in KNOBS.items()}), [])
    )
    version = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    error = solara.use_reactive("")
    lock = solara.use_memo(threading.Lock, [])

    def step() -> None:
        with lock:
            if model.value.month < model.value.spec.meta.months:
                model.value.step()
            else:
                playing.value = False
        version.value += 1

    def reset() -> None:
        playing.value = False
        try:
            new = build_model(scenario_file.value, int(seed.value), knobs.value)
        except (ScenarioError, ValueError) as exc:
            error.value = str(exc)
            return
        error.value = ""
        with lock:
            model.value = new
        applied.value = settings
        version.value += 1

    def play() -> None:
        while playing.value and model.value.month < model.value.spec.meta.months:
            time.sleep(PLAY_INTERVAL)
            if playing.value:
                step()
        playing.value = False

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)

    solara.Title("Rapprochement dashboard")
    with solara.AppBar():
        solara.AppBarTitle("Rapprochement: Seoul, Tokyo, Washington")
    with solara.Sidebar():
        with solara.Card("Controls"):
            with solara.Row():
                solara.Button("Reset", color="primary", on_click=reset, classes=["reset-button"])
                solara.Button(
                    "Pause" if playing.value else "Play",
                    color="primary",
                    on_click=lambda: playing.set(not playing.value),
                    classes=["play-button"],
                )
                solara.Button(
                    "Step", color="primary", on_click=step, disabled=playing.value, classes=["step-button"]
                )
            if settings != applied.value:
                solara.Info("Parameters changed: press Reset to start a run with them.")
            if error.value:
                solara.Error(error.value)
        with solara.Card("Model parameters"):
            solara.Select("Scenario", values=names, value=scenario_file)
            solara.Text(
                "Sliders change the picked scenario: (+) adds to its value, (\u00d7) multiplies it; 0 and 1 leave "
                "it as written.",
                classes=["knob-help"],
            )
            solara.InputInt("Seed (whole number)", value=seed, classes=["seed-input"])
            for name, knob in KNOBS.items():

                def turn(value: float, name: str = name) -> None:
                    knobs.value = {**knobs.value, name: value}

                value = knobs.value[name]
                # The label on its own line: beside the slider it would squeeze the track to a stub.
                with solara.Div(classes=["knob", f"knob-{name}"]):
                    solara.Text(f"{knob.label}: {value:.2f}")
                    solara.SliderFloat("", value=value, on_value=turn, min=knob.low, max=knob.high, step=knob.step)
    with solara.Div(classes=["dashboard-state"]):
        solara.Text(state_text(model.value, applied.value[1]))
    Plots(model.value, version.value)
    EventLog(model.value, version.value)
