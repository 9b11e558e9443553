"""How a web node serves: gunicorn's settings, in one place for every way of
deploying (deploy/, README), each one overridable from the environment.

    gunicorn -c python:referral.serving 'referral:create_app()'

Options given on gunicorn's command line still win over these.

The defaults were chosen by measuring the production shape side by side on
2 CPUs (`bench/soak.py --rate`, bench/README.md "Server settings"): the same
offered load, the same world, one setting changed at a time.
"""

from __future__ import annotations

import os


def _number(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Where to listen: BIND (host:port), else PORT on every interface (platforms
# that assign a port set PORT), else 8000.
bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT') or 8000}"

# Requests are short and CPU-bound (the database is near): sync workers, one
# per CPU. On 2 CPUs at the same offered load, 2 sync workers answered with
# p99 of 89-123 ms, 4 with 194-358 ms and 8 with 419 ms (their medians over
# the endpoints); more workers than CPUs only share the CPUs more finely, so
# every request in flight takes longer. A slow client is the load balancer's
# to hold, not a worker's. Where requests wait on something far (a remote
# database), WEB_WORKER_CLASS=gthread with WEB_THREADS=4 lets a worker answer
# others meanwhile (2 x 4 measured p99 of 93-222 ms here).
workers = _number("WEB_CONCURRENCY", os.cpu_count() or 1)
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
threads = _number("WEB_THREADS", 1)  # for WEB_WORKER_CLASS=gthread
keepalive = _number("WEB_KEEPALIVE_SECONDS", 5)  # gthread only: sync workers close

# A request that runs longer than this is killed and its worker replaced; the
# slowest page measured (the dashboard over a million referrals) takes about
# a second.
timeout = _number("WEB_TIMEOUT_SECONDS", 30)
graceful_timeout = _number("WEB_GRACEFUL_TIMEOUT_SECONDS", 30)

accesslog = os.environ.get("WEB_ACCESS_LOG", "-")  # "-": stdout


def post_worker_init(worker: object) -> None:
    """Each worker, once it has imported and created the app, before it takes
    a request: warmed up, then what it loaded frozen (referral/longlived.py)."""
    from flask import Flask

    from referral.longlived import prepare_worker

    app = getattr(worker, "wsgi", None)
    prepare_worker(app if isinstance(app, Flask) else None)
