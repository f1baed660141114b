"""Organisation scoping, applied in one place for every ORM query.

A session carries a ``Scope`` in ``session.info``: the organisations its caller may see, or
``SYSTEM`` for trusted background work (activities, relays, consumers). Every ORM SELECT, UPDATE
and DELETE that touches an ``OrgScoped`` entity is filtered by it. A session with no scope refuses
to query client data, so a forgotten scope fails loudly instead of leaking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from shared.db.base import OrgScoped

SCOPE_KEY = "engage_scope"


@dataclass(frozen=True)
class Scope:
    """Organisations visible to a session; ``all_organizations`` is the agency-wide view."""

    organizations: frozenset[uuid.UUID] = frozenset()
    all_organizations: bool = False

    def allows(self, organization_id: uuid.UUID) -> bool:
        return self.all_organizations or organization_id in self.organizations


SYSTEM = Scope(all_organizations=True)


class MissingScopeError(RuntimeError):
    """A session queried client data without saying on whose behalf."""


def set_scope(session: Session, scope: Scope) -> None:
    session.info[SCOPE_KEY] = scope


def get_scope(session: Session) -> Scope:
    scope = session.info.get(SCOPE_KEY)
    if not isinstance(scope, Scope):
        raise MissingScopeError("session has no organisation scope")
    return scope


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(execute_state: ORMExecuteState) -> None:
    if not (execute_state.is_select or execute_state.is_update or execute_state.is_delete):
        return
    if execute_state.is_column_load or execute_state.is_relationship_load:
        return
    touches_client_data = any(
        isinstance(mapper.class_, type) and issubclass(mapper.class_, OrgScoped)
        for mapper in execute_state.all_mappers
    )
    if not touches_client_data:
        return
    scope = get_scope(execute_state.session)
    if scope.all_organizations:
        return
    allowed = tuple(scope.organizations)
    # An empty tuple renders as an always-false IN: a scope with no organisations sees nothing.
    execute_state.statement = execute_state.statement.options(
        with_loader_criteria(
            OrgScoped, lambda cls: cls.organization_id.in_(allowed), include_aliases=True
        )
    )
