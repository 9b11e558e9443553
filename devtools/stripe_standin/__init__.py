"""A local Stripe stand-in: localstripe extended with Connect and Checkout.

GPL-3.0-or-later (it imports localstripe; see LICENSE-NOTE.md). It runs as its
own process and the `referral` package never imports it:

    python -m devtools.stripe_standin --host 127.0.0.1 --port 8420 \\
        --webhook-url http://127.0.0.1:5000/stripe/webhook --webhook-secret whsec_...

The app reaches it only through stripe-python, with
StripeClient(..., base_addresses={"api": "http://127.0.0.1:8420", ...}).
"""
