"""The dashboard in the browser's terms: charts with their numbers beside them,
CSV exports of the same rows, the API's figures, the operator's view, and
other businesses' data nowhere."""

from __future__ import annotations

import csv
import io

from sqlmodel import Session

from referral.auth.models import User
from tests.support.factories import sign_in


def signed_in(app, db: Session, who):  # type: ignore[no-untyped-def]
    return sign_in(app, db.get(User, who.user_id))


def read_csv(client, path: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(client.get(path).get_data(as_text=True))))


def test_the_dashboard_shows_each_chart_with_its_table(app, db, history):
    page = signed_in(app, db, history.hvac).get("/analytics").get_data(as_text=True)

    assert page.count("<svg") >= 5
    assert 'role="img"' in page
    for section in ("figure-funnel", "figure-partners", "figure-trends", "figure-customers"):
        assert f'id="{section}"' in page
    assert "83.3%" in page  # 5 of 6 consented
    assert "Job won" in page and "Where the funnel leaks most" in page
    assert "Drip Plumbing" in page and "$2,800.00" in page  # its value to HVAC
    assert "Ana Diaz" in page and "$1,500.00" in page  # her lifetime value


def test_each_figure_downloads_as_csv_with_the_same_rows(app, db, history):
    client = signed_in(app, db, history.hvac)

    rows = list(
        csv.reader(io.StringIO(client.get("/analytics/partners.csv").get_data(as_text=True)))
    )
    funnel = list(
        csv.reader(io.StringIO(client.get("/analytics/funnel.csv").get_data(as_text=True)))
    )

    assert rows[0][:4] == ["Rank", "Partner", "Jobs won from their referrals", "Revenue"]
    assert rows[1][1:4] == ["Drip Plumbing", "1", "3000.00"]
    assert funnel[1:5] == [
        ["Sent", "6", "—"],
        ["Customer consented", "5", "83.3%"],
        ["Partner accepted", "4", "80.0%"],
        ["Job won", "2", "50.0%"],
    ]
    assert client.get("/analytics/nonsense.csv").status_code == 404


def test_the_received_direction_shows_what_partners_sent(app, db, history):
    page = signed_in(app, db, history.hvac).get("/analytics?direction=received&months=3")

    assert page.status_code == 200
    assert "Referrals received" in page.get_data(as_text=True)


def test_another_business_sees_only_its_own_figures(app, db, history):
    page = signed_in(app, db, history.electric).get("/analytics").get_data(as_text=True)

    assert "Ana Diaz" not in page and "Drip Plumbing" not in page


def test_names_are_escaped_inside_charts(app, db, history):
    from referral.businesses.models import Business

    plumber = db.get(Business, history.plumber.business_id)
    plumber.name = '<script>alert("x")</script>'
    db.commit()

    page = signed_in(app, db, history.hvac).get("/analytics").get_data(as_text=True)

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


def test_the_analytics_api_gives_the_same_figures(app, db, history):
    from tests.support.api import api_client

    client = api_client(app, db, db.get(User, history.hvac.user_id))
    funnel = client.get("/analytics/funnel").get_json()
    partners = client.get("/analytics/partners").get_json()["partners"]
    lifetime = client.get("/analytics/lifetime-value").get_json()
    trends = client.get("/analytics/trends?months=3").get_json()["months"]

    assert funnel["counts"] == {"sent": 6, "consented": 5, "accepted": 4, "won": 2}
    assert funnel["conversion"]["consented"] == {"numerator": 5, "denominator": 6}
    assert partners[0]["partner_name"] == "Drip Plumbing"
    assert partners[0]["revenue_per_commission"] == {"numerator": 300_000, "denominator": 30_000}
    assert lifetime["back_end_share"] == {"numerator": 130_000, "denominator": 310_000}
    assert len(trends) == 3
    assert client.get("/analytics/funnel?months=0").status_code == 422


def test_the_operator_sees_the_platform_and_others_do_not(app, db, history):
    user = db.get(User, history.plumber.user_id)
    assert sign_in(app, user).get("/operator/analytics").status_code == 404
    user.is_operator = True
    db.commit()

    page = sign_in(app, user).get("/operator/analytics").get_data(as_text=True)

    assert "Gross commission value" in page and "$520.00" in page
