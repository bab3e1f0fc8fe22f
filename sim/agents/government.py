"""Seoul and Tokyo: governments that choose a move each month under a two-level game.

Each government weighs every move by expected utility relative to doing nothing:

    U(m) = security_value * threat * security(m) + economic_value * interdependence * trade(m)
         + us_pressure * (c + 2 * security(m)) + orientation_weight * (2 * orientation - 1) * c
         - nationalist_weight * nationalist_pressure * c
         - grievance_weight * salience * (dispute_grievance_multiplier if dispute open else 1) * c
         + reciprocity * partner_memory * c + cooperation_priority * c
         - domestic_weight * (1 - acceptance(m))
         - capital_weight * approval_cost(m) / max(approval - approval_floor, 0.01)
         - 2 * institutional_restraint * max(0, -c) - action_cost

where c is the move's conciliation. **The domestic win-set is a cost, not a veto** (Putnam 1988, with the
ratification made a price rather than a gate): a move that the voice-weighted share of the public accepting it
leaves below ``needed = win_set_share - approval_slack * (approval - 0.5)`` costs
``approval_cost = winset_cost * (needed - acceptance)`` of approval when it is made. A leader weighs that cost
against its conviction (the orientation term) and the stakes (threat, economic loss, US pressure), and a cost
weighs more the thinner the approval buffer above ``approval_floor``: a popular leader has room to lead, an
unpopular one must follow, and a convinced leader may move ahead of a public that opposes the move, as Yoon did
with the March 2023 compensation plan (opposed 59 % to 35 %, Gallup Korea; sim/data/patterns.csv). A narrower
win-set makes conciliation dearer, which is still leverage at the table: a joint move (summit, statement) happens
only if the partner's government joins, and it joins freely inside its win-set but outside it only when its own
weighing says the cost is worth paying. The decision rule (``sim.agents.decision``) then picks one move. Leaders
change on the scenario's calendar or by inject; institutions pull a successor's orientation toward the
predecessor's, and the public hears the new leader's cues (``sim.agents.public``).

A rule may also settle the month's move outside the model (``DecisionRule.directive``; the class exercise's
``sim.agents.team.TeamRule`` does): that move replaces the government's own choice, levers and initiative draw
included, and is checked against the state when it is due (the month's injects and events come first and may
have ruled it out); a ruled-out move is not made and the government holds. A move outside the win-set is made at
its approval cost. The rule hears what became of the move it chose (``DecisionRule.hear``: made, blocked,
rebuffed). A rule that does not weigh utilities feels US brokering through its win-set instead
(``DecisionRule.pressure_in_win_set``): a cooperative move needs ``US_PRESSURE_SHARE x (brokering factor - 1)``
less of the public (a factor of 2: 5 points less; 0: 5 points more), the room an ally's visible pressure gives a
leader at home. The shipped rules keep the defaults (no directive, US pressure in the utility), so none of this
changes a run without such a rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.agents.decision import MoveOption, MoveOutcome, MoveResult, make_rule
from sim.agents.public import Leader
from sim.moves import Move, Side
from sim.scenario import Camp, Government, GovernmentLevers, months_between

if TYPE_CHECKING:
    from sim.agents.public import PublicOpinion
    from sim.model import RapprochementModel

#: Share of the public a cooperative move needs less per unit of Washington's brokering factor above 1, for a
#: government whose rule feels US pressure through its win-set (the others read it in their utility).
US_PRESSURE_SHARE = 0.05


class GovernmentAgent(mesa.Agent["RapprochementModel"]):
    """A capital's government: leader, approval, memory of the partner, and its choice of move."""

    def __init__(self, model: RapprochementModel, side: Side, spec: Government, levers: GovernmentLevers) -> None:
        """Install the scenario's leader and calendar."""
        super().__init__(model)
        self.side = side
        self.spec = spec
        self.levers = levers
        self.rule = make_rule(spec)
        self.leader = spec.leader
        self.orientation = spec.orientation
        self.camp = spec.camp
        self.approval = spec.approval
        self.partner_memory = 0.0
        self.last_used: dict[Move, int] = {}
        self.last_acceptance = 1.0
        #: Approval the last move made or joined cost (``record``).
        self.last_cost = 0.0
        # Reasons that never change in a run (who may make a move, what the levers forbid), worked out once:
        # the options are weighed most months, and these checks came first for every move.
        self._fixed_blocks: dict[Move, str] = {}
        for move, move_spec in model.moves.items():
            if side not in move_spec.actors:
                self._fixed_blocks[move] = f"only {' or '.join(sorted(move_spec.actors))} can make this move"
            elif move in levers.forbidden_moves:
                self._fixed_blocks[move] = "ruled out by this government's levers"
        start = model.spec.meta.start
        self.next_change: int | None = (
            months_between(start, spec.next_leadership_change) if spec.next_leadership_change is not None else None
        )

    @property
    def public(self) -> PublicOpinion:
        """The public this government answers to."""
        return self.model.publics[self.side.public]

    def required_share(self, move: Move | None = None, us_factor: float | None = None) -> float:
        """Share of the public a move needs: lower for a popular government.

        If the rule feels US pressure through the win-set, a cooperative ``move`` needs less under US brokering
        (more when Washington stands back): ``us_factor`` is Washington's brokering factor (default: the one in
        force now)."""
        needed = self.spec.win_set_share - self.spec.approval_slack * (self.approval - 0.5)
        if self.rule.pressure_in_win_set and move is not None and self.model.moves[move].cooperative:
            factor = self.model.washington.brokering_factor if us_factor is None else us_factor
            needed -= US_PRESSURE_SHARE * (factor - 1.0)
        return needed

    def acceptance_of(self, move: Move) -> float:
        """Voice-weighted share of this government's public that would accept ``move`` now."""
        return self.public.acceptance(self.model.moves[move].conciliation, self.model.history.salience)

    def approval_cost(self, move: Move, acceptance: float, us_factor: float | None = None) -> float:
        """Approval a move costs when made: ``winset_cost`` per share of the public it falls short of the
        win-set (0 inside it)."""
        return self.spec.winset_cost * max(0.0, self.required_share(move, us_factor) - acceptance)

    def _inside_win_set(self, move: Move, acceptance: float | None = None) -> bool:
        """Whether ``move`` (at ``acceptance``, measured now if not given) costs no approval."""
        accepting = self.acceptance_of(move) if acceptance is None else acceptance
        return accepting >= self.required_share(move)

    @property
    def buffer(self) -> float:
        """Approval above ``approval_floor`` (at least 0.01): the political capital a leader can spend."""
        return max(self.approval - self.spec.approval_floor, 0.01)

    def consents(self, move: Move) -> bool:
        """Whether this government joins a joint move the partner proposes.

        Inside its win-set it joins; outside it, its rule decides (``DecisionRule.joins``) on the utility of
        joining: that of making the move, less the fixed cost of taking the initiative. The shipped rules join
        when it is positive (the move is worth its approval cost).
        """
        acceptance = self.acceptance_of(move)
        if self._inside_win_set(move, acceptance):
            return True
        joining = self._utility(move, acceptance, self._stakes()) + self.spec.action_cost
        return self.rule.joins(MoveOption(move, acceptance, None, joining, self.approval_cost(move, acceptance)))

    def _ruled_out(self, move: Move) -> str | None:
        """Why a move is not open (who may make it, levers, the bilateral state, cooldown), or None."""
        reason = self._fixed_blocks.get(move)
        if reason is not None:
            return reason
        spec = self.model.moves[move]
        reason = self.model.state_blocks(self.side, move)
        if reason is not None:
            return reason
        last = self.last_used.get(move)
        if last is not None and self.model.month - last < spec.cooldown:
            return f"made {self.model.month - last} months ago (cooldown {spec.cooldown})"
        return None

    def utility(self, move: Move, acceptance: float) -> float:
        """Expected utility of a move relative to holding (see the module docstring)."""
        return self._utility(move, acceptance, self._stakes())

    def _stakes(self) -> tuple[float, float, float, float, float, float, float]:
        """The move-independent factors of ``utility`` this month, computed once for all the moves weighed.

        Each is the product ``utility`` would form first (``a * b * x`` is ``(a * b) * x``), so a utility built
        from them is bit for bit the one computed term by term.
        """
        m = self.model
        s = self.spec
        trade = m.spec.drivers.trade
        salience = m.history.salience
        return (
            m.spec.drivers.security.security_value * m.security.threat,
            trade.economic_value * trade.interdependence,
            m.washington.pressure(m.institutions.climate),
            s.orientation_weight * (2.0 * self.orientation - 1.0),
            s.nationalist_weight * self.public.nationalist_pressure(salience),
            s.grievance_weight * salience * (s.dispute_grievance_multiplier if m.history.dispute_open else 1.0),
            s.reciprocity * self.partner_memory,
        )

    def _utility(
        self, move: Move, acceptance: float, stakes: tuple[float, float, float, float, float, float, float]
    ) -> float:
        if move is Move.HOLD:
            return 0.0
        security, economic, us_pressure, orientation, nationalism, grievance, reciprocity = stakes
        s = self.spec
        spec = self.model.moves[move]
        c = spec.conciliation
        return (
            security * spec.security
            + economic * spec.trade
            + us_pressure * (c + 2.0 * spec.security)
            + orientation * c
            - nationalism * c
            - grievance * c
            + reciprocity * c
            + self.levers.cooperation_priority * c
            - s.domestic_weight * (1.0 - acceptance)
            - s.capital_weight * self.approval_cost(move, acceptance) / self.buffer
            - 2.0 * self.model.institutions.restraint * max(0.0, -c)
            - s.action_cost
        )

    def options(self, us_factor: float | None = None) -> list[MoveOption]:
        """Every move with its acceptance at home, why it is ruled out (if it is), its approval cost and utility.

        Acceptance is measured only for moves that nothing rules out (it is NaN for the others): it is the one
        check that reads every citizen, and the model weighs options every month it takes initiative.
        ``us_factor`` weighs the win-set under a coming US action, for a rule that feels US pressure there
        (``required_share``).
        """
        ruled_out = {move: None if move is Move.HOLD else self._ruled_out(move) for move in Move}
        acceptance_by_c = self.public.acceptances(
            {self.model.moves[move].conciliation for move, reason in ruled_out.items() if reason is None},
            self.model.history.salience,
        )
        stakes = self._stakes()
        result = []
        for move, blocked in ruled_out.items():
            if blocked is not None:
                result.append(MoveOption(move, float("nan"), blocked, float("nan"), float("nan")))
                continue
            acceptance = acceptance_by_c[self.model.moves[move].conciliation]
            cost = 0.0 if move is Move.HOLD else self.approval_cost(move, acceptance, us_factor)
            result.append(MoveOption(move, acceptance, None, self._utility(move, acceptance, stakes), cost))
        return result

    def decide(self) -> Move:
        """This month's move: the rule's directive if it has one; otherwise a regular-summit lever comes first,
        then, with probability ``initiative``, the decision rule picks among the open options; otherwise the
        government holds.

        A directive draws nothing: it is checked against the state first, and a ruled-out one is not made (the
        rule hears why)."""
        directive = self.rule.directive()
        if directive is not None:
            reason = None if directive is Move.HOLD else self._ruled_out(directive)
            if reason is None:
                return directive
            self.rule.hear(directive, MoveResult(MoveOutcome.BLOCKED, reason))
            return Move.HOLD
        every = self.levers.summit_every_months
        due = every is not None and self.model.month - self.last_used.get(Move.SUMMIT, -every) >= every
        # A commitment kept while it costs nothing at home (outside the win-set the rule weighs it as any move).
        # Acceptance reads every citizen: measured only in the months a regular summit is due.
        if due and self._ruled_out(Move.SUMMIT) is None and self._inside_win_set(Move.SUMMIT):
            return Move.SUMMIT
        if not self.rule.autonomous or self.model.rng.random() >= self.spec.initiative:
            return Move.HOLD
        return self.rule.choose(self.options(), self.model.rng)

    def settle(self, move: Move, made: bool, *, merged: bool = False) -> None:
        """Tell the rule what became of ``move``, which it chose this month: made (at the approval cost just
        recorded) or rebuffed by the partner's government (and why).

        ``merged``: the partner proposed the same joint move in the same month and it was put forward once, as
        the partner's (``made`` is what became of it); the model calls this right after enacting it."""
        if merged:
            outcome = MoveOutcome.MADE_JOINTLY if made else MoveOutcome.REBUFFED_JOINTLY
            self.rule.hear(move, MoveResult(outcome, approval_cost=self.last_cost if made else 0.0))
        elif made:
            self.rule.hear(move, MoveResult(MoveOutcome.MADE, approval_cost=self.last_cost))
        else:
            partner = self.model.governments[self.side.partner]
            acceptance = partner.acceptance_of(move)
            name = self.side.partner.value.capitalize()
            reason = (
                f"{100 * acceptance:.0f} % of {name}'s public would accept it, "
                f"{100 * partner.required_share(move):.0f} % needed, and {name}'s government would not pay the "
                "approval cost"
            )
            self.rule.hear(move, MoveResult(MoveOutcome.REBUFFED, reason))

    def record(self, move: Move) -> None:
        """Remember a move made (for cooldowns) and its reception at home: approval moves with the share
        accepting it and pays the cost of any shortfall from the win-set."""
        self.last_used[move] = self.model.month
        self.last_acceptance = self.acceptance_of(move)
        cost = self.approval_cost(move, self.last_acceptance)
        change = self.spec.move_approval * (self.last_acceptance - 0.5) - cost
        self.approval = min(0.95, max(0.05, self.approval + change))
        self.last_cost = cost

    def hear(self, conciliation: float) -> None:
        """Register a move by the partner (reciprocity memory)."""
        self.partner_memory += conciliation

    def change_leader(
        self,
        orientation: float | None = None,
        leader: str | None = None,
        *,
        camp: Camp | None = None,
        scheduled: bool = False,
    ) -> None:
        """Install a new leader: drawn (or given) orientation, pulled toward the predecessor by institutions, and
        camp; the public hears the new leader's cues from now on.

        Only a scheduled change moves the calendar on by ``term_months``; an injected change (a resignation,
        a party vote) leaves the next scheduled date where the scenario put it. An injected change without a
        camp keeps the predecessor's.
        """
        successor = self.spec.successor
        if orientation is None:
            draw = successor.mean + successor.sd * self.model.rng.standard_normal()
            restraint = self.model.institutions.restraint
            orientation = restraint * self.orientation + (1.0 - restraint) * draw
        if camp is None and scheduled:
            conservative = self.model.rng.random() < successor.conservative_probability
            camp = Camp.CONSERVATIVE if conservative else Camp.PROGRESSIVE
        self.orientation = min(1.0, max(0.0, orientation))
        self.camp = camp if camp is not None else self.camp
        self.leader = leader if leader is not None else f"successor of {self.leader or self.side}"
        self.approval = self.spec.honeymoon_approval
        self.partner_memory = 0.0
        if scheduled:
            self.next_change = self.model.month + self.spec.term_months
        self.public.follow(self.stance)

    @property
    def stance(self) -> Leader:
        """The leader in office as its public hears it: camp and orientation."""
        return Leader(self.camp, self.orientation)

    def end_month(self) -> None:
        """Approval drifts to its baseline and suffers the economic cost of trade restrictions."""
        m = self.model
        s = self.spec
        trade = m.spec.drivers.trade
        economic_loss = trade.interdependence * (1.0 - m.trade.normalization)
        noise = s.approval_volatility * m.rng.standard_normal() if s.approval_volatility else 0.0
        step = s.approval_reversion * (s.baseline_approval - self.approval)
        step -= s.economic_loss_weight * economic_loss
        self.approval = min(0.95, max(0.05, self.approval + step + noise))
        self.partner_memory *= s.memory_retention
