"""`python -m referral ...` is the `referral` command."""

from referral.cli import main

main()
