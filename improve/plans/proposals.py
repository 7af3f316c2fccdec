"""Which playbook actions answer which findings, and in what order to propose them.

Pure: no database. A finding matches an action when any of the action's rules matches
(a regulation, a key question or a quality statement) and the action applies to the
service's type. Matches on a quality statement say most, then a regulation, then only
the key question; proposals are ranked by that, then by how soon they are due.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from improve import framework
from improve.plans.playbooks import ActionTemplate, Playbook

WEIGHTS = {"quality_statement": 3, "regulation": 2, "key_question": 1}
# Proposals at least this strong start ticked in the builder; weaker ones are offered
# but left for the manager to choose, so a plan is not flooded with loose matches.
STRONG = 3


@dataclass(frozen=True)
class FindingRef:
    id: int
    regulation: str
    key_question: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Proposal:
    template: ActionTemplate
    finding_ids: tuple[int, ...]
    score: int
    reasons: tuple[str, ...]


def applies_to(template: ActionTemplate, service_type: str) -> bool:
    return not template.answers.service_types or service_type in template.answers.service_types


def match(template: ActionTemplate, finding: FindingRef) -> tuple[int, list[str]]:
    """How strongly the action answers the finding, and why, in words."""
    rules, fw = template.answers, framework.get("saf")
    score, reasons = 0, []
    shared = [i for i in finding.items if i in rules.quality_statements]
    for item in shared:
        score += WEIGHTS["quality_statement"]
        title = fw.items[item].title if item in fw.items else item
        reasons.append(f"quality statement '{title}'")
    if finding.regulation in rules.regulations:
        score += WEIGHTS["regulation"]
        reg = fw.regulations.get(finding.regulation)
        reasons.append(f"regulation {finding.regulation}" + (f" ({reg.title})" if reg else ""))
    if not score and finding.key_question in rules.key_questions:
        score += WEIGHTS["key_question"]
        reasons.append(f"the {framework.KEY_QUESTION_TITLES[finding.key_question]} key question")
    return score, reasons


def propose(
    playbooks: Iterable[Playbook],
    findings: list[FindingRef],
    service_type: str,
    already: set[str] = frozenset(),
) -> list[Proposal]:  # type: ignore[assignment]
    """Ranked proposals for the findings, leaving out templates already in the plan."""
    proposals = []
    for book in playbooks:
        for template in book.actions:
            if template.id in already or not applies_to(template, service_type):
                continue
            total, answered, reasons = 0, [], []
            for finding in findings:
                score, why = match(template, finding)
                if score:
                    total += score
                    answered.append(finding.id)
                    reasons.extend(r for r in why if r not in reasons)
            if total:
                proposals.append(Proposal(template, tuple(answered), total, tuple(reasons)))
    proposals.sort(key=lambda p: (-p.score, p.template.due_days, p.template.id))
    return proposals


def coverage(findings: list[FindingRef], answered_by: dict[int, list[str]]) -> dict[int, list[str]]:
    """Every finding with the actions (titles or ids) that answer it; [] is uncovered."""
    return {f.id: list(answered_by.get(f.id, [])) for f in findings}


def uncovered(findings: list[FindingRef], answered_by: dict[int, list[str]]) -> list[int]:
    return [f.id for f in findings if not answered_by.get(f.id)]
