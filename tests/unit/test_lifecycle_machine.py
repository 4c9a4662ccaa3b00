"""One pickup driven only through the pure rules, with two staff tablets racing on a model of
the service's compare-and-set: a transition applies iff the status the tablet saw is still the
current one and the rule accepts the step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from server.core.models import PickupStatus as S
from server.pickups import rules
from server.pickups.rules import Refusal, RuleError

TZ = "America/Toronto"
Q = ZoneInfo(TZ)
DAY = date(2026, 11, 1)  # the day DST ends: 25 hours long
AFTERNOON = datetime(2026, 11, 1, 14, 0, tzinfo=Q).astimezone(UTC)  # the service's clock is UTC
TABLETS = st.sampled_from([0, 1])

# The lifecycle only moves forward. Cancelled and expired are final, reachable from any rank.
RANK = {S.SCHEDULED: 0, S.TRACKING: 0, S.ANNOUNCED: 1, S.CALLED: 2, S.READY: 3, S.DEPARTED: 4}
FINAL_STATES = {S.DEPARTED, S.CANCELLED, S.EXPIRED}


class Pickup:
    def __init__(self, status: S, announce_at: datetime | None) -> None:
        self.status = status
        self.announce_at = announce_at
        self.history: list[tuple[S, S]] = []  # (from, to), the append-only release log


def compare_and_set(pickup: Pickup, expected: S, target: S, allowed: Callable[[], None]) -> bool:
    """The service's contract: UPDATE … WHERE status = expected, after the rule accepted it.

    `allowed` raises RuleError when the rule refuses the step."""
    if pickup.status != expected:
        return False
    allowed()
    pickup.history.append((pickup.status, target))
    pickup.status = target
    return True


def staff_step(pickup: Pickup, seen: S, target: S) -> bool:
    return compare_and_set(pickup, seen, target, lambda: rules.check_staff_step(seen, target))


def require(condition: bool, refusal: Refusal) -> Callable[[], None]:
    def check() -> None:
        if not condition:
            raise RuleError(refusal)

    return check


class PickupLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pickup = Pickup(S.SCHEDULED, None)
        self.now = AFTERNOON
        self.seen: dict[int, S] = {}
        self.applied = 0
        self.final: S | None = None

    @initialize(
        mode=st.sampled_from([S.SCHEDULED, S.TRACKING]),
        lead=st.integers(min_value=-30, max_value=6 * 60),
    )
    def announce(self, mode: S, lead: int) -> None:
        announce_at = self.now + timedelta(minutes=lead) if mode == S.SCHEDULED else None
        self.pickup = Pickup(mode, announce_at)
        self.seen = {0: mode, 1: mode}  # two tablets showing the board

    def _system_step(self, expected: S, target: S, allowed: Callable[[], None]) -> bool:
        """The scheduler or a phone moves the pickup from `expected` to `target` when
        `allowed` does not refuse; whether it did (counted in `applied`)."""
        try:
            applied = compare_and_set(self.pickup, expected, target, allowed)
        except RuleError:
            applied = False
        self.applied += applied
        return applied

    # --- the clock and the system -------------------------------------------------------------

    @rule(minutes=st.integers(min_value=1, max_value=6 * 60))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @precondition(lambda self: self.pickup.status in rules.LIVE)
    @rule()
    def scheduler_promotes_due_pickup(self) -> None:
        before = self.pickup.status
        due = rules.is_due(before, self.pickup.announce_at, self.now)
        applied = self._system_step(S.SCHEDULED, S.ANNOUNCED, require(due, Refusal.NOT_NEXT_STEP))
        assert applied == (before == S.SCHEDULED and due)
        if before == S.SCHEDULED:
            announce_at = self.pickup.announce_at
            assert due == (announce_at is not None and announce_at.astimezone(UTC) <= self.now)

    @precondition(lambda self: self.pickup.status == S.TRACKING)
    @rule(minutes_away=st.floats(min_value=0, max_value=60, allow_nan=False))
    def gps_position_arrives(self, minutes_away: float) -> None:
        due = rules.gps_alert_due(minutes_away, 5)
        self._system_step(S.TRACKING, S.ANNOUNCED, require(due, Refusal.NOT_NEXT_STEP))

    @rule()
    def day_ends(self) -> None:
        expired = rules.is_expired(DAY, TZ, self.now)
        current = self.pickup.status
        allowed = require(expired and current in rules.LIVE, Refusal.FINISHED)
        applied = self._system_step(current, S.EXPIRED, allowed)
        assert applied == (expired and current in rules.LIVE)

    # --- people -------------------------------------------------------------------------------

    @rule(mind=st.integers(min_value=0, max_value=4))
    def parent_may_cancel(self, mind: int) -> None:
        current = self.pickup.status
        if current in rules.LIVE and mind != 4:  # most trips end in a pickup, not a cancel
            return
        try:
            applied = compare_and_set(
                self.pickup,
                current,
                S.CANCELLED,
                require(rules.can_cancel(current), Refusal.FINISHED),
            )
        except RuleError as error:
            assert error.refusal == Refusal.FINISHED
            assert current in rules.FINAL
            applied = False
        self.applied += applied
        assert applied == (current in rules.LIVE)

    @rule(tablet=TABLETS)
    def tablet_refreshes(self, tablet: int) -> None:
        self.seen[tablet] = self.pickup.status

    @precondition(lambda self: any(seen in rules.STAFF_NEXT for seen in self.seen.values()))
    @rule(tablet=TABLETS)
    def tablet_presses_its_button(self, tablet: int) -> None:
        """The one button a board shows: the next step from the status it last saw."""
        tablet = tablet if self.seen[tablet] in rules.STAFF_NEXT else 1 - tablet
        seen, current = self.seen[tablet], self.pickup.status
        applied = staff_step(self.pickup, seen, rules.STAFF_NEXT[seen])
        # A lost race is not an error: nothing changes and the board catches up.
        assert applied == (seen == current)
        self.applied += applied
        self.seen[tablet] = self.pickup.status

    @rule(tablet=TABLETS, button=st.sampled_from(rules.STAFF_STEPS), fresh=st.booleans())
    def tablet_presses_any_button(self, tablet: int, button: S, fresh: bool) -> None:
        """Any staff button at all (a stale page, a forged post, a buggy client); every other
        (current, target) pair is covered by test_rules."""
        if fresh:
            self.seen[tablet] = self.pickup.status
        seen, current = self.seen[tablet], self.pickup.status
        try:
            applied = staff_step(self.pickup, seen, button)
        except RuleError as error:
            assert seen == current
            if current in FINAL_STATES:
                assert error.refusal == Refusal.FINISHED
            else:
                assert error.refusal == Refusal.NOT_NEXT_STEP
                assert rules.STAFF_NEXT.get(current) != button
            applied = False
        else:
            assert applied == (seen == current)
        self.applied += applied
        self.seen[tablet] = self.pickup.status  # the loser sees the current state

    @precondition(lambda self: self.pickup.status in rules.STAFF_NEXT)
    @rule()
    def two_tablets_press_the_same_step_at_once(self) -> None:
        self.seen = {0: self.pickup.status, 1: self.pickup.status}  # both boards show it
        target = rules.STAFF_NEXT[self.pickup.status]
        results = [staff_step(self.pickup, self.seen[tablet], target) for tablet in (0, 1)]
        assert results == [True, False]
        assert self.pickup.status == target
        self.applied += sum(results)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def status_never_goes_backwards(self) -> None:
        for before, after in self.pickup.history:
            assert before not in FINAL_STATES, f"{before} is final, yet became {after}"
            if after in RANK:
                assert RANK[after] > RANK[before], f"{before} -> {after}"

    @invariant()
    def no_step_is_skipped(self) -> None:
        # Apart from cancel and expire, every move is one rank forward: no skipped step.
        for before, after in self.pickup.history:
            if after in RANK:
                assert RANK[after] == RANK[before] + 1, f"{before} -> {after}"

    @invariant()
    def a_final_state_never_changes(self) -> None:
        if self.final is not None:
            assert self.pickup.status == self.final
        elif self.pickup.status in FINAL_STATES:
            self.final = self.pickup.status

    @invariant()
    def history_is_one_chain_ending_at_the_current_status(self) -> None:
        assert self.applied == len(self.pickup.history)
        for (_, to), (frm, _) in zip(self.pickup.history, self.pickup.history[1:], strict=False):
            assert to == frm
        if self.pickup.history:
            assert self.pickup.history[-1][1] == self.pickup.status
        assert sum(1 for _, to in self.pickup.history if to in FINAL_STATES) <= 1

    @invariant()
    def board_membership_follows_status(self) -> None:
        status = self.pickup.status
        assert (status in rules.ON_BOARD) == (status in {S.ANNOUNCED, S.CALLED, S.READY})
        assert (status in rules.LIVE) != (status in rules.FINAL)


PickupLifecycle.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPickupLifecycle = PickupLifecycle.TestCase


# --- plan_eta, as a property ------------------------------------------------------------------

# Nows around an ordinary day and both 2026 DST changes (Québec local time).
nows = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 3, 7), max_value=datetime(2026, 3, 9), timezones=st.just(Q)
    ),
    st.datetimes(
        min_value=datetime(2026, 10, 31), max_value=datetime(2026, 11, 2), timezones=st.just(Q)
    ),
    st.datetimes(
        min_value=datetime(2026, 11, 23), max_value=datetime(2026, 11, 25), timezones=st.just(Q)
    ),
)
windows = st.sampled_from(
    [(time(0, 0), time(23, 59)), (time(7, 0), time(18, 30)), (time(22, 0), time(2, 0))]
)
minutes = st.builds(time, st.integers(0, 23), st.integers(0, 59))


def clocks_change(now: datetime, arrival: time, as_utc: bool) -> dict[str, Any]:
    """An example for the night the clocks change: open all day, 5 minutes of preparation."""
    return {
        "now": now,
        "window": (time(0, 0), time(23, 59)),
        "arrival": arrival,
        "prep": 5,
        "as_utc": as_utc,
    }


@settings(max_examples=200, deadline=None)
@given(now=nows, window=windows, arrival=minutes, prep=st.integers(0, 90), as_utc=st.booleans())
# The nights the clocks change: an arrival just after the change.
@example(**clocks_change(datetime(2026, 3, 8, 1, 0, tzinfo=Q), time(3, 2), as_utc=False))
@example(**clocks_change(datetime(2026, 11, 1, 0, 0, tzinfo=Q), time(2, 2), as_utc=True))
def test_plan_eta_announces_prep_minutes_before_arrival(
    now: datetime, window: tuple[time, time], arrival: time, prep: int, as_utc: bool
) -> None:
    assume(rules.in_call_window(arrival, *window))
    if as_utc:
        now = now.astimezone(UTC)
    try:
        plan = rules.plan_eta(now, arrival, TZ, prep, *window)
    except RuleError as error:
        assert error.refusal == Refusal.ARRIVAL_PASSED
        eta = datetime.combine(now.astimezone(Q).date(), arrival, tzinfo=Q)
        assert eta.astimezone(UTC) < now.astimezone(UTC) - timedelta(minutes=15)
        return
    # Compare real instants (in UTC): same-zone datetimes compare by wall clock.
    eta = plan.eta.astimezone(UTC)
    announce_at = plan.announce_at.astimezone(UTC)
    real_now = now.astimezone(UTC)
    assert plan.eta.astimezone(Q).date() == now.astimezone(Q).date()
    assert eta >= real_now - timedelta(minutes=15)
    assert eta - announce_at == timedelta(minutes=prep)
    assert plan.status in {S.ANNOUNCED, S.SCHEDULED}
    assert (plan.status == S.ANNOUNCED) == (announce_at <= real_now)
    if plan.status == S.SCHEDULED:
        assert rules.is_due(S.SCHEDULED, plan.announce_at, plan.announce_at)
        before = announce_at - timedelta(microseconds=1)
        assert not rules.is_due(S.SCHEDULED, plan.announce_at, before)
