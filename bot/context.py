"""What a handler works with: the person, their conversation state, repositories and the effects it records.

The engine builds one Context per inbound inside its transaction; a handler never sees the session itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import (
    AfterCommit,
    Choice,
    Effect,
    Inbound,
    NotifyPerson,
    RefreshCommands,
    Reply,
    ScheduleJob,
    SendReply,
)
from lessons.catalog import Catalog
from storage.broadcasts import BroadcastsRepo
from storage.certificates import CertificatesRepo
from storage.contests import ContestsRepo
from storage.escalations import EscalationsRepo
from storage.invites import InvitesRepo
from storage.media import MediaRepo
from storage.meetings import MeetingsRepo
from storage.mentors import MentorsRepo
from storage.models import Person
from storage.people import PeopleRepo
from storage.personal_data import PersonalDataRepo
from storage.places import PlacesRepo
from storage.privacy import DEFAULT_RETENTION, ConsentRepo, DataRequestsRepo, Retention, ref_hash
from storage.progress import ProgressRepo
from storage.stats import StatsRepo
from storage.trainings import TrainingsRepo


@dataclass(frozen=True)
class Community:
    """The deployment's commune, as configured, and how its help requests move up."""

    commune_id: int
    commune_name: str
    timezone: ZoneInfo
    help_to_all_mentors: dt.timedelta = dt.timedelta(minutes=15)
    help_to_officials: dt.timedelta = dt.timedelta(hours=2)
    invite_ttl: dt.timedelta = dt.timedelta(days=7)
    help_retention: dt.timedelta = dt.timedelta(days=30)
    practice_account: tuple[str, str, str] | None = None  # (bank BIN, account, name) for practice payments
    public_url: str = ""  # where certificates are verified (<public_url>/verify/<code>), if the bot is public
    telegram_username: str = ""  # for deep links on posters
    zalo_link: str = ""
    # The privacy-request log's salt and how long the privacy records are kept (Settings.privacy_key and
    # Settings.privacy_retention; these defaults are for tests and the web chat only).
    privacy_salt: bytes = b"hocvuso web chat"
    privacy_retention: Retention = DEFAULT_RETENTION


@dataclass
class Repos:
    people: PeopleRepo
    places: PlacesRepo
    progress: ProgressRepo
    consent: ConsentRepo
    data_requests: DataRequestsRepo
    mentors: MentorsRepo
    escalations: EscalationsRepo
    invites: InvitesRepo
    meetings: MeetingsRepo
    media: MediaRepo
    certificates: CertificatesRepo
    broadcasts: BroadcastsRepo
    trainings: TrainingsRepo
    contests: ContestsRepo
    stats: StatsRepo
    personal_data: PersonalDataRepo

    @classmethod
    def bound(cls, session: AsyncSession) -> Repos:
        return cls(people=PeopleRepo(session), places=PlacesRepo(session), progress=ProgressRepo(session),
                   consent=ConsentRepo(session), data_requests=DataRequestsRepo(session),
                   mentors=MentorsRepo(session), escalations=EscalationsRepo(session),
                   invites=InvitesRepo(session), meetings=MeetingsRepo(session), media=MediaRepo(session),
                   certificates=CertificatesRepo(session), broadcasts=BroadcastsRepo(session),
                   trainings=TrainingsRepo(session), contests=ContestsRepo(session), stats=StatsRepo(session),
                   personal_data=PersonalDataRepo(session))


@dataclass
class Context:
    inbound: Inbound
    person: Person | None
    state: dict[str, Any]
    repos: Repos
    catalog: Catalog
    community: Community
    now: dt.datetime
    effects: list[Effect] = field(default_factory=list)
    erased: bool = False

    @property
    def ref(self) -> str:
        return self.inbound.person

    @property
    def ref_key(self) -> str:
        """How the privacy-request log names this person: a salted hash of their account, nothing reversible."""
        return ref_hash(self.ref, self.community.privacy_salt)

    @property
    def channel(self) -> str:
        return self.inbound.channel

    def reply(self, text: str, choices: list[list[Choice]] | None = None, *, image: bytes | None = None,
              numbered: bool = True, document: bytes | None = None, document_name: str = "") -> None:
        self.effects.append(SendReply(reply=Reply(text=text, choices=choices or [], image=image, numbered=numbered,
                                                  document=document, document_name=document_name)))

    def notify(self, person: str, reply: Reply) -> None:
        self.effects.append(NotifyPerson(person=person, reply=reply))

    def refresh_commands(self, person: str | None = None) -> None:
        self.effects.append(RefreshCommands(person=person or self.ref))

    def after_commit(self, work: Callable[[Context], Awaitable[None]]) -> None:
        """Run `work` once this inbound has committed and its replies are sent, on a read-only Context of its own
        (a long report: see bot.messages.AfterCommit). Its ctx.reply goes to this person, ctx.notify to others."""
        self.effects.append(AfterCommit(work=work))

    def schedule(self, kind: str, run_at: dt.datetime, **payload: Any) -> None:
        self.effects.append(ScheduleJob(kind=kind, run_at=run_at, payload=payload))

    def became(self, person: Person) -> None:
        """The handler created this person (they just consented)."""
        self.person = person

    async def erase_person(self, *, keep_counts: bool = True) -> None:
        """Delete everything about the person; what the commune's statistics counted of them stays as anonymous
        counts (unless `keep_counts` is False: someone who never really joined). Replies recorded after this
        still reach them."""
        tracks = {t.id: [lesson.id for lesson in self.catalog.by_track.get(t.id, [])] for t in self.catalog.tracks}
        await self.repos.people.erase(self.ref, tracks=tracks, zone=self.community.timezone, keep_counts=keep_counts)
        self.person = None
        self.state = {}
        self.erased = True

    def local(self, moment: dt.datetime | None = None) -> dt.datetime:
        return (moment or self.now).astimezone(self.community.timezone)
