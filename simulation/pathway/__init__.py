"""The statutory pathway, one module per stage in the order a child meets them.

Each stage is a plain function taking the `SendSystem` first; its docstring names the rule
it models (SEND Code of Practice 2015, chapter 9). Stages are chained by one SimPy timeout
each with the next stage as its callback (`SendSystem.after`), or queued in day order and
taken at the next calendar tick (decisions to issue, ceasings).

| stage | module | Code of Practice |
|---|---|---|
| identification (SEN support) and requests | `requests` | 6.44-6.56, 9.14 |
| the decision to assess: panel, appeal, tribunal | `decision` | 9.14-9.16, 11.45-11.52 |
| assessment: EP, health and social care advice | `assessment` (`ep_advice`) | 9.45-9.52 |
| the decision whether to issue (by week 16) | `issue` | 9.53-9.56 |
| draft plan, 15 days to comment, final plan (week 20) | `plan` | 9.77-9.80, 9.40 |
| placement and waiting for a place | `placement` | 9.78-9.84 |
| annual review | `review` (`annual_reviews`) | 9.166-9.185 |
| September: ageing, phase transfer | `september` (`phase_transfer`) | 9.179 |
| ceasing | `ceasing` | 9.199-9.210 |
| plans moving in from other LAs | `moves` | 9.156-9.159 |
| the start: caseload and work under way | `start` | |
"""
