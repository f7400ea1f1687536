"""The statutory pathway, one module per stage in the order a child meets them.

Each stage is a plain function taking the `SendSystem` first; its docstring names the rule
it models (SEND Code of Practice 2015, chapter 9). Stages are chained by one SimPy timeout
each with the next stage as its callback (`SendSystem.after`), or queued in day order and
taken at the next calendar tick (decisions to issue, ceasings).

| stage | module | Code of Practice |
|---|---|---|
| identification (SEN support) and requests | `requests` | chapter 6; 9.14 |
| the decision to assess: panel, appeal, tribunal | `decision` | 9.14-9.16; chapter 11 |
| assessment: EP, health, social care advice | `assessment` (`ep_advice`) | 9.40-9.53 |
| the decision whether to issue (by week 16) | `issue` | 9.53-9.56 |
| draft plan, 15 days to comment, final plan (week 20) | `plan` | 9.77-9.80, 9.40 |
| placement and waiting for a place | `placement` | section I of the plan; 9.78-9.79 |
| annual review | `review` (`annual_reviews`) | 9.166-9.185 |
| September: ageing, phase transfer | `september` (`phase_transfer`) | 9.179 |
| ceasing | `ceasing` | 9.199-9.210 |
| plans moving in from other LAs | `moves` | SEND Regulations 2014, reg. 15 |
| the start: caseload and work under way | `start` | |

Paragraph numbers are the Code's; where no number is given the rule is the Code's chapter
or the regulation named.
"""
