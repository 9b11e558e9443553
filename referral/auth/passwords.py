"""argon2id password hashing, and which passwords are refused.

Passwords follow NIST SP 800-63B: at least 10 characters, up to 128, any
characters, no composition rules; but a password that is common or was
breached (zxcvbn's offline lists of common passwords, words and names, and its
estimate of how fast it falls to guessing), or that contains the account's
email name or business name, is refused, with the reason.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# zxcvbn's score from 0 to 4: 3 is "safely unguessable" (about 10^8 guesses and
# more), which offline lists of common and breached passwords do not reach.
MIN_PASSWORD_SCORE = 3
# zxcvbn's own limit (its matching grows fast with length): a longer password
# is judged by its first 72 characters.
ZXCVBN_MAX_LENGTH = 72
# Shorter parts (an email named "new" or "al") are too common to refuse passwords for.
MIN_PERSONAL_PART = 4


def password_problem(
    password: str, *, email: str = "", business_name: str = "", name: str = ""
) -> str | None:
    """Why `password` is refused, in words for the form; None when it is fine."""
    lowered = password.lower()
    local_part = email.split("@", 1)[0].strip().lower()
    if len(local_part) >= MIN_PERSONAL_PART and local_part in lowered:
        return "Do not use your email address in your password."
    business = business_name.strip().lower()
    if len(business) >= MIN_PERSONAL_PART and business in lowered:
        return "Do not use your business's name in your password."
    personal = [p for p in (local_part, business, *name.lower().split()) if p]
    # Imported here: its word lists cost every worker 12 MB, and only the
    # pages that set a password need them.
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=personal)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    warning = result["feedback"].get("warning") or "This password is too easy to guess."
    advice = "Choose a longer, less common password; a few unrelated words work well."
    return f"{warning.rstrip('.')}. {advice}"


_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
# Verified against when the email is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not-a-real-password-just-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
