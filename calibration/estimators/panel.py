"""The panel's decision whether to assess, and appeals against refusals (parameter
section ``panel``).

The refusal rate is the LA's recent requests refused over requests received, with its
uncertainty the beta of the same ratio (see :func:`calibration.estimation.beta_rate`).
Appeals are the person-level SEN2 requests with a tribunal over refusals (England's where
the LA has none); the tribunal upholds appeals at HMCTS's national rate. The panel sits
weekly with twice the weekly requests expected next year as its slots: ample, until the
calibration fits them to the share of decisions within 6 weeks. The share decided after 6
weeks whatever the capacity (``p_decided_late``) is the LA's recent published share
decided over 6 weeks, with a beta of the same ratio.
"""

from __future__ import annotations

import math

from ..estimation import beta_item, beta_rate
from ..la_data import LAHistory
from ..national import national_tribunal_in_favour
from .common import RECENT_YEARS, Estimate, SectionEstimate, flow, ratio_recent
from .demand import DemandEstimate

__all__ = ["PanelEstimate", "estimate"]


class PanelEstimate(SectionEstimate):
    """The panel's estimates; ``p_refuse`` is the share of requests refused."""

    @property
    def p_refuse(self) -> float:
        return float(self.values["panel"]["p_refuse"])


def estimate(
    h: LAHistory, england: LAHistory | None, as_of: int, *, demand: DemandEstimate
) -> PanelEstimate:
    """The panel from January ``as_of`` (flows to the year before)."""
    last = as_of - 1
    requests = flow(h, england, "requests_received", last)
    refused = flow(h, england, "requests_refused", last)
    p_refuse = ratio_recent(refused, requests, last) or 0.0
    p_appealed = ratio_recent(h.series("requests_with_tribunal"), refused, last)
    if p_appealed is None and england is not None:
        p_appealed = ratio_recent(
            england.series("requests_with_tribunal"), england.series("requests_refused"), last
        )
    over = h.series("requests_decided_over_6wks")
    within = h.series("requests_decided_within_6wks")
    decided = {y: over[y] + within[y] for y in over if y in within}
    p_late = ratio_recent(over, decided, last) or 0.0
    return PanelEstimate(
        values={
            "panel": {
                "p_decided_late": min(max(p_late, 0.0), 1.0),
                "slots_per_sitting": max(1, math.ceil(2 * demand.weekly_requests)),
                "p_refuse": p_refuse,
                "p_refusal_appealed": min(1.0, p_appealed if p_appealed is not None else 0.0),
                "p_appeal_upheld": national_tribunal_in_favour(as_of),
            }
        },
        notes=(
            Estimate(
                "panel.p_refuse",
                round(p_refuse, 4),
                f"requests_refused / requests_received, last {RECENT_YEARS} years",
            ),
            Estimate(
                "panel.p_decided_late",
                round(p_late, 4),
                "requests_decided_over_6wks / (within + over 6 weeks), last "
                f"{RECENT_YEARS} years where published (2023 on); 0 before",
            ),
        ),
        uncertainty=tuple(
            beta_item(
                "p_refuse",
                beta_rate(h.series("requests_refused"), h.series("requests_received"), last),
                "panel.p_refuse",
                p_refuse,
                "requests_refused / requests_received",
            )
            + beta_item(
                "p_decided_late",
                beta_rate(over, decided, last),
                "panel.p_decided_late",
                p_late,
                "requests_decided_over_6wks / requests decided",
            )
        ),
    )
