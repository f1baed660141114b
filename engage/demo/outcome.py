"""The demo's closing summary: what the engagement did, what listening heard, the inbox, the
alerts, the reports and where to look."""

from __future__ import annotations

from rich.console import Console

from engage.demo.display import first_response_said
from engage.demo.reports import described
from engage.demo.run import DemoMethod, DemoRun
from engage.demo.script import ALERT_RULE
from shared.settings import Settings


def print_outcome(console: Console, run: DemoRun, settings: Settings, gateway_url: str) -> None:
    ui = f"http://127.0.0.1:{settings.temporal.ui_port}"
    gates = ", ".join(f"{gate} ({role})" for gate, role in run.approvals)
    posts = (
        f"{run.posts_published} of the plan's {run.posts_planned} posts published on the sandbox"
    )
    if run.posts_published < run.posts_planned:
        posts += " (the others follow at their time)"
    console.print(
        f"[bold green]Engagement completed[/] in {run.completed_after:.0f}s: "
        f"{len(run.events)} events, "
        f"gates approved: {gates}; {run.tasks_completed} tasks completed; {posts}.\n"
        f"  listening   {heard(run)}\n"
        f"  inbox       {inbox(run)}\n"
        f"  alerts      {alerts(run)}\n"
        f"  report      {described(run.report, gateway_url)}\n"
        f"{method_lines(run.method, gateway_url)}"
        f"  engagement  {run.engagement_id}\n"
        f"  workflow    {run.workflow_id}\n"
        f"  Temporal UI {ui}/namespaces/{settings.temporal.namespace}/workflows/{run.workflow_id}\n"
        f"  gateway     {gateway_url}/v1/engagements/{run.engagement_id}\n"
        "              (TOKEN=$(.venv/bin/engage token --role manager); "
        'curl -H "Authorization: Bearer $TOKEN" ...)',
        highlight=False,
    )


def heard(run: DemoRun) -> str:
    """What listening heard: the sentiment share and the top places."""
    if not run.mentions:
        return "no mentions yet (the sandbox's users comment as the posts age)"
    labelled = {label: count for label, count in run.sentiment.items() if count}
    share = ", ".join(
        f"{count * 100 / run.mentions:.0f}% {label}" for label, count in labelled.items()
    )
    places = ", ".join(f"{place['name']} ({place['count']})" for place in run.top_places)
    return f"{run.mentions} mentions: {share}; top places: {places or 'none named'}"


def inbox(run: DemoRun) -> str:
    """The conversation the demo answered, and how fast."""
    if not run.watching:
        return "not watched (no listening source near midnight)"
    if not run.answered:
        return "no conversation opened yet (comments come as the posts age)"
    author = f"@{run.answered.get('author_handle')}"
    if run.reply_failure:
        return f"the reply to {author} failed: {run.reply_failure}"
    if not run.first_response:
        return f"{author} answered; the reply's first response had not arrived yet"
    sla = first_response_said(run.first_response)
    return f"{run.answered.get('source')} comment by {author} {sla}"


def alerts(run: DemoRun) -> str:
    """The alerts the rule raised and who acknowledged them."""
    if not run.watching:
        return "not watched (no listening source near midnight)"
    if not run.alerts_raised:
        return (
            f"no alert raised: the rule {ALERT_RULE['name']!r} saw no complaint among the "
            f"{run.mentions} mentions heard (about one in six sandbox users complains)"
        )
    if not run.alerts_acknowledged:
        return f"{len(run.alerts_raised)} raised; the acknowledgement had not arrived yet"
    return "; ".join(
        f"alert {alert.get('kind')} acknowledged by manager ({alert.get('acknowledged_by')})"
        for alert in run.alerts_acknowledged
    )


def method_lines(method: DemoMethod, gateway_url: str) -> str:
    """The method's pieces: the channel mix, the touchpoint, what design agreed with the client,
    the handbook and its PDF, the outreach contact and the training participant (one line each,
    when the phase came)."""
    lines = []
    if method.channel_mix_version:
        recommended = ", ".join(method.recommended) or "no channel"
        lines.append(
            f"channel mix v{method.channel_mix_version} recommends {recommended}, "
            "approved by the manager"
        )
    if method.touchpoint:
        touchpoint = method.touchpoint
        lines.append(
            f"touchpoint  {touchpoint['kind']} {touchpoint['name']!r}: tracked link "
            f"{touchpoint['tracked_link']} ({method.touchpoint_scans} scan counted)"
        )
    if method.agreed:
        agreed = ", ".join(f"{kind.replace('_', ' ')} v{n}" for kind, n in method.agreed.items())
        line = f"agreed      {agreed}, approved by the client"
        if method.plan_generation:
            line += (
                f"\n              plan made again from the rules (generation "
                f"{method.plan_generation}), approved again by the manager"
            )
        lines.append(line)
    if method.handbook:
        handbook = method.handbook
        made_from = ", ".join(f"{kind} v{n}" for kind, n in handbook["sources"].items())
        line = (
            f"handbook    v{handbook['version']} for {', '.join(handbook['channels'])}, "
            f"made from {made_from}"
        )
        if method.handbook_pdf_path:
            line += (
                f"\n              PDF {method.handbook_pdf_bytes / 1024:.0f} KiB saved at "
                f"{method.handbook_pdf_path}"
            )
        lines.append(f"{line}\n              PDF: {gateway_url}{method.handbook_download}")
    if method.outreach_contact:
        contact = method.outreach_contact
        lines.append(
            f"outreach    {contact['kind']} @{contact['handle']} on {contact['platform']}: "
            f"{contact['status']}"
        )
    if method.training_participant:
        participant = method.training_participant
        lines.append(f"training    participant {participant['name']} ({participant['job_title']})")
    return "".join(f"  {line}\n" for line in lines)
