"""Runs the rules over a snapshot and renders the findings in the asker's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.orders.diagnosis import catalog
from services.orders.diagnosis.rules import RULES, SEVERITY_RANK, Finding
from services.orders.diagnosis.snapshot import OrderSnapshot


@dataclass(frozen=True)
class RenderedFinding:
    code: str
    severity: str
    title: str
    detail: str
    evidence: dict[str, Any]
    next_steps: list[str]
    contact_channel: str


@dataclass(frozen=True)
class Diagnosis:
    state: str
    headline: str
    findings: list[RenderedFinding]


def run_rules(snapshot: OrderSnapshot) -> list[Finding]:
    found: list[tuple[int, int, Finding]] = []
    for priority, rule in enumerate(RULES):
        for finding in rule(snapshot):
            found.append((SEVERITY_RANK[finding.severity], priority, finding))
    return [f for _, _, f in sorted(found, key=lambda t: (t[0], t[1]))]


def state_of(findings: list[Finding]) -> str:
    severities = {f.severity for f in findings}
    if "critical" in severities:
        return "needs_action"
    if "warning" in severities:
        return "watch"
    return "ok"


def _localize(lang: str, params: dict[str, Any]) -> dict[str, Any]:
    # A (group, value) pair is a word from the catalog, such as a failure reason.
    return {k: catalog.word(lang, v[0], v[1]) if isinstance(v, tuple) else v for k, v in params.items()}


def render(findings: list[Finding], lang: str) -> Diagnosis:
    rendered = []
    for f in findings:
        params = _localize(lang, f.params)
        rendered.append(RenderedFinding(
            code=f.code, severity=f.severity, title=catalog.text(lang, f.key, "title", params),
            detail=catalog.text(lang, f.key, "detail", params), evidence=f.evidence,
            next_steps=catalog.steps(lang, f.key, params), contact_channel=f.contact_channel))
    headline = rendered[0].title if rendered else catalog.text(lang, "ok", "title", {})
    return Diagnosis(state=state_of(findings), headline=headline, findings=rendered)


def diagnose(snapshot: OrderSnapshot, lang: str) -> Diagnosis:
    return render(run_rules(snapshot), lang)
