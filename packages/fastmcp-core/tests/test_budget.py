"""Budget: an immutable product semiring whose deadline lives on the trio clock."""

from __future__ import annotations

import math

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from fastmcp_core import Budget

limits = st.one_of(st.just(math.inf), st.floats(min_value=0, max_value=1e6))
budgets = st.builds(
    Budget,
    deadline=limits,
    poll_quota=limits,
    cost_quota=limits,
    priority=st.integers(min_value=0, max_value=255),
)


@given(budgets, budgets)
def test_meet_is_commutative(a: Budget, b: Budget) -> None:
    assert a.meet(b) == b.meet(a)


@given(budgets, budgets, budgets)
def test_meet_is_associative(a: Budget, b: Budget, c: Budget) -> None:
    assert a.meet(b).meet(c) == a.meet(b.meet(c))


@given(budgets)
def test_infinite_is_the_identity_and_meet_is_idempotent(a: Budget) -> None:
    assert a.meet(Budget.INFINITE) == a
    assert Budget.INFINITE.combine(a) == a
    assert (a & a) == a


@given(budgets, budgets)
def test_meet_never_loosens(a: Budget, b: Budget) -> None:
    m = a.meet(b)
    assert m.deadline <= min(a.deadline, b.deadline)
    assert m.poll_quota <= a.poll_quota
    assert m.cost_quota <= b.cost_quota
    assert m.priority >= max(a.priority, b.priority)


def test_components_take_the_tightest() -> None:
    a = Budget(deadline=10, poll_quota=5, cost_quota=100, priority=3)
    b = Budget(deadline=20, poll_quota=2, cost_quota=math.inf, priority=7)
    assert a.meet(b) == Budget(deadline=10, poll_quota=2, cost_quota=100, priority=7)


def test_values_are_validated() -> None:
    with pytest.raises(ValueError, match="poll_quota"):
        Budget(poll_quota=-1)
    with pytest.raises(ValueError, match="priority"):
        Budget(priority=256)


def test_consume_spends_and_refuses_overdraft() -> None:
    b = Budget(cost_quota=10)
    assert b.consume(4).cost_quota == 6
    assert b.cost_quota == 10  # immutable
    with pytest.raises(ValueError, match="exceeds"):
        b.consume(11)
    assert Budget.INFINITE.consume(1e9).cost_quota == math.inf
    assert b.consume(10).is_exhausted()


def test_polls_are_spent_one_by_one() -> None:
    b = Budget(poll_quota=2).consume_poll().consume_poll()
    assert b.is_exhausted()
    with pytest.raises(ValueError, match="poll quota"):
        b.consume_poll()


async def test_deadline_counts_as_exhaustion(autojump_clock: trio.testing.MockClock) -> None:
    budget = Budget.with_timeout(10)
    assert budget.remaining() == pytest.approx(10)
    assert not budget.is_exhausted()
    await trio.sleep(4)
    assert budget.remaining() == pytest.approx(6)
    await trio.sleep(6)
    assert budget.is_exhausted()
    assert budget.remaining() == 0


async def test_with_deadline_only_tightens() -> None:
    b = Budget(deadline=100)
    assert b.with_deadline(50).deadline == 50
    assert b.with_deadline(500).deadline == 100
    assert Budget.INFINITE.with_poll_quota(3).with_cost_quota(2).with_priority(9) == Budget(
        poll_quota=3, cost_quota=2, priority=9
    )
    assert Budget.INFINITE.is_infinite()
    assert Budget.INFINITE.remaining() == math.inf
