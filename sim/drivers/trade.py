"""Trade normalisation: export controls, white lists, the WTO case and the Korean consumer boycott.

Each capital holds its own regime (export controls, the other side on or off its white list); Seoul or Tokyo
may file a WTO case. ``trade_normalization`` is one minus the weighted restrictions, so 1 is the pre-2019 and
post-2023 state. A Korean boycott (the 2019 'No Japan' campaign) grows while Japan restricts trade and Korean
nationalist pressure exceeds a threshold, and fatigue wears it down (the essay's trade section; beer imports -97 %
and visitors -65 % y/y in late 2019, rows of sim/data/events_2015_2025.csv).
"""

from __future__ import annotations

from typing import ClassVar

from sim.moves import DispatchError, Move, Side
from sim.scenario import TradeDriver

_IMPOSE = {
    Move.IMPOSE_EXPORT_CONTROLS: "export_controls",
    Move.REMOVE_WHITE_LIST: "white_list_removed",
}
_LIFT = {
    Move.LIFT_EXPORT_CONTROLS: "export_controls",
    Move.RESTORE_WHITE_LIST: "white_list_removed",
}


class TradeRegime:
    """Both sides' trade measures, the WTO case and the boycott."""

    #: The moves whose change of state this driver applies (``sim.model.MOVE_DRIVERS`` is built from it).
    MOVES: ClassVar[frozenset[Move]] = frozenset({*_IMPOSE, *_LIFT, Move.FILE_WTO_CASE, Move.DROP_WTO_CASE})

    def __init__(self, spec: TradeDriver) -> None:
        """Start from the scenario's regime."""
        self.spec = spec
        self.flags: dict[str, bool] = {
            "jp_export_controls": spec.jp_export_controls,
            "jp_white_list_removed": spec.jp_white_list_removed,
            "kr_export_controls": spec.kr_export_controls,
            "kr_white_list_removed": spec.kr_white_list_removed,
            "wto_case": spec.wto_case,
        }
        self.boycott = spec.boycott
        self._weights = spec.restriction_weights.model_dump()
        # The side that filed the open WTO case (only it can drop it); a case open at the start is Seoul's.
        self.wto_filer: Side | None = Side.SEOUL if spec.wto_case else None

    @staticmethod
    def _key(side: Side, measure: str) -> str:
        return f"{'kr' if side is Side.SEOUL else 'jp'}_{measure}"

    def feasible(self, side: Side, move: Move) -> str | None:
        """Why a trade move (one of :attr:`MOVES`) cannot be made in the current state, or None if it can."""
        partner = side.partner.value.capitalize()
        if move in _IMPOSE and self.flags[self._key(side, _IMPOSE[move])]:
            if _IMPOSE[move] == "export_controls":
                return "already in place: your export controls are in force"
            return f"already in place: {partner} is off your white list"
        if move in _LIFT and not self.flags[self._key(side, _LIFT[move])]:
            if _LIFT[move] == "export_controls":
                return "nothing to lift: you have no export controls in force"
            return f"nothing to lift: {partner} is on your white list"
        if move is Move.FILE_WTO_CASE and self.flags["wto_case"]:
            return "a WTO case is already open"
        if move is Move.DROP_WTO_CASE and self.wto_filer is not side:
            return "no WTO case of this government is open"
        return None

    def apply(self, side: Side, move: Move) -> None:
        """Set or clear the measure a trade move concerns (idempotent, so injects may repeat a state).

        A move outside :attr:`MOVES` raises :class:`~sim.moves.DispatchError` rather than changing nothing.
        """
        if move in _IMPOSE:
            self.flags[self._key(side, _IMPOSE[move])] = True
        elif move in _LIFT:
            self.flags[self._key(side, _LIFT[move])] = False
        elif move is Move.FILE_WTO_CASE:
            self.flags["wto_case"] = True
            self.wto_filer = side
        elif move is Move.DROP_WTO_CASE:
            self.flags["wto_case"] = False
            self.wto_filer = None
        else:
            raise DispatchError(f"the trade regime has no state change for move {move.value!r}")

    def restricted_by(self, side: Side) -> bool:
        """Whether this side has any export control or white-list removal in force."""
        return self.flags[self._key(side, "export_controls")] or self.flags[self._key(side, "white_list_removed")]

    def start_boycott(self, intensity: float) -> None:
        """A boycott inject: raise intensity to at least this level."""
        self.boycott = min(1.0, max(self.boycott, intensity))

    def update(self, korean_pressure: float) -> None:
        """Grow the boycott while Japan restricts and pressure is high; fatigue wears it down every month.

        ``B' = B + growth * excess * (1 - B) - decay * B`` (growth only while Japan restricts and Korean
        nationalist pressure exceeds the threshold), so a boycott settles where mobilisation and fatigue balance
        and fades as pressure eases even while the measures stay: the 2019 'No Japan' campaign had waned by 2022
        although Japan's controls lasted until March 2023.
        """
        s = self.spec
        excess = korean_pressure - s.boycott_threshold
        growth = (
            s.boycott_growth * excess * (1.0 - self.boycott)
            if self.restricted_by(Side.TOKYO) and excess > 0
            else 0.0
        )
        self.boycott = min(1.0, max(0.0, self.boycott + growth - s.boycott_decay * self.boycott))

    @property
    def normalization(self) -> float:
        """1 minus weighted restrictions: 1 = normal trade, 0 = every measure in force and full boycott."""
        w = self._weights
        loss = sum(w[key] for key, on in self.flags.items() if on) + w["boycott"] * self.boycott
        return max(0.0, 1.0 - loss)
