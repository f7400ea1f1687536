"""The event log follows one child by one id: from the request to the final plan, through
its settings, to ceasing (issue 14: ids used to be reused between requests and plans)."""

from __future__ import annotations

from collections import defaultdict

from helpers import small_la

from simulation.model import run_replication

PATHWAY = ("request", "assessment_started", "ep_advice", "draft_plan", "plan_issued")


def _by_entity(log: list[tuple[int, str, float]]) -> dict[int, list[tuple[str, float]]]:
    out: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for entity, event, t in log:
        out[entity].append((event, t))
    return out


def test_one_child_is_traced_from_request_to_plan_to_ceasing_by_one_id() -> None:
    p = small_la({"run": {"event_log": True}, "review": {"p_cease": 0.3}}, years=4)
    entities = _by_entity(run_replication(p, 3).event_log)
    traced = 0
    for events in entities.values():
        names = [e for e, _ in events]
        if not (set(PATHWAY) <= set(names) and any(e.startswith("ceased_") for e in names)):
            continue
        traced += 1
        times = {e: t for e, t in events}
        # The statutory order, in time.
        assert [times[e] for e in PATHWAY] == sorted(times[e] for e in PATHWAY)
        ceased = next(t for e, t in events if e.startswith("ceased_"))
        assert ceased >= times["plan_issued"]
        # The plan's first setting is logged under the child's id when it is issued.
        assert any(e.startswith("placement:") and t == times["plan_issued"] for e, t in events)
        # One request, one plan, one ending per id.
        assert names.count("request") == names.count("plan_issued") == 1
        assert sum(e.startswith("ceased_") for e in names) == 1
    assert traced > 10


def test_an_id_is_never_both_a_plan_open_at_the_start_and_a_request() -> None:
    p = small_la({"run": {"event_log": True}}, years=2)
    entities = _by_entity(run_replication(p, 4).event_log)
    at_start = {
        k for k, ev in entities.items() if ev[0][0].startswith("placement:") and ev[0][1] == 0
    }
    requested = {k for k, ev in entities.items() if any(e == "request" for e, _ in ev)}
    assert at_start and requested
    assert not at_start & requested
    # Every plan issued carries the id of the request it answered (whose draft it was; the
    # assessments under way at the start may already be at the drafting stage).
    issued = {k for k, ev in entities.items() if any(e == "plan_issued" for e, _ in ev)}
    drafted = {k for k, ev in entities.items() if any(e == "draft_plan" for e, _ in ev)}
    assert issued and issued <= drafted
