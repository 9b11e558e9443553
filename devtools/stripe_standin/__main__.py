"""Start the stand-in:

python -m devtools.stripe_standin --host 127.0.0.1 --port PORT \
    [--webhook-url URL --webhook-secret whsec_...] \
    [--connect-webhook-url URL --connect-webhook-secret whsec_...]
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from .app import build_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.stripe_standin",
        description="A local Stripe stand-in (localstripe plus Connect and Checkout).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the one address to bind")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook-url", help="where to POST signed events")
    parser.add_argument("--webhook-secret", help="whsec_... used to sign them")
    parser.add_argument("--connect-webhook-url", help="where to POST connected accounts' events")
    parser.add_argument("--connect-webhook-secret", help="whsec_... of the Connect endpoint")
    parser.add_argument("--public-url", help="base of hosted page URLs (default http://HOST:PORT)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")
    if bool(args.connect_webhook_url) != bool(args.connect_webhook_secret):
        parser.error("--connect-webhook-url and --connect-webhook-secret go together")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    base_url = args.public_url or f"http://{args.host}:{args.port}"
    app = build_app(
        base_url=base_url,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        connect_webhook_url=args.connect_webhook_url,
        connect_webhook_secret=args.connect_webhook_secret,
    )
    web.run_app(
        app,
        host=args.host,  # only this address: localstripe's own start() binds every interface
        port=args.port,
        access_log=logging.getLogger("aiohttp.access") if args.verbose else None,
        print=lambda _: print(f"stripe stand-in ready on {base_url}", flush=True),
    )


if __name__ == "__main__":
    main()
