"""Budget: what a request may spend, as an immutable value.

A budget has four components: a deadline (on the trio clock), a poll quota (how many
checkpoints the work may pass), a cost quota (abstract units the work spends with
``consume``) and a priority. Budgets form a product semiring: ``meet`` (alias
``combine``) takes the tightest of each component - the earlier deadline, the smaller
quotas, the higher priority - and ``Budget.INFINITE`` is its identity. Nesting a
handler's budget inside the server's therefore never loosens anything.

The runtime enforces the deadline with the request's trio cancel scope, so work that
overruns is cancelled at its next await even if it never calls ``checkpoint``; the
quotas are enforced by ``McpContext.checkpoint`` and ``McpContext.consume``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
import trio

__all__ = ["Budget"]

_NO_LIMIT = math.inf


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class Budget:
    """Deadline x poll quota x cost quota x priority; immutable.

    ``deadline`` is an absolute time on the trio clock (``trio.current_time()``),
    ``math.inf`` for none. ``poll_quota`` and ``cost_quota`` are ``math.inf`` when
    unlimited. ``priority`` is 0..255, higher is more urgent.
    """

    deadline: float = _NO_LIMIT
    poll_quota: float = attrs.field(default=_NO_LIMIT, validator=_non_negative)
    cost_quota: float = attrs.field(default=_NO_LIMIT, validator=_non_negative)
    priority: int = attrs.field(default=0, validator=attrs.validators.in_(range(256)))

    INFINITE: ClassVar[Budget]
    """No limit at all: the identity of ``meet``."""

    # -- construction ----------------------------------------------------------------

    @classmethod
    def with_timeout(cls, seconds: float) -> Budget:
        """A budget whose deadline is ``seconds`` from now (needs a running trio loop)."""
        if seconds < 0:
            raise ValueError(f"timeout must be >= 0, got {seconds!r}")
        return cls(deadline=trio.current_time() + seconds)

    def with_deadline(self, deadline: float) -> Budget:
        """This budget with its deadline tightened to ``deadline`` (never loosened)."""
        return attrs.evolve(self, deadline=min(self.deadline, deadline))

    def with_poll_quota(self, polls: float) -> Budget:
        """This budget with at most ``polls`` checkpoints."""
        return attrs.evolve(self, poll_quota=min(self.poll_quota, polls))

    def with_cost_quota(self, cost: float) -> Budget:
        """This budget with at most ``cost`` units to spend."""
        return attrs.evolve(self, cost_quota=min(self.cost_quota, cost))

    def with_priority(self, priority: int) -> Budget:
        """This budget with at least ``priority``."""
        return attrs.evolve(self, priority=max(self.priority, priority))

    # -- the semiring ----------------------------------------------------------------

    def meet(self, other: Budget) -> Budget:
        """The tightest of both, component by component."""
        return Budget(
            deadline=min(self.deadline, other.deadline),
            poll_quota=min(self.poll_quota, other.poll_quota),
            cost_quota=min(self.cost_quota, other.cost_quota),
            priority=max(self.priority, other.priority),
        )

    combine = meet

    def __and__(self, other: Budget) -> Budget:
        return self.meet(other)

    # -- reading ---------------------------------------------------------------------

    def remaining(self) -> float:
        """Seconds until the deadline (``math.inf`` without one; 0 once passed).

        Needs a running trio loop when there is a deadline.
        """
        if self.deadline == _NO_LIMIT:
            return _NO_LIMIT
        return max(0.0, self.deadline - trio.current_time())

    def is_exhausted(self) -> bool:
        """Whether nothing is left: no polls, no cost, or the deadline has passed."""
        if self.poll_quota <= 0 or self.cost_quota <= 0:
            return True
        return self.deadline != _NO_LIMIT and trio.current_time() >= self.deadline

    def is_infinite(self) -> bool:
        """Whether this budget limits nothing."""
        return (
            self.deadline == _NO_LIMIT
            and self.poll_quota == _NO_LIMIT
            and self.cost_quota == _NO_LIMIT
        )

    # -- spending --------------------------------------------------------------------

    def consume(self, cost: float) -> Budget:
        """This budget after spending ``cost`` units; raises ``ValueError`` if it cannot.

        An unlimited cost quota stays unlimited.
        """
        if cost < 0:
            raise ValueError(f"cost must be >= 0, got {cost!r}")
        if cost > self.cost_quota:
            raise ValueError(f"cost {cost} exceeds the remaining quota {self.cost_quota}")
        return attrs.evolve(self, cost_quota=self.cost_quota - cost)

    def consume_poll(self) -> Budget:
        """This budget after one checkpoint; raises ``ValueError`` with no polls left."""
        if self.poll_quota < 1:
            raise ValueError("poll quota exhausted")
        return attrs.evolve(self, poll_quota=self.poll_quota - 1)


Budget.INFINITE = Budget()
