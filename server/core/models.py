"""The data model: every table of Relais, in one place.

Identity is by stable ids, never by names. `external_id` is the management system's own id,
unique within an organization; internal integer ids never leave for another organization.
All instants are stored in UTC (see `db.UTCDateTime`); a "day" is the installation's local date.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import AutoString, Field, SQLModel

from .db import UTCDateTime


def _instant(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class Role(StrEnum):
    ADMIN = "admin"  # director: every installation, settings
    RECEPTION = "reception"  # one installation, all groups
    EDUCATOR = "educator"  # one installation, a home group


class PickupMode(StrEnum):
    ETA = "eta"
    GPS = "gps"


class PickupStatus(StrEnum):
    SCHEDULED = "scheduled"  # ETA given, alert not yet due
    TRACKING = "tracking"  # GPS trip under way, not yet within preparation time
    ANNOUNCED = "announced"  # the board alert is live
    CALLED = "called"  # staff pressed Appeler
    READY = "ready"  # staff pressed Prêt
    DEPARTED = "departed"  # staff pressed Départ: child checked out
    CANCELLED = "cancelled"  # by the parent
    EXPIRED = "expired"  # the day ended first
    DISMISSED = "dismissed"  # staff removed the alert, with a reason the parent is told


class ActorKind(StrEnum):
    STAFF = "staff"
    GUARDIAN = "guardian"
    API = "api"
    DISPLAY = "display"
    SYSTEM = "system"


class Organization(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="America/Toronto", max_length=64)
    # When an administrator activated the integration with the pickup side (seed: "Activer").
    integration_activated_at: datetime | None = Field(
        default=None, sa_column=_instant(nullable=True)
    )
    # The director lets reception start an emergency closure for its own installation.
    reception_starts_emergencies: bool = False


class Installation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organization_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    external_id: str = Field(max_length=100)
    name: str = Field(max_length=200)
    # The name parents see; defaults to `name` (seed: editable when configuring the integration).
    display_name: str | None = Field(default=None, max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    timezone: str = Field(default="America/Toronto", max_length=64)
    preparation_minutes: int = Field(default=5)
    call_window_start: time = Field(default=time(0, 0))
    call_window_end: time = Field(default=time(23, 59))
    # Monotonic per-installation event counter; boards detect gaps with it.
    event_seq: int = Field(default=0)
    # Once the last integration form's failure; no longer written nor read (the light shows the
    # link's real state: server/roster/integration.py). Kept: migrations only add.
    integration_error: str | None = Field(default=None, max_length=300)
    # An alert waiting longer than this is highlighted on the boards and chimes again.
    overdue_minutes: int = Field(default=3)


class Group(SQLModel, table=True):
    __tablename__ = "child_group"
    __table_args__ = (UniqueConstraint("installation_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installation.id", index=True)
    external_id: str = Field(max_length=100)
    name: str = Field(max_length=200)


class Child(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organization_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    installation_id: int = Field(foreign_key="installation.id", index=True)
    group_id: int = Field(foreign_key="child_group.id", index=True)
    external_id: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    agreement_active: bool = True
    pickup_enabled: bool = True
    active: bool = True
    # Photos are files under var/photos/. A parent's new photo waits in `pending_photo` for the
    # centre's approval; announcing is blocked meanwhile (seed: "Approbation en attente").
    photo: str | None = Field(default=None, max_length=64)
    pending_photo: str | None = Field(default=None, max_length=64)
    # Retention (server/privacy/retention.py): when the family was first seen gone from the
    # roster (inactive), and when its personal data was erased (names, photo, external id).
    left_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    erased_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def photo_pending(self) -> bool:
        return self.pending_photo is not None


class Guardian(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organization_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    external_id: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str = Field(max_length=254, index=True)
    account_state: str = Field(default="invited", max_length=16)  # invited | active
    password_hash: str | None = Field(default=None, max_length=200)
    # "guardian": synced from the management system. "authorized": an adult a guardian invited
    # to announce and pick up (a grandparent); never synced, revocable by that guardian.
    kind: str = Field(default="guardian", max_length=16)
    invited_by_id: int | None = Field(default=None, foreign_key="guardian.id")
    photo: str | None = Field(default=None, max_length=64)
    pending_photo: str | None = Field(default=None, max_length=64)
    # The address the last invitation went to (the roster sync re-invites when `email` differs).
    invited_email: str | None = Field(default=None, max_length=254)
    # Retention: when first seen without an active child (a family that left), and when erased.
    left_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    erased_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def photo_pending(self) -> bool:
        return self.pending_photo is not None

    @property
    def is_authorized_person(self) -> bool:
        return self.kind == "authorized"


class ChildGuardian(SQLModel, table=True):
    child_id: int = Field(foreign_key="child.id", primary_key=True)
    guardian_id: int = Field(foreign_key="guardian.id", primary_key=True, index=True)


class Attendance(SQLModel, table=True):
    """A child is present on `day` from check-in until check-out."""

    __table_args__ = (UniqueConstraint("child_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    installation_id: int = Field(foreign_key="installation.id", index=True)
    day: date
    checked_in_at: datetime = Field(sa_column=_instant())
    checked_out_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


LIVE_STATUSES = ("scheduled", "tracking", "announced", "called", "ready")


class Pickup(SQLModel, table=True):
    """One announced arrival of one guardian for one child, on one day."""

    __table_args__ = (
        # At most one live pickup per child: a double tap or two parents cannot make two.
        Index(
            "uq_pickup_live_child",
            "child_id",
            unique=True,
            sqlite_where=text("status IN ('scheduled','tracking','announced','called','ready')"),
            postgresql_where=text(
                "status IN ('scheduled','tracking','announced','called','ready')"
            ),
        ),
        Index("ix_pickup_installation_day", "installation_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    installation_id: int = Field(foreign_key="installation.id")
    child_id: int = Field(foreign_key="child.id")
    guardian_id: int = Field(foreign_key="guardian.id", index=True)
    day: date
    mode: str = Field(max_length=8)
    status: str = Field(max_length=16, index=True)
    # ETA mode: the arrival time given. GPS mode: the latest estimate.
    eta: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    # When the board alert is due (ETA − preparation time). GPS mode: None while positions
    # come; set once the phone went silent and the server fell back to the predicted time.
    announce_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    gps_minutes: int | None = None
    created_at: datetime = Field(sa_column=_instant())
    announced_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    updated_at: datetime = Field(sa_column=_instant())
    # Why staff dismissed the alert (rules.DismissReason); None unless dismissed.
    dismiss_reason: str | None = Field(default=None, max_length=32)


class PickupEvent(SQLModel, table=True):
    """Append-only log of every transition: the release log (who, what, when, which device)."""

    __tablename__ = "pickup_event"

    id: int | None = Field(default=None, primary_key=True)
    pickup_id: int = Field(foreign_key="pickup.id", index=True)
    installation_id: int = Field(foreign_key="installation.id", index=True)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    at: datetime = Field(sa_column=_instant())
    actor_kind: str = Field(max_length=16)
    actor_id: int | None = None
    actor_name: str = Field(default="", max_length=200)
    device: str = Field(default="", max_length=300)
    # A departure: the adult the child was handed to (the actor is who confirmed it).
    handed_to_id: int | None = Field(default=None, foreign_key="guardian.id")
    handed_to_name: str = Field(default="", max_length=200)
    # A dismissal's reason (rules.DismissReason).
    reason: str | None = Field(default=None, max_length=32)
    # An undo: the line it undid (the step returns to that line's `from_status`).
    undo_of: int | None = None
    # A release during an emergency closure (reunification): which emergency.
    emergency_id: int | None = Field(default=None, foreign_key="emergency.id")


class AccountKind(StrEnum):
    """Who signs in: each kind has its own accounts table, cookie and sign-in page."""

    STAFF = "staff"  # StaffUser
    PARENT = "parent"  # Guardian
    CENTRE = "centre"  # CenterAccount


class SignInSession(SQLModel, table=True):
    """A sign-in (staff, parent or centre account), server-side: the cookie holds a random
    token, the table only its SHA-256. Signing out or disabling an account deletes the row."""

    __tablename__ = "sign_in_session"
    __table_args__ = (Index("ix_sign_in_session_kind_account_id", "kind", "account_id"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)  # AccountKind
    account_id: int  # the id in that kind's accounts table
    created_at: datetime = Field(sa_column=_instant())
    expires_at: datetime = Field(sa_column=_instant())
    user_agent: str = Field(default="", max_length=300)


class PushSubscription(SQLModel, table=True):
    """One browser that asked to be told of its guardian's pickups with the phone locked (Web
    Push): the push service's address and the keys that encrypt for that browser alone. It
    belongs to the sign-in it was made under: signing out, a revoked account or an expired
    session delete it with the session (ON DELETE CASCADE), so a phone handed on is not told."""

    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    guardian_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("guardian.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    session_hash: str = Field(
        sa_column=Column(
            AutoString(64),
            ForeignKey("sign_in_session.token_hash", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    # The push service's address for this browser (https; unique: one row per browser).
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=100)  # the browser's public key (base64url, 65 bytes)
    auth: str = Field(max_length=40)  # its authentication secret (base64url, 16 bytes)
    locale: str = Field(default="fr_CA", max_length=8)  # the notices' language
    # Also « En préparation » (staff pressed Appeler), not only « Prêt » and cancellations.
    preparing: bool = False
    created_at: datetime = Field(sa_column=_instant())


class OneTimeLink(SQLModel, table=True):
    """A one-time link sent by email: a parent's activation or password reset, a staff
    member's invitation. Works once, until it expires."""

    __tablename__ = "one_time_link"
    __table_args__ = (Index("ix_one_time_link_kind_account_id", "kind", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # AccountKind: staff | parent
    account_id: int
    purpose: str = Field(max_length=16)  # parent: activate | reset; staff: invite
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=_instant())
    expires_at: datetime = Field(sa_column=_instant())
    used_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class TripPosition(SQLModel, table=True):
    """A GPS position during a trip. Kept only while the trip lasts, then deleted."""

    __tablename__ = "trip_position"

    id: int | None = Field(default=None, primary_key=True)
    pickup_id: int = Field(foreign_key="pickup.id", index=True)
    at: datetime = Field(sa_column=_instant())
    latitude: float
    longitude: float
    accuracy_m: float | None = None


class OutboxMessage(SQLModel, table=True):
    """Emails written while no SMTP server is configured (the demo shows them at /dev/outbox)."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    to: str = Field(max_length=254, index=True)
    subject: str = Field(max_length=300)
    body: str
    created_at: datetime = Field(sa_column=_instant())


class RateEvent(SQLModel, table=True):
    """One attempt counted by a rate limit (sign-in, activation, announcement), shared by
    every worker through the database."""

    __tablename__ = "rate_event"
    __table_args__ = (Index("ix_rate_event_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    at: datetime = Field(sa_column=_instant())


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"
    # One account per address in an organization; another organization may have its own
    # (and is never told so: inviting someone must not reveal where else they work).
    __table_args__ = (
        UniqueConstraint("organization_id", "email", name="uq_staff_user_organization_email"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    email: str = Field(max_length=254, index=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=16)
    # Reception and educators belong to one installation; admins see all (None).
    installation_id: int | None = Field(default=None, foreign_key="installation.id")
    home_group_id: int | None = Field(default=None, foreign_key="child_group.id")
    active: bool = True
    created_at: datetime = Field(sa_column=_instant())


class CenterAccount(SQLModel, table=True):
    """The installation's account on the pickup side (seed: the "HopHop" account): an email and
    a password that sign in to the centre portal. One per installation."""

    __tablename__ = "center_account"

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installation.id", unique=True)
    # Not unique across organizations (see StaffUser.email); unique within one, by the code.
    email: str = Field(max_length=254, index=True)
    password_hash: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_instant())


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=_instant())
    last_used_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class Display(SQLModel, table=True):
    """A wall screen: a revocable link bound to one installation and one group filter."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    installation_id: int = Field(foreign_key="installation.id")
    group_id: int | None = Field(default=None, foreign_key="child_group.id")
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=_instant())
    revoked_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class SyncJob(SQLModel, table=True):
    """One "Synchroniser les données" run: progress for the page, then its summary (JSON)."""

    __tablename__ = "sync_job"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    status: str = Field(default="running", max_length=16)  # running | done | failed
    total: int = Field(default=0)
    done: int = Field(default=0)
    summary: str = Field(default="{}")
    started_at: datetime = Field(sa_column=_instant())
    finished_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


# -- privacy (Québec's Law 25; docs/privacy.md is the inventory of every field above) --------


class PrivacySettings(SQLModel, table=True):
    """An organization's person in charge of the protection of personal information (s. 3.1)
    and its retention periods in days (s. 23; server/privacy/retention.py names each kind)."""

    __tablename__ = "privacy_settings"

    organization_id: int = Field(foreign_key="organization.id", primary_key=True)
    officer_name: str = Field(default="", max_length=200)
    officer_title: str = Field(default="", max_length=200)
    officer_email: str = Field(default="", max_length=254)
    release_log_days: int = Field(default=365)
    consents_days: int = Field(default=365)
    exports_days: int = Field(default=365)
    messages_days: int = Field(default=30)
    sessions_days: int = Field(default=0)
    departed_days: int = Field(default=90)
    requests_days: int = Field(default=365)


class Consent(SQLModel, table=True):
    """A guardian's consent to a purpose (sharing the position during a trip): when, to which
    version of the text, and when withdrawn."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    guardian_id: int = Field(foreign_key="guardian.id", index=True)
    purpose: str = Field(max_length=32)
    text_version: str = Field(max_length=32)
    given_at: datetime = Field(sa_column=_instant())
    withdrawn_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class DataExport(SQLModel, table=True):
    """One export of a family's data (s. 27): who asked, when, whose."""

    __tablename__ = "data_export"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    guardian_id: int = Field(foreign_key="guardian.id", index=True)  # whose family
    subject_name: str = Field(default="", max_length=200)
    requested_by_kind: str = Field(max_length=16)  # ActorKind: guardian | staff
    requested_by_id: int
    requested_by_name: str = Field(default="", max_length=200)
    at: datetime = Field(sa_column=_instant())


class RectificationRequest(SQLModel, table=True):
    """A parent asks the daycare to correct a field synced from the management system."""

    __tablename__ = "rectification_request"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    guardian_id: int = Field(foreign_key="guardian.id", index=True)  # who asks
    child_id: int | None = Field(default=None, foreign_key="child.id")  # None: the guardian
    field: str = Field(max_length=16)  # first_name | last_name | email
    current_value: str = Field(default="", max_length=254)
    requested_value: str = Field(max_length=254)
    created_at: datetime = Field(sa_column=_instant())
    resolved_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    resolved_by_name: str = Field(default="", max_length=200)


class PrivacyIncident(SQLModel, table=True):
    """The register of confidentiality incidents (ss. 3.5–3.8): kept five years at least."""

    __tablename__ = "privacy_incident"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    occurred_on: date
    discovered_on: date
    description: str = Field(max_length=4000)
    people_concerned: str = Field(max_length=2000)  # whose data, how many
    serious_risk: bool = False  # a risk of serious injury (s. 3.7)
    risk_assessment: str = Field(default="", max_length=4000)
    notified: str = Field(default="", max_length=2000)  # the Commission, the people, others
    notified_on: date | None = None
    recorded_by_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_column=_instant())


# -- emergencies: evacuation roll calls and closures (server/emergency/) -------------------


class EmergencyKind(StrEnum):
    EVACUATION = "evacuation"  # a fire alarm: everyone out to the assembly point (or a drill)
    CLOSURE = "closure"  # the installation closes early (a storm, a water leak)


class RollStatus(StrEnum):
    PENDING = "pending"  # not yet seen at the assembly point
    PRESENT = "present"  # checked off at the assembly point
    RELEASED = "released"  # handed to an authorized adult (reunification)


class Emergency(SQLModel, table=True):
    """One emergency at one installation. Started for several installations at once, each
    gets its row, sharing `batch` (the one start they came from)."""

    __table_args__ = (
        # At most one emergency under way per installation: two directors pressing at once
        # start one (the other is told it is already under way).
        Index(
            "uq_emergency_active_installation",
            "installation_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_emergency_installation_id", "installation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    installation_id: int = Field(foreign_key="installation.id")
    batch: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=16)  # EmergencyKind
    drill: bool = False  # an exercise: marked as such everywhere, no family is told
    message: str = Field(default="", max_length=1000)  # for the families
    assembly_point: str = Field(default="", max_length=300)
    started_at: datetime = Field(sa_column=_instant())
    started_by_id: int | None = None
    started_by_name: str = Field(default="", max_length=200)
    ended_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    ended_by_id: int | None = None
    ended_by_name: str = Field(default="", max_length=200)
    # How many families were told (emails queued); 0 for a drill.
    families_told: int = 0


class RollLine(SQLModel, table=True):
    """One child present when the emergency started, on its roll: its status now."""

    __tablename__ = "roll_line"
    __table_args__ = (UniqueConstraint("emergency_id", "child_id"),)

    id: int | None = Field(default=None, primary_key=True)
    emergency_id: int = Field(foreign_key="emergency.id", index=True)
    child_id: int = Field(foreign_key="child.id")
    group_id: int = Field(foreign_key="child_group.id")  # the child's group at the start
    status: str = Field(default="pending", max_length=16)  # RollStatus
    changed_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class RollEvent(SQLModel, table=True):
    """Append-only: every check, undo and release of a roll (the report's timeline)."""

    __tablename__ = "roll_event"

    id: int | None = Field(default=None, primary_key=True)
    emergency_id: int = Field(foreign_key="emergency.id", index=True)
    child_id: int = Field(foreign_key="child.id")
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    at: datetime = Field(sa_column=_instant())
    actor_kind: str = Field(max_length=16)
    actor_id: int | None = None
    actor_name: str = Field(default="", max_length=200)
    device: str = Field(default="", max_length=300)
    handed_to_id: int | None = Field(default=None, foreign_key="guardian.id")
    handed_to_name: str = Field(default="", max_length=200)
    undo_of: int | None = None  # an undo: the check it took back
