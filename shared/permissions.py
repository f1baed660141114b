"""Roles and the permission matrix: which roles may call each operation, in one table.

An operation is a route's OpenAPI ``operationId`` (``listEngagements``), the same on a service and
on the gateway. ``shared.auth.current_principal`` looks the route up here on every request: a
caller holding none of the operation's roles in any organisation gets 403; otherwise the request
sees only the organisations where the caller holds one of them, so a resource of an organisation
where the caller may read but not act is not found for that action. Finer rules that depend on
the resource (who approves which deliverable, who answers in which intervention mode) are checked
by the services against the roles the caller holds in the resource's organisation, and never
allow a role this table does not.

A service whose routes authenticate refuses to start while one of them has no entry here;
``docs/permissions.md`` is this table, rendered (``python -m engage permissions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from fastapi.routing import APIRoute


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    EDITOR = "editor"
    CLIENT_APPROVER = "client_approver"
    CLIENT_VIEWER = "client_viewer"


AGENCY_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.EDITOR})
CLIENT_ROLES = frozenset({Role.CLIENT_APPROVER, Role.CLIENT_VIEWER})

EVERYONE = frozenset(Role)
AGENCY = AGENCY_ROLES
AGENCY_LEADS = frozenset({Role.ADMIN, Role.MANAGER})
ADMIN_ONLY = frozenset({Role.ADMIN})
APPROVERS = AGENCY_LEADS | {Role.CLIENT_APPROVER}
ANSWERERS = AGENCY | {Role.CLIENT_APPROVER}

PERMISSIONS: Mapping[str, frozenset[Role]] = {
    # Strategy: organisations, engagements, assets, deliverables.
    "createOrganization": ADMIN_ONLY,
    "listOrganizations": EVERYONE,
    "getOrganization": EVERYONE,
    "createEngagement": AGENCY_LEADS,
    "listEngagements": EVERYONE,
    "getEngagement": EVERYONE,
    "getEngagementTimeline": EVERYONE,
    "recordAsset": AGENCY,
    "listAssets": EVERYONE,
    "getAsset": EVERYONE,
    "replaceAsset": AGENCY,
    "removeAsset": AGENCY,
    "listDeliverableKinds": EVERYONE,
    "listDeliverables": EVERYONE,
    "saveDeliverableVersion": AGENCY,
    "renderBrief": EVERYONE,
    "getLatestDeliverable": EVERYONE,
    "listDeliverableVersions": EVERYONE,
    "getDeliverableVersion": EVERYONE,
    "approveDeliverableVersion": APPROVERS,
    # Strategy: the client handbook (guida pratica), generated and versioned.
    "generateHandbook": AGENCY,
    "listHandbookVersions": EVERYONE,
    "getHandbookVersion": EVERYONE,
    "getHandbookHtml": EVERYONE,
    "getHandbookPdf": EVERYONE,
    "scoreChannelMix": AGENCY,
    # Strategy: touchpoints of the real world and their tracked links (following a link takes
    # no token, so it has no row).
    "createTouchpoint": AGENCY_LEADS,
    "listTouchpoints": EVERYONE,
    "getTouchpoint": EVERYONE,
    "updateTouchpoint": AGENCY_LEADS,
    "archiveTouchpoint": AGENCY_LEADS,
    "getTouchpointQrCodeSvg": EVERYONE,
    "getTouchpointQrCodePng": EVERYONE,
    "listTouchpointScans": EVERYONE,
    "summarizeTouchpointScans": EVERYONE,
    # Strategy: seeding and relationships (the outreach list; the gateway composes candidates
    # from listening's top authors).
    "createOutreachContact": AGENCY,
    "listOutreachContacts": EVERYONE,
    "listOutreachReminders": EVERYONE,
    "countOutreachContacts": EVERYONE,
    "getOutreachContact": EVERYONE,
    "updateOutreachContact": AGENCY,
    "recordOutreachStep": AGENCY,
    "listOutreachSteps": EVERYONE,
    "listOutreachCandidates": AGENCY,
    # Strategy: training and knowledge transfer (formazione, affiancamento).
    "createTrainingParticipant": AGENCY,
    "listTrainingParticipants": EVERYONE,
    "getCompetenceChecklist": EVERYONE,
    "checkCompetence": AGENCY,
    "uncheckCompetence": AGENCY,
    "planTrainingSession": AGENCY,
    "listTrainingSessions": EVERYONE,
    "getTrainingSession": EVERYONE,
    "updateTrainingSession": AGENCY,
    "getTrainingAttendance": EVERYONE,
    "recordTrainingAttendance": AGENCY,
    "createCompetence": AGENCY,
    "listCompetences": EVERYONE,
    "getTrainingProgress": EVERYONE,
    "getKnowledgeTransfer": EVERYONE,
    # The engagement's lifecycle (the gateway's updates to its workflow).
    "decideApproval": APPROVERS,
    "listEngagementTasks": EVERYONE,
    "completeTask": ANSWERERS,
    "requestIntervention": APPROVERS,
    "pauseEngagement": AGENCY_LEADS,
    "resumeEngagement": AGENCY_LEADS,
    "cancelEngagement": AGENCY_LEADS,
    "streamEngagement": EVERYONE,
    "streamOrganizations": EVERYONE,
    # Content: the client's website watched (coordinamento con sito web), Spotify link items.
    "addWatchedSite": AGENCY_LEADS,
    "listWatchedSites": EVERYONE,
    "getWatchedSite": EVERYONE,
    "removeWatchedSite": AGENCY_LEADS,
    "listWatchedSiteDrafts": EVERYONE,
    "pollWatchedSite": AGENCY_LEADS,
    "createSpotifyItem": AGENCY,
    # Analysis: a place's presence on Foursquare, as evidence (the gateway's).
    "getPlaceEvidence": AGENCY,
    # Content: items, review, media, platform rules.
    "createItem": AGENCY,
    "listItems": EVERYONE,
    "exportItems": EVERYONE,
    "importItems": AGENCY,
    "getItem": EVERYONE,
    "updateItem": AGENCY,
    "putVariant": AGENCY,
    "deleteVariant": AGENCY,
    "previewVariant": EVERYONE,
    "submitItem": AGENCY,
    "approveItem": APPROVERS,
    "rejectItem": APPROVERS,
    "listReviewEvents": EVERYONE,
    "uploadMedia": AGENCY,
    "listMedia": EVERYONE,
    "getMedia": EVERYONE,
    "getMediaContent": EVERYONE,
    "deleteMedia": AGENCY,
    "listPlatformRules": EVERYONE,
    "checkVariant": EVERYONE,
    # Content: the editorial plan and its publishing.
    "generatePlan": AGENCY,
    "getPlan": EVERYONE,
    "getPlanCoverage": EVERYONE,
    "approvePlan": APPROVERS,
    "fillSlot": AGENCY,
    "exportPlanIcs": EVERYONE,
    "exportPlanCsv": EVERYONE,
    "startPlanPublishing": AGENCY_LEADS,
    "getPlanPublishing": EVERYONE,
    # Content: contests.
    "createContest": AGENCY,
    "listContests": EVERYONE,
    "getContest": EVERYONE,
    "updateContest": AGENCY,
    "openContest": AGENCY_LEADS,
    "closeContest": AGENCY_LEADS,
    "submitContestEntry": AGENCY,
    "listContestEntries": EVERYONE,
    "requestDraw": AGENCY_LEADS,
    "drawContest": AGENCY_LEADS,
    "listContestDraws": EVERYONE,
    "verifyContestDraw": EVERYONE,
    "recordPrizeClaim": AGENCY,
    "getContestResult": EVERYONE,
    # Publisher: channel connections and publications.
    "createConnection": AGENCY_LEADS,
    "startOauth": AGENCY_LEADS,
    "completeOauth": AGENCY_LEADS,
    "rotateKeys": ADMIN_ONLY,
    "listConnections": EVERYONE,
    "getConnection": EVERYONE,
    "schedulePublication": AGENCY,
    "listPublications": EVERYONE,
    "getPublication": EVERYONE,
    "reschedulePublication": AGENCY,
    "cancelPublication": AGENCY,
    "publicationMetrics": EVERYONE,
    # Listening: queries, sources, mentions, sentiment, analytics.
    "createListeningQuery": AGENCY_LEADS,
    "listListeningQueries": EVERYONE,
    "getListeningQuery": EVERYONE,
    "stopListeningQuery": AGENCY_LEADS,
    "createListeningSource": AGENCY_LEADS,
    "listListeningSources": EVERYONE,
    "getListeningSource": EVERYONE,
    "stopListeningSource": AGENCY_LEADS,
    "importListeningMentions": AGENCY_LEADS,
    "listEngagementMentions": EVERYONE,
    "getMention": EVERYONE,
    "listDeadLetters": AGENCY_LEADS,
    "correctMentionSentiment": AGENCY,
    "trainSentimentModel": AGENCY_LEADS,
    "listSentimentModels": EVERYONE,
    "getMentionVolume": EVERYONE,
    "listTopAuthors": EVERYONE,
    "listTopPlaces": EVERYONE,
    "getMentionMap": EVERYONE,
    "getMentionMapPicture": EVERYONE,
    # Listening: notification channels and alerts.
    "createNotificationChannel": AGENCY_LEADS,
    "listNotificationChannels": AGENCY_LEADS,
    "getNotificationChannel": AGENCY_LEADS,
    "deleteNotificationChannel": AGENCY_LEADS,
    "listNotificationDeliveries": AGENCY_LEADS,
    "createAlertRule": AGENCY_LEADS,
    "listAlertRules": EVERYONE,
    "updateAlertRule": AGENCY_LEADS,
    "deleteAlertRule": AGENCY_LEADS,
    "listAlerts": EVERYONE,
    "getAlert": EVERYONE,
    "acknowledgeAlert": AGENCY,
    "resolveAlert": AGENCY,
    # Listening: the conversations inbox.
    "listConversations": EVERYONE,
    "getConversation": EVERYONE,
    "retriageConversation": ANSWERERS,
    "assignConversation": ANSWERERS,
    "addConversationNote": ANSWERERS,
    "closeConversation": ANSWERERS,
    "ignoreConversation": ANSWERERS,
    "reopenConversation": ANSWERERS,
    "replyToConversation": ANSWERERS,
    "approveReply": AGENCY,
    "listSavedReplies": EVERYONE,
    "createSavedReply": ANSWERERS,
    "updateSavedReply": ANSWERERS,
    "deleteSavedReply": ANSWERERS,
    "getInboxSettings": AGENCY_LEADS,
    "putInboxSettings": AGENCY_LEADS,
    "slaReport": EVERYONE,
    # Reporting: KPIs, reports and the audit log.
    "getEngagementKpis": EVERYONE,
    "exportEngagementKpisCsv": EVERYONE,
    "exportEngagementKpisXlsx": EVERYONE,
    "requestReport": AGENCY,
    "listReports": EVERYONE,
    "getReport": EVERYONE,
    "approveReport": AGENCY_LEADS,
    "rejectReport": AGENCY_LEADS,
    "downloadReport": EVERYONE,
    "listAuditEntries": AGENCY_LEADS,
}

# Operations whose roles count only when held in every organisation (``*``), not in one:
# an organisation's own admin does not create other organisations.
AGENCY_WIDE = frozenset({"createOrganization"})


class UnknownOperationError(LookupError):
    """A route authenticates its callers but the permission matrix does not name it."""


def operation_id(route: APIRoute) -> str:
    """The endpoint's name in camel case (``list_engagements``: ``listEngagements``): the name a
    frontend's generated client gives the method, the same whatever the path or service."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def allowed_roles(operation: str) -> frozenset[Role]:
    try:
        return PERMISSIONS[operation]
    except KeyError:
        raise UnknownOperationError(
            f"operation {operation!r} has no entry in shared/permissions.py PERMISSIONS"
        ) from None


def require_entries(operations: Iterable[str]) -> None:
    """Raise, naming them all, unless every operation has an entry in the matrix."""
    missing = sorted(set(operations) - PERMISSIONS.keys())
    if missing:
        raise UnknownOperationError(
            "no entry in shared/permissions.py PERMISSIONS for: " + ", ".join(missing)
        )


def render_markdown(openapi: Mapping[str, Any]) -> str:
    """``docs/permissions.md``: every operation of ``openapi`` (the gateway's) by every role."""
    roles = list(Role)
    lines = [
        "# Permissions",
        "",
        "Which roles may call each route of the gateway (`/v1`). Generated from",
        "`shared/permissions.py` (`PERMISSIONS`), the table the services check: regenerate with",
        "`.venv/bin/python -m engage permissions > docs/permissions.md`.",
        "",
        "A token grants roles per organisation (`org_roles`, or `roles` for every organisation in",
        "`orgs`); `*` (every organisation) grants only agency roles (admin, manager, editor). A",
        "route checks the roles the caller holds in the organisation of the resource: a caller",
        "holding none of the route's roles in any organisation gets 403; a resource of an",
        "organisation where it holds none of them is not found (404) for that route.",
        "",
        "| Operation | Method | Path | " + " | ".join(roles) + " |",
        "|---|---|---|" + "---|" * len(roles),
    ]
    for path, methods in sorted(openapi["paths"].items()):
        for method, operation in sorted(methods.items()):
            name = operation["operationId"]
            if name not in PERMISSIONS:
                continue
            allowed = PERMISSIONS[name]
            marks = " | ".join("yes" if role in allowed else "" for role in roles)
            note = " (all organisations)" if name in AGENCY_WIDE else ""
            lines.append(f"| `{name}`{note} | {method.upper()} | `{path}` | {marks} |")
    lines += [
        "",
        "Routes without a bearer token (health checks, signed media links, sources' webhooks,",
        "touchpoints' tracked links `/t/{code}`) are not in this table.",
        "",
    ]
    return "\n".join(lines)
