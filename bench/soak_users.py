"""The soak's virtual users, each a thread looping until the run ends:

- browsers: an owner's pages (home, inboxes, a referral, partnerships,
  customers, commissions, settlements, payments, notifications, analytics,
  partner discovery), signed in with the session cookie;
- API readers: the same business's data through /api/v1 with its API key;
- senders: a referral's whole life through the API: sent (with attested
  consent; 1 in 20 by email link, left awaiting the customer), sometimes sent
  again under the same Idempotency-Key (which must answer the same referral),
  then the partner declines, accepts (and sees the contact details), and
  reports the job won or lost;
- a settler: every few seconds an owner presses "Settle now", so the workers
  charge debtors on the stand-in and its webhooks come back.

Every referral a sender drives is tracked with the status it should end in;
after an answer went missing (a socket error, a 5xx) its status is unknown.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from dataclasses import dataclass, field

from bench.soak_client import Http, Pacer, Recorder, Response
from bench.soak_world import Member, World, post_form

PAGES = (  # (label, path or None for one of the business's referrals, weight)
    ("GET /", "/", 3),
    ("GET /referrals/inbox", "/referrals/inbox", 3),
    ("GET /referrals/outbox", "/referrals/outbox", 2),
    ("GET /referrals/{id}", None, 3),
    ("GET /partnerships", "/partnerships", 1),
    ("GET /customers", "/customers", 1),
    ("GET /commissions", "/commissions", 2),
    ("GET /settlements", "/settlements", 1),
    ("GET /payments", "/payments", 1),
    ("GET /notifications", "/notifications", 1),
    ("GET /analytics", "/analytics", 1),
    ("GET /partners", "/partners", 1),
)
API_READS = (
    ("GET /api/v1/me", "/api/v1/me", 2),
    ("GET /api/v1/referrals", "/api/v1/referrals?direction=received", 2),
    ("GET /api/v1/referrals", "/api/v1/referrals?direction=sent", 1),
    ("GET /api/v1/referrals/{id}", None, 3),
    ("GET /api/v1/commissions", "/api/v1/commissions?role=earned", 1),
    ("GET /api/v1/commissions", "/api/v1/commissions?role=owed", 1),
    ("GET /api/v1/settlements", "/api/v1/settlements", 1),
    ("GET /api/v1/partnerships", "/api/v1/partnerships", 1),
    ("GET /api/v1/customers", "/api/v1/customers", 1),
    ("GET /api/v1/payments/status", "/api/v1/payments/status", 1),
    ("GET /api/v1/analytics/funnel", "/api/v1/analytics/funnel", 1),
)
URGENCIES = ("emergency", "this_week", "this_month", "flexible")
NEEDS = (
    "Water heater leaking in the garage",
    "AC blowing warm air upstairs",
    "Breaker trips when the dryer runs",
    "Storm took shingles off the north side",
    "Ants in the kitchen every morning",
    "Back yard needs new sod and irrigation",
)


@dataclass
class Tracked:
    """A referral a sender drove, and the status it should have now (None: unknown)."""

    id: int
    sender_id: int
    receiver_id: int
    expected: str | None


@dataclass
class Scenario:
    world: World
    app_url: str
    recorder: Recorder
    run_tag: str
    stop: threading.Event
    seed: int
    settle_every: float
    pacer: Pacer | None = None  # None: each user sends as soon as answered
    referrals: dict[int, Tracked] = field(default_factory=dict)
    keys_unanswered: list[str] = field(default_factory=list)  # POSTs with no answer at all
    keys_answered: dict[str, int] = field(default_factory=dict)  # Idempotency-Key -> referral
    replays: int = 0
    settle_presses: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _numbers: int = 0

    def threads(self, *, browsers: int, api_readers: int, senders: int) -> list[threading.Thread]:
        made = [(self._browse, n) for n in range(browsers)]
        made += [(self._read_api, 100 + n) for n in range(api_readers)]
        made += [(self._send, 200 + n) for n in range(senders)]
        made += [(self._settle, 300)]
        return [
            threading.Thread(target=target, args=(random.Random(self.seed * 1000 + n),))
            for target, n in made
        ]

    # --- helpers --------------------------------------------------------------------

    def _member(self, rng: random.Random) -> Member:
        return self.world.members[rng.choice(list(self.world.members))]

    def _some_referral(self, rng: random.Random, business_id: int) -> int | None:
        with self._lock:
            mine = [
                t.id for t in self.referrals.values() if business_id in (t.sender_id, t.receiver_id)
            ]
        return rng.choice(mine[-200:]) if mine else None

    def _track(self, tracked: Tracked) -> None:
        with self._lock:
            self.referrals[tracked.id] = tracked

    def _set_expected(self, tracked: Tracked, response: Response | None, status: str) -> bool:
        """Record the status an answered transition moved to; False (status now
        unknown) when the answer is missing or not the referral in that status."""
        document = _json(response)
        moved = document is not None and document.get("status") == status
        with self._lock:
            tracked.expected = status if moved else None
        return moved

    # --- users ---------------------------------------------------------------------

    def _browse(self, rng: random.Random) -> None:
        http = Http(self.app_url, self.recorder, pacer=self.pacer)
        weights = [w for _, _, w in PAGES]
        while not self.stop.is_set():
            member = self._member(rng)
            label, path, _ = rng.choices(PAGES, weights)[0]
            if path is None:
                referral_id = self._some_referral(rng, member.business_id)
                if referral_id is None:
                    continue
                path = f"/referrals/{referral_id}"
            response = http.call(label, "GET", path, headers=self.world.page(member))
            if response is not None and response.status == 200:
                if member.name.encode() not in response.body:
                    self.recorder.fail(label, f"{path}: the page does not name {member.name}")
        http.close()

    def _read_api(self, rng: random.Random) -> None:
        http = Http(self.app_url, self.recorder, pacer=self.pacer)
        weights = [w for _, _, w in API_READS]
        while not self.stop.is_set():
            member = self._member(rng)
            label, path, _ = rng.choices(API_READS, weights)[0]
            if path is None:
                referral_id = self._some_referral(rng, member.business_id)
                if referral_id is None:
                    continue
                path = f"/api/v1/referrals/{referral_id}"
            response = http.call(label, "GET", path, headers=member.api())
            if response is not None and response.status == 200 and _json(response) is None:
                self.recorder.fail(label, f"{path}: the answer is not JSON")
        http.close()

    def _send(self, rng: random.Random) -> None:
        http = Http(self.app_url, self.recorder, pacer=self.pacer)
        senders = [b for b, partners in self.world.partners.items() if partners]
        while not self.stop.is_set():
            sender = self.world.members[rng.choice(senders)]
            pair = self.world.next_referral(sender.business_id)
            if pair is not None:
                self._life_of_a_referral(http, rng, sender, *pair)
        http.close()

    def _life_of_a_referral(
        self, http: Http, rng: random.Random, sender: Member, customer_id: int, partner_id: int
    ) -> None:
        with self._lock:
            self._numbers += 1
            key = f"soak-{self.run_tag}-{self._numbers}"
        by_email = rng.random() < 0.05
        body: dict[str, object] = {
            "partner_id": partner_id,
            "customer_id": customer_id,
            "need": rng.choice(NEEDS),
            "urgency": rng.choice(URGENCIES),
            "consent_method": "email_link" if by_email else "attested_phone",
        }
        if not by_email:
            body["attested_on"] = dt.date.today().isoformat()
        headers = {**sender.api(), "Content-Type": "application/json", "Idempotency-Key": key}
        created = self._post_referral(http, headers, body)
        if created is None:
            # No answer: whether it was made is unknown. A client retries with the
            # same key, which can only return the first referral.
            created = self._post_referral(http, headers, body)
        if created is None:
            with self._lock:
                self.keys_unanswered.append(key)
            return
        tracked = Tracked(created, sender.business_id, partner_id, None)
        self._track(tracked)
        with self._lock:
            self.keys_answered[key] = created
        if rng.random() < 0.10:
            again = self._post_referral(http, headers, body)
            with self._lock:
                self.replays += 1
            if again is not None and again != created:
                self.recorder.fail(
                    "POST /api/v1/referrals",
                    f"the same Idempotency-Key made referral {again} after {created}",
                )
        tracked.expected = "awaiting_consent" if by_email else "sent"
        if by_email:
            return
        self._answer(http, rng, tracked)

    def _post_referral(self, http: Http, headers: dict[str, str], body: dict) -> int | None:
        response = http.call(
            "POST /api/v1/referrals",
            "POST",
            "/api/v1/referrals",
            headers=headers,
            body=json.dumps(body).encode(),
            expect=(201,),
        )
        document = _json(response)
        if response is None or response.status != 201 or document is None:
            return None
        return int(document["id"])

    def _answer(self, http: Http, rng: random.Random, tracked: Tracked) -> None:
        """The partner declines (20%), accepts (70%) or leaves it; an accepted
        referral is won (60%), lost (30%) or left open."""
        receiver = self.world.members[tracked.receiver_id]
        headers = {**receiver.api(), "Content-Type": "application/json"}
        path = f"/api/v1/referrals/{tracked.id}"
        draw = rng.random()
        if draw < 0.2:
            reason = json.dumps({"reason": "Booked solid this month"}).encode()
            response = http.call(
                "POST /api/v1/referrals/{id}/decline",
                "POST",
                f"{path}/decline",
                headers=headers,
                body=reason,
            )
            self._set_expected(tracked, response, "declined")
            return
        if draw >= 0.9:
            return
        response = http.call(
            "POST /api/v1/referrals/{id}/accept", "POST", f"{path}/accept", headers=headers
        )
        if not self._set_expected(tracked, response, "accepted"):
            return
        seen = _json(http.call("GET /api/v1/referrals/{id}", "GET", path, headers=headers))
        if seen is not None and not seen.get("customer"):
            self.recorder.fail(
                "GET /api/v1/referrals/{id}", f"referral {tracked.id}: accepted, yet no contact"
            )
        draw = rng.random()
        if draw < 0.6:
            won = {
                "job_value_cents": rng.randrange(150_00, 8_000_00),
                "job_date": str(dt.date.today()),
            }
            response = http.call(
                "POST /api/v1/referrals/{id}/won",
                "POST",
                f"{path}/won",
                headers=headers,
                body=json.dumps(won).encode(),
            )
            self._set_expected(tracked, response, "won")
        elif draw < 0.9:
            lost = json.dumps({"reason": "Customer chose someone else"}).encode()
            response = http.call(
                "POST /api/v1/referrals/{id}/lost",
                "POST",
                f"{path}/lost",
                headers=headers,
                body=lost,
            )
            self._set_expected(tracked, response, "lost")

    def _settle(self, rng: random.Random) -> None:
        http = Http(self.app_url, self.recorder)
        while not self.stop.wait(self.settle_every):
            member = self._member(rng)
            response = post_form(
                http, self.world, member, "POST /settlements/run", "/settlements/run", {}
            )
            if response is not None and response.status in (302, 303):
                with self._lock:
                    self.settle_presses += 1
        http.close()


def _json(response: Response | None) -> dict | None:
    if response is None or response.status >= 400:
        return None
    try:
        document = json.loads(response.body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
