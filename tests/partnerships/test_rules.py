"""Partnership rules, enforced by the services whatever the caller sends."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from referral.errors import DomainError, NotFound, PermissionDenied
from referral.jobs.models import Job
from referral.notifications.models import Notification
from referral.partnerships import services
from referral.partnerships.models import Partnership, PartnershipEvent, Proposal, TermsVersion
from tests.support.factories import (
    FIFTY_DOLLARS_PER_WIN,
    TEN_PERCENT,
    actor,
    agreed_partnership,
    make_business,
    make_user,
    terms,
)

pytestmark = pytest.mark.usefixtures("app_context")


def test_an_accepted_proposal_becomes_version_one_with_terms_for_each_direction(
    db: Session, hvac, plumber
) -> None:
    partnership = services.propose_partnership(
        session=db,
        actor=hvac,
        partner_id=plumber.business_id,
        terms=terms(they_refer_to_me=TEN_PERCENT, i_refer_to_them=FIFTY_DOLLARS_PER_WIN),
        message="Let's work together",
    )
    assert partnership.status == "proposed"

    version = services.accept_proposal(session=db, actor=plumber, partnership_id=partnership.id)
    db.commit()

    assert partnership.status == "active" and partnership.activated_at is not None
    assert version.number == 1
    _, hvac_earns = services.terms_in_force(db, partnership, referrer_id=hvac.business_id)
    _, plumber_earns = services.terms_in_force(db, partnership, referrer_id=plumber.business_id)
    assert (hvac_earns.basis, hvac_earns.flat_fee_cents, hvac_earns.payer_id) == (
        "flat_per_won",
        5000,
        plumber.business_id,
    )
    assert (plumber_earns.basis, plumber_earns.rate_bps, plumber_earns.payer_id) == (
        "percent",
        1000,
        hvac.business_id,
    )


def test_proposals_alternate_through_a_counter_proposal_until_one_side_accepts(
    db: Session, hvac, plumber
) -> None:
    partnership = services.propose_partnership(
        session=db, actor=hvac, partner_id=plumber.business_id, terms=terms()
    )
    with pytest.raises(DomainError, match="the other side answers"):
        services.accept_proposal(session=db, actor=hvac, partnership_id=partnership.id)

    counter = services.counter_proposal(
        session=db,
        actor=plumber,
        partnership_id=partnership.id,
        terms=terms(i_refer_to_them=FIFTY_DOLLARS_PER_WIN),
    )
    with pytest.raises(DomainError, match="the other side answers"):
        services.accept_proposal(session=db, actor=plumber, partnership_id=partnership.id)
    version = services.accept_proposal(session=db, actor=hvac, partnership_id=partnership.id)
    db.commit()

    assert version.proposal_id == counter.id
    statuses = db.exec(select(Proposal.kind, Proposal.status).order_by(Proposal.id)).all()
    assert statuses == [("initial", "countered"), ("counter", "accepted")]
    _, plumber_earns = services.terms_in_force(db, partnership, referrer_id=plumber.business_id)
    assert plumber_earns.flat_fee_cents == 5000


def test_a_business_cannot_partner_with_itself(db: Session, hvac) -> None:
    with pytest.raises(NotFound):
        services.propose_partnership(
            session=db, actor=hvac, partner_id=hvac.business_id, terms=terms()
        )


@pytest.mark.parametrize(
    ("mine", "theirs"), [("hvac", "hvac"), ("handyman", "painting"), ("painting", "handyman")]
)
def test_competing_trades_cannot_partner(db: Session, mine: str, theirs: str) -> None:
    a = make_business(db, trade=mine, zip_code="78701")
    b = make_business(db, trade=theirs, zip_code="78702")
    proposer = actor(make_user(db, a), a)

    with pytest.raises(DomainError, match="compete"):
        services.propose_partnership(session=db, actor=proposer, partner_id=b.id, terms=terms())
    assert db.exec(select(Partnership)).all() == []


def test_businesses_whose_service_areas_do_not_overlap_cannot_partner(db: Session, hvac) -> None:
    new_york = make_business(db, trade="plumbing", zip_code="10001", radius_miles=50)

    with pytest.raises(DomainError, match="do not overlap"):
        services.propose_partnership(session=db, actor=hvac, partner_id=new_york.id, terms=terms())


def test_one_live_partnership_per_pair_whichever_side_proposes(db: Session, hvac, plumber) -> None:
    services.propose_partnership(
        session=db, actor=hvac, partner_id=plumber.business_id, terms=terms()
    )
    db.commit()

    with pytest.raises(DomainError, match="already have a partnership"):
        services.propose_partnership(
            session=db, actor=plumber, partner_id=hvac.business_id, terms=terms()
        )


def test_the_database_refuses_a_second_live_partnership_for_a_pair(
    db: Session, hvac, plumber
) -> None:
    low, high = sorted((hvac.business_id, plumber.business_id))
    for _ in range(2):
        db.add(
            Partnership(
                business_low_id=low, business_high_id=high, proposed_by_id=low, status="active"
            )
        )
    with pytest.raises(IntegrityError):
        db.commit()


def test_after_a_partnership_ends_a_new_agreement_is_possible(db: Session, hvac, plumber) -> None:
    first = agreed_partnership(db, hvac, plumber)
    services.end_partnership(session=db, actor=plumber, partnership_id=first.id)
    db.commit()

    second = services.propose_partnership(
        session=db, actor=plumber, partner_id=hvac.business_id, terms=terms()
    )
    db.commit()
    assert second.id != first.id and second.status == "proposed"


def test_staff_can_see_but_not_propose_or_accept(db: Session, hvac, plumber) -> None:
    staff = actor(
        make_user(db, hvac.business, email="sam@coolair.example", role="staff"), hvac.business
    )
    with pytest.raises(PermissionDenied):
        services.propose_partnership(
            session=db, actor=staff, partner_id=plumber.business_id, terms=terms()
        )
    partnership = services.propose_partnership(
        session=db, actor=plumber, partner_id=hvac.business_id, terms=terms()
    )
    with pytest.raises(PermissionDenied):
        services.accept_proposal(session=db, actor=staff, partnership_id=partnership.id)


def test_a_declined_proposal_cannot_then_be_accepted(db: Session, hvac, plumber) -> None:
    partnership = services.propose_partnership(
        session=db, actor=hvac, partner_id=plumber.business_id, terms=terms()
    )
    services.decline_proposal(
        session=db, actor=plumber, partnership_id=partnership.id, reason="Too far"
    )
    db.commit()

    assert partnership.status == "declined"
    with pytest.raises(DomainError):
        services.accept_proposal(session=db, actor=plumber, partnership_id=partnership.id)


def test_counter_proposing_on_an_active_partnership_is_refused(db: Session, hvac, plumber) -> None:
    partnership = agreed_partnership(db, hvac, plumber)

    with pytest.raises(DomainError, match="no open proposal"):
        services.counter_proposal(
            session=db, actor=hvac, partnership_id=partnership.id, terms=terms()
        )


def test_another_business_cannot_pause_a_partnership_it_is_not_part_of(
    db: Session, hvac, plumber
) -> None:
    partnership = agreed_partnership(db, hvac, plumber)
    outsider_business = make_business(db, trade="roofing", zip_code="78702")
    outsider = actor(make_user(db, outsider_business), outsider_business)

    with pytest.raises(NotFound):
        services.pause_partnership(session=db, actor=outsider, partnership_id=partnership.id)
    db.refresh(partnership)
    assert partnership.status == "active"


def test_pause_resume_and_end_follow_the_lifecycle(db: Session, hvac, plumber) -> None:
    partnership = agreed_partnership(db, hvac, plumber)

    services.pause_partnership(session=db, actor=hvac, partnership_id=partnership.id)
    assert partnership.status == "paused"
    with pytest.raises(DomainError):
        services.pause_partnership(session=db, actor=hvac, partnership_id=partnership.id)
    services.resume_partnership(session=db, actor=plumber, partnership_id=partnership.id)
    assert partnership.status == "active"
    services.end_partnership(session=db, actor=plumber, partnership_id=partnership.id)
    assert partnership.status == "ended" and partnership.ended_at is not None
    with pytest.raises(DomainError, match="ended partnership cannot become active"):
        services.resume_partnership(session=db, actor=hvac, partnership_id=partnership.id)
    db.commit()

    actions = db.exec(select(PartnershipEvent.action).order_by(PartnershipEvent.id)).all()
    assert actions == ["proposed", "accepted", "paused", "resumed", "ended"]


def test_an_amendment_takes_effect_only_when_the_other_side_accepts(
    db: Session, hvac, plumber
) -> None:
    partnership = agreed_partnership(db, hvac, plumber)

    services.propose_amendment(
        session=db,
        actor=plumber,
        partnership_id=partnership.id,
        terms=terms(i_refer_to_them=FIFTY_DOLLARS_PER_WIN),
    )
    db.commit()
    version, plumber_earns = services.terms_in_force(
        db, partnership, referrer_id=plumber.business_id
    )
    assert (version.number, plumber_earns.basis) == (1, "percent")

    with pytest.raises(DomainError, match="already waiting"):
        services.propose_amendment(
            session=db, actor=hvac, partnership_id=partnership.id, terms=terms()
        )
    services.accept_proposal(session=db, actor=hvac, partnership_id=partnership.id)
    db.commit()

    version, plumber_earns = services.terms_in_force(
        db, partnership, referrer_id=plumber.business_id
    )
    assert (version.number, plumber_earns.basis) == (2, "flat_per_won")
    assert [v.number for v in db.exec(select(TermsVersion)).all()] == [1, 2]


def test_a_declined_amendment_leaves_the_agreed_terms_in_force(db: Session, hvac, plumber) -> None:
    partnership = agreed_partnership(db, hvac, plumber)
    services.propose_amendment(session=db, actor=hvac, partnership_id=partnership.id, terms=terms())
    services.decline_proposal(session=db, actor=plumber, partnership_id=partnership.id)
    db.commit()

    assert partnership.status == "active"
    version, _ = services.terms_in_force(db, partnership, referrer_id=hvac.business_id)
    assert version.number == 1


def test_blocking_ends_the_partnership_and_refuses_new_proposals(
    db: Session, hvac, plumber
) -> None:
    partnership = agreed_partnership(db, hvac, plumber)

    services.block_business(session=db, actor=plumber, business_id=hvac.business_id)
    db.commit()

    assert partnership.status == "ended"
    with pytest.raises(NotFound):
        services.propose_partnership(
            session=db, actor=hvac, partner_id=plumber.business_id, terms=terms()
        )


def test_every_step_notifies_the_other_side_in_the_app_and_by_email(
    db: Session, hvac, plumber
) -> None:
    partnership = services.propose_partnership(
        session=db, actor=hvac, partner_id=plumber.business_id, terms=terms()
    )
    services.counter_proposal(
        session=db, actor=plumber, partnership_id=partnership.id, terms=terms()
    )
    services.accept_proposal(session=db, actor=hvac, partnership_id=partnership.id)
    db.commit()

    notes = db.exec(select(Notification.business_id, Notification.kind).order_by(Notification.id))
    assert notes.all() == [
        (plumber.business_id, "partnership.proposed"),
        (hvac.business_id, "partnership.countered"),
        (plumber.business_id, "partnership.accepted"),
    ]
    emails = db.exec(select(Job).where(Job.kind == "send_email").order_by(Job.id)).all()
    assert [job.payload["to"] for job in emails] == [
        "blair@drip.example",
        "alex@coolair.example",
        "blair@drip.example",
    ]
    assert f"/partnerships/{partnership.id}" in emails[0].payload["text"]
